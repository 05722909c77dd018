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

*DT_VARIANT* -- per element, a serialized ``VariantTensorDataProto``::

    [varint64 len] [len bytes of proto] [fixed32 masked crc]    ... for each element

  One running CRC covers the whole tensor: for each element it is extended
  with ``len`` as an *8-byte* integer and with the proto bytes; the element's
  checksum is ``mask`` of the running CRC at that point, and the running CRC
  then continues over those 4 stored bytes.  The entry's ``crc32c`` is
  ``mask`` of the final running CRC.

This module turns arrays into those bytes and back; it knows nothing of files
or index entries.  Decoders raise :class:`ValueError` with a precise reason and
the caller (the bundle reader) adds file, key and offset.
"""

from __future__ import annotations

from typing import Sequence

from .._lazy import numpy as np  # imported on first use: listing needs no numpy

from .. import checksums
from ..accel import speedups
from ..dtypes import DType
from ..encoding import FIXED32, decode_varint64, encode_varint

__all__ = [
    "encode_fixed_width",
    "decode_fixed_width",
    "encode_strings",
    "decode_strings",
    "decode_variants",
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


def encode_fixed_width(array: np.ndarray, dtype: DType) -> memoryview:
    """The data-file bytes of a fixed-width tensor -- little-endian, C order -- without copying when possible.

    A C-contiguous little-endian array is returned as a view of its own
    memory; anything else is converted once.
    """
    element = array.dtype
    if element.names:  # quantized types may arrive as one-field structured dtypes
        element = element.fields[element.names[0]][0]
    contiguous = array if array.flags.c_contiguous else np.ascontiguousarray(array).reshape(array.shape)
    raw = contiguous.reshape(-1).view(np.uint8)
    if dtype.swap_unit > 1 and _is_big_endian(element):
        raw = raw.view(f"u{dtype.swap_unit}").byteswap().view(np.uint8)
    return memoryview(raw)


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
    sizes = np.fromiter(map(len, elements), dtype=np.uint64, count=len(elements))
    if sizes.size and int(sizes.max()) > _U32_MAX:
        crc = 0
        for size in sizes.tolist():
            crc = checksums.extend(crc, _length_bytes(size, False))
    else:
        crc = checksums.crc32c(sizes.astype("<u4").tobytes())
    if not sizes.size or int(sizes.max()) < 0x80:
        lengths = sizes.astype(np.uint8).tobytes()  # every varint is one byte
    else:
        lengths = b"".join(encode_varint(size) for size in sizes.tolist())
    length_checksum = FIXED32.pack(checksums.mask(crc))
    crc = checksums.extend(crc, length_checksum)
    body = b"".join(elements)
    crc = checksums.extend(crc, body)
    return lengths + length_checksum + body, checksums.mask(crc)


def _decode_lengths(buffer: bytes, count: int) -> tuple[np.ndarray, int]:
    """The ``count`` varint64 lengths at the start of ``buffer``, and where they end.

    Vectorised: a varint ends at each byte below 0x80.  Anything unusual (a
    truncated or over-long varint) is handed to :func:`_decode_lengths_slowly`,
    which says precisely what is wrong.
    """
    head = np.frombuffer(buffer, dtype=np.uint8, count=min(len(buffer), 10 * count))
    ends = np.flatnonzero(head < 0x80)[:count]
    if len(ends) < count:
        return _decode_lengths_slowly(buffer, count)
    if count == 0:
        return np.zeros(0, np.uint64), 0
    if int(ends[-1]) == count - 1:  # every length is a single byte
        return head[:count].astype(np.uint64), count
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    widths = ends - starts + 1
    if int(widths.max()) > 9:  # 10-byte varints may overflow 64 bits: check them one by one
        return _decode_lengths_slowly(buffer, count)
    values = np.zeros(count, np.uint64)
    for k in range(int(widths.max())):
        has = widths > k
        values[has] |= (head[starts[has] + k] & 0x7F).astype(np.uint64) << np.uint64(7 * k)
    return values, int(ends[-1]) + 1


def _decode_lengths_slowly(buffer: bytes, count: int) -> tuple[np.ndarray, int]:
    lengths = []
    pos = 0
    for _ in range(count):
        try:
            length, pos = decode_varint64(buffer, pos, len(buffer))
        except ValueError as exc:
            raise StringLayoutError(f"string length {len(lengths)}: {exc}", position=pos) from None
        lengths.append(length)
    return np.array(lengths, dtype=np.uint64), pos


def _lengths_crc(lengths: np.ndarray, big_endian: bool) -> int:
    """CRC32C over the lengths as fixed-width integers (4 bytes; 8 above 2**32-1)."""
    if not lengths.size or int(lengths.max()) <= _U32_MAX:
        return checksums.crc32c(lengths.astype(">u4" if big_endian else "<u4").tobytes())
    crc = 0
    for length in lengths.tolist():
        crc = checksums.extend(crc, _length_bytes(length, big_endian))
    return crc


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
        # TensorFlow writes mask(crc of nothing) even here; an entry without it is corrupt.
        if verify and expected_masked_crc != checksums.mask(0):
            raise StringLayoutError("tensor checksum does not match", checksum=True, position=0)
        return []
    if num_elements > size:
        raise StringLayoutError(
            f"{num_elements} string lengths cannot fit in an entry of {size} bytes", position=0
        )
    fast = None if speedups is None else speedups.split_strings(buffer, num_elements, big_endian)
    if fast is not None:  # the C accelerator checked that the lengths fill the buffer exactly
        elements, pos, fixed_width = fast
        _check_string_crcs(buffer, pos, checksums.crc32c(fixed_width), big_endian, verify, expected_masked_crc)
        return elements
    lengths, pos = _decode_lengths(buffer, num_elements)
    total = sum(lengths.tolist())
    crc = _lengths_crc(lengths, big_endian)
    if pos + 4 > size:
        raise StringLayoutError("string lengths run past the end of the entry", position=pos)
    if pos + 4 + total != size:
        _check_string_crcs(buffer, pos, crc, big_endian, False, 0)  # a bad length checksum is reported first
        raise StringLayoutError(
            f"string lengths add up to {total} bytes but the entry holds {size - pos - 4} after them",
            position=pos + 4,
        )
    _check_string_crcs(buffer, pos, crc, big_endian, verify, expected_masked_crc)
    pos += 4
    bounds = np.empty(num_elements + 1, dtype=np.int64)
    bounds[0] = pos
    np.cumsum(lengths, out=bounds[1:], dtype=np.int64)
    bounds[1:] += pos
    edges = bounds.tolist()
    return [buffer[a:b] for a, b in zip(edges[:-1], edges[1:])]


def _check_string_crcs(buffer, pos: int, lengths_crc: int, big_endian: bool, verify: bool, expected: int) -> None:
    """The length checksum stored at ``pos`` (always), then the tensor's CRC (when ``verify``)."""
    stored = FIXED32.unpack_from(buffer, pos)[0]
    if big_endian:
        stored = int.from_bytes(stored.to_bytes(4, "little"), "big")
    if checksums.unmask(stored) != lengths_crc:
        raise StringLayoutError("string length checksum does not match", checksum=True, position=pos)
    if verify:
        crc = checksums.extend(lengths_crc, buffer[pos : pos + 4])
        crc = checksums.extend(crc, memoryview(buffer)[pos + 4 :])
        if checksums.mask(crc) != expected:
            raise StringLayoutError("tensor checksum does not match", checksum=True, position=0)


