"""How one tensor's values are laid out in a ``.data`` file (spec: ``spec/data-file.md``).

Strategy
--------
A bundle entry points at ``size`` bytes at ``offset`` of a data file and
carries the masked CRC32C of exactly those bytes.  What the bytes mean depends
on the dtype (``tensorflow/core/util/tensor_bundle/tensor_bundle.cc``,
``WriteTensor`` / ``WriteStringTensor`` / ``ReadStringTensor``):

*Fixed-width ("memcpy") types* -- the elements' bytes in C order, in the byte
order of the writing host (the header's ``endianness``); nothing else::

    size == num_elements * itemsize

*DT_STRING* -- N element lengths, a checksum of the lengths, then the bytes::

    [varint64 len_0] ... [varint64 len_N-1] [fixed32 masked length-crc] [bytes_0] ... [bytes_N-1]

  The length checksum is ``mask(crc)`` where ``crc`` runs over each length
  written as a *4-byte* little-endian integer (8 bytes only for a length over
  2**32-1) -- not over the varints.  The entry's ``crc32c`` continues that same
  running CRC over the 4 raw checksum bytes and then over the string bytes.
  A zero-element string tensor is therefore 4 bytes: ``mask(0)``, ``d8 ea 82 a2``.

This module turns arrays into those bytes and back; it knows nothing of files
or index entries.  Decoders raise :class:`ValueError` with a precise reason and
the caller (the bundle reader) adds file, key and offset.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import checksums
from ..dtypes import DType
from ..encoding import FIXED32, decode_varint64, encode_varint

__all__ = [
    "encode_fixed_width",
    "decode_fixed_width",
    "encode_strings",
    "decode_strings",
    "StringLayoutError",
]

_U32_MAX = 0xFFFFFFFF


class StringLayoutError(ValueError):
    """A string tensor's bytes are inconsistent; ``checksum`` tells if a CRC failed."""

    def __init__(self, message: str, *, checksum: bool = False, position: int = 0) -> None:
        super().__init__(message)
        self.checksum = checksum
        self.position = position


# ---------------------------------------------------------------- fixed width


def encode_fixed_width(array: np.ndarray, dtype: DType) -> bytes:
    """The data-file bytes of a fixed-width tensor: little-endian, C order."""
    contiguous = np.ascontiguousarray(array)
    element = contiguous.dtype
    if element.names:  # quantized types are one-field structured dtypes
        element = element.fields[element.names[0]][0]
    raw = contiguous.view(np.uint8)
    if dtype.swap_unit > 1 and _is_big_endian(element):
        raw = raw.view(f"u{dtype.swap_unit}").byteswap().view(np.uint8)
    return raw.tobytes()


def _is_big_endian(element: np.dtype) -> bool:
    return element.byteorder == ">" or (element.byteorder == "=" and not np.little_endian)


def decode_fixed_width(buffer, dtype: DType, shape: Sequence[int], *, big_endian: bool) -> np.ndarray:
    """An array of ``dtype`` and ``shape`` over ``buffer`` (a writable bytes-like object)."""
    raw = np.frombuffer(buffer, dtype=np.uint8)
    if big_endian and dtype.swap_unit > 1:
        raw = raw.view(f"u{dtype.swap_unit}").byteswap().view(np.uint8)
    return raw.view(dtype.numpy_dtype).reshape(tuple(shape))


# -------------------------------------------------------------------- strings


def _length_bytes(length: int, big_endian: bool) -> bytes:
    """A length as the CRC of a string tensor sees it: 4 bytes, or 8 above 2**32-1."""
    width = 4 if length <= _U32_MAX else 8
    return length.to_bytes(width, "big" if big_endian else "little")


def encode_strings(elements: Sequence[bytes]) -> tuple[bytes, int]:
    """The data-file bytes of a string tensor and the masked CRC32C its entry stores."""
    crc = 0
    lengths = bytearray()
    for element in elements:
        lengths += encode_varint(len(element))
        crc = checksums.extend(crc, _length_bytes(len(element), False))
    length_checksum = FIXED32.pack(checksums.mask(crc))
    crc = checksums.extend(crc, length_checksum)
    body = b"".join(elements)
    crc = checksums.extend(crc, body)
    return bytes(lengths) + length_checksum + body, checksums.mask(crc)


def decode_strings(
    buffer: bytes,
    num_elements: int,
    *,
    big_endian: bool,
    verify: bool,
    expected_masked_crc: int,
) -> list[bytes]:
    """Parse a string tensor's bytes; the whole ``buffer`` must be consumed exactly.

    The length checksum is always checked (as TensorFlow does); the entry CRC
    only when ``verify``.  Raises :class:`StringLayoutError`.
    """
    size = len(buffer)
    if size == 0 and num_elements == 0:
        return []
    if num_elements > size:
        raise StringLayoutError(
            f"{num_elements} string lengths cannot fit in an entry of {size} bytes", position=0
        )
    lengths = []
    crc = 0
    pos = 0
    total = 0
    for _ in range(num_elements):
        try:
            length, pos = decode_varint64(buffer, pos, size)
        except ValueError as exc:
            raise StringLayoutError(f"string length {len(lengths)}: {exc}", position=pos) from None
        lengths.append(length)
        total += length
        crc = checksums.extend(crc, _length_bytes(length, big_endian))
    if pos + 4 > size:
        raise StringLayoutError("string lengths run past the end of the entry", position=pos)
    stored = FIXED32.unpack_from(buffer, pos)[0]
    if big_endian:
        stored = int.from_bytes(stored.to_bytes(4, "little"), "big")
    if checksums.unmask(stored) != crc:
        raise StringLayoutError("string length checksum does not match", checksum=True, position=pos)
    crc = checksums.extend(crc, buffer[pos : pos + 4])
    pos += 4
    if pos + total != size:
        raise StringLayoutError(
            f"string lengths add up to {total} bytes but the entry holds {size - pos} after them",
            position=pos,
        )
    out = []
    view = memoryview(buffer)
    for length in lengths:
        out.append(bytes(view[pos : pos + length]))
        pos += length
    if verify:
        crc = checksums.extend(crc, view[size - total : size])
        if checksums.mask(crc) != expected_masked_crc:
            raise StringLayoutError("tensor checksum does not match", checksum=True, position=0)
    return out

