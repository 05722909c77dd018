"""A ``BundleEntryProto`` as TensorFlow writes it, decoded and encoded without a protobuf message.

Strategy
--------
Listing a checkpoint of 100,000 variables asks, for each entry, only its
dtype and shape; reading a tensor adds its shard, offset, size and CRC.
Building a protobuf message per entry and then walking ``shape.dim`` costs
more than the rest of the listing together, so this module reads those
fields straight from the wire bytes -- but only for the *canonical* form
TensorFlow's ``BundleWriter`` (protobuf's serializer) produces: fields in
increasing number, each scalar at most once, varints of at most 10 bytes,
no unknown fields, no dim names, no ``unknown_rank``, no ``slices``.  For
anything else :func:`decode_entry_fields` returns None and the caller parses
the bytes with protobuf (the reference path), so every oddity -- repeated
fields, merged sub-messages, bad wire types, truncation -- gets exactly
protobuf's meaning and protobuf's error.  Equivalence of the two paths on
random and on canonical inputs is a property test
(``tests/test_entry_fields.py``).

Entry layout (wire bytes, all varints unless said; tags in hex)::

    08 dtype | 12 len TensorShapeProto | 18 shard_id | 20 offset | 28 size | 35 crc32c:fixed32 LE
    TensorShapeProto: (12 len Dim)*          Dim: 08 size

Writing is the mirror image: :func:`encode_entry_fields` produces exactly the
bytes protobuf's serializer gives for an entry without slices (proto3: zero
scalars are left out; the shape is always present, "12 00" for a scalar, and
a dim of size 0 is the empty message "12 00").  The writer uses it for every
tensor stored whole; a partitioned tensor's entry, with its slices, is still
built as a message.  Equality with ``SerializeToString`` is a property test
(``tests/bundle/test_entry_fields.py``).

Signed fields (``int32``/``int64``) are two's complement 64-bit on the wire;
a value that would be negative, or an ``int32`` that does not fit in 31 bits,
is left to protobuf too (the reader rejects negatives with its own message
either way).
"""

from __future__ import annotations

from typing import Optional

from ..accel import speedups
from ..encoding import encode_varint

__all__ = ["decode_entry_fields", "encode_entry_fields", "python_decode_entry_fields", "python_encode_entry_fields"]

_INT32_MAX = (1 << 31) - 1
_INT64_MAX = (1 << 63) - 1


def _varint(data: bytes, pos: int, end: int):
    """``(value, next_pos)``, or None when truncated or longer than 10 bytes."""
    result = 0
    shift = 0
    while pos < end and shift < 70:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
    return None


def decode_entry_fields(data: bytes) -> Optional[tuple]:
    """``(dtype, dims, shard_id, offset, size, crc32c)`` of a canonical entry, else None.

    Absent fields take their proto3 defaults (0, empty shape).  Single-byte
    varints (dtype, most dims, shard 0) are read inline; longer ones go
    through :func:`_varint`.
    """
    end = len(data)
    pos = 0
    values = [0, (), 0, 0, 0, 0]  # dtype, dims, shard_id, offset, size, crc32c
    last_field = 0
    while pos < end:
        tag = data[pos]
        pos += 1
        field = tag >> 3
        if field <= last_field or tag & 0x80:
            return None  # out of order, repeated, or a multi-byte tag: not canonical
        last_field = field
        if tag == 0x12:  # shape
            if pos < end and data[pos] < 0x80:
                length = data[pos]
                pos += 1
            else:
                got = _varint(data, pos, end)
                if got is None:
                    return None
                length, pos = got
            shape_end = pos + length
            if shape_end > end:
                return None
            dims = []
            while pos < shape_end:
                # Dim: 12 len [08 size]; a one-byte size is 12 02 08 xx
                if data[pos] != 0x12:
                    return None  # unknown_rank or an unknown field
                if pos + 3 < shape_end and data[pos + 1] == 2 and data[pos + 2] == 0x08 and data[pos + 3] < 0x80:
                    dims.append(data[pos + 3])
                    pos += 4
                    continue
                got = _varint(data, pos + 1, shape_end)
                if got is None:
                    return None
                dim_length, pos = got
                dim_end = pos + dim_length
                if dim_end > shape_end:
                    return None
                if dim_length == 0:
                    dims.append(0)
                    continue
                if data[pos] != 0x08:
                    return None
                got = _varint(data, pos + 1, dim_end)
                if got is None or got[1] != dim_end or got[0] > _INT64_MAX:
                    return None
                dims.append(got[0])
                pos = dim_end
            values[1] = tuple(dims)
            continue
        if tag == 0x35:  # crc32c, fixed32
            if pos + 4 > end:
                return None
            values[5] = int.from_bytes(data[pos : pos + 4], "little")
            pos += 4
            continue
        if field > 5 or tag & 7 or field == 2:
            return None  # slices, an unknown field, or a wire type TensorFlow never writes here
        if pos < end and data[pos] < 0x80:
            value = data[pos]
            pos += 1
        else:
            got = _varint(data, pos, end)
            if got is None:
                return None
            value, pos = got
            if value > (_INT64_MAX if field >= 4 else _INT32_MAX):
                return None
        values[field - 1] = value
    return tuple(values)


def encode_entry_fields(dtype: int, dims, shard_id: int, offset: int, size: int, crc32c: int) -> bytes:
    """The serialized ``BundleEntryProto`` of a tensor stored whole; every value non-negative."""
    shape = bytearray()
    for dim in dims:
        if dim:
            body = b"\x08" + encode_varint(dim)
            shape += b"\x12" + encode_varint(len(body)) + body
        else:
            shape += b"\x12\x00"  # Dim{size: 0} has no fields
    out = bytearray()
    if dtype:
        out += b"\x08" + encode_varint(dtype)
    out += b"\x12" + encode_varint(len(shape)) + shape
    for tag, value in ((b"\x18", shard_id), (b"\x20", offset), (b"\x28", size)):
        if value:
            out += tag + encode_varint(value)
    if crc32c:
        out += b"\x35" + crc32c.to_bytes(4, "little")
    return bytes(out)


#: The Python functions, whatever path runs (the accelerator's tests compare against them).
python_decode_entry_fields = decode_entry_fields
python_encode_entry_fields = encode_entry_fields
if speedups is not None:  # the same functions in C (tfckpt/_speedups.c), None in the same cases
    decode_entry_fields = speedups.entry_fields  # noqa: F811
    encode_entry_fields = speedups.encode_entry  # noqa: F811
