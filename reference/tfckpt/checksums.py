"""CRC32C and TensorFlow's checksum masking (spec: ``spec/data-file.md``, ``CRC-*``).

TensorFlow checksums use CRC-32C (Castagnoli, reflected polynomial 0x82F63B78),
the same function as iSCSI and ext4; the computation is done by the ``crc32c``
package (hardware-accelerated where the CPU allows).

Stored checksums are *masked* so that a CRC computed over data that itself
contains CRCs does not degenerate (``tsl/lib/hash/crc32c.h``)::

    masked   = rotate_right(crc, 15) + 0xa282ead8      (mod 2**32)
    unmasked = rotate_left(masked - 0xa282ead8, 15)    (mod 2**32)

Both the SSTable block trailers and the tensor entries of a bundle use the
masked form.
"""

from __future__ import annotations

# The ``crc32c`` package's function is looked up on the first checksum, through
# ``_lazy.crc32c_function``: the package's own import pulls in ``importlib.metadata``
# (about 0.1 s of CPU), which ``tfckpt --help`` and ``tfckpt ls`` should not pay.
_impl = None


def _crc(data, crc: int = 0) -> int:
    global _impl
    if _impl is None:
        from ._lazy import crc32c_function

        _impl = crc32c_function()
    return _impl(data, crc)

__all__ = ["crc32c", "extend", "mask", "unmask", "MASK_DELTA", "masked_crc32c"]

#: The constant added by :func:`mask` (``kMaskDelta`` in TensorFlow).
MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF


def crc32c(data) -> int:
    """CRC-32C of a bytes-like object (unmasked)."""
    return _crc(data)


def extend(crc: int, data) -> int:
    """Continue the CRC-32C ``crc`` over ``data`` (``crc32c::Extend``)."""
    return _crc(data, crc)


def mask(crc: int) -> int:
    """TensorFlow's ``crc32c::Mask``: rotate right by 15 bits, add ``MASK_DELTA``."""
    crc &= _U32
    return ((((crc >> 15) | (crc << 17)) & _U32) + MASK_DELTA) & _U32


def unmask(masked: int) -> int:
    """Inverse of :func:`mask`."""
    rot = (masked - MASK_DELTA) & _U32
    return ((rot >> 17) | (rot << 15)) & _U32


def masked_crc32c(data) -> int:
    """``mask(crc32c(data))``."""
    return mask(_crc(data))