# ---------------------------------------------------------------- variants


def decode_variants(
    buffer: bytes,
    num_elements: int,
    *,
    big_endian: bool,
    verify: bool,
    expected_masked_crc: int,
) -> list[bytes]:
    """Split a variant tensor's bytes into its elements' serialized ``VariantTensorDataProto``s.

    Every element's checksum is checked (TensorFlow does so always); the entry
    CRC only when ``verify``.  The whole ``buffer`` must be consumed exactly.
    Raises :class:`StringLayoutError` (the layout is string-like).
    """
    size = len(buffer)
    if num_elements * 5 > size:  # each element takes at least a length byte and its checksum
        raise StringLayoutError(f"{num_elements} variant elements cannot fit in an entry of {size} bytes")
    order = "big" if big_endian else "little"
    crc, pos, elements = 0, 0, []
    for index in range(num_elements):
        try:
            length, start = decode_varint64(buffer, pos, size)
        except ValueError as exc:
            raise StringLayoutError(f"variant element {index}: {exc}", position=pos) from None
        end = start + length
        if end + 4 > size:
            raise StringLayoutError(f"variant element {index} ({length} bytes) runs past the end of the entry",
                                    position=start)
        crc = checksums.extend(crc, length.to_bytes(8, order))
        crc = checksums.extend(crc, buffer[start:end])
        stored = int.from_bytes(buffer[end:end + 4], order)
        if stored != checksums.mask(crc):
            raise StringLayoutError(f"the checksum after variant element {index} does not match", checksum=True,
                                    position=end)
        crc = checksums.extend(crc, buffer[end:end + 4])
        elements.append(buffer[start:end])
        pos = end + 4
    if pos != size:
        raise StringLayoutError(f"{size - pos} bytes left over after {num_elements} variant elements", position=pos)
    if verify and checksums.mask(crc) != expected_masked_crc:
        raise StringLayoutError("tensor checksum does not match", checksum=True, position=0)
    return elements
