"""Primitive encodings shared by every layer (spec: ``spec/overview.md`` "Primitive encodings").

* ``varint``: unsigned LEB128 -- seven bits per byte, least significant group
  first, high bit set on every byte but the last.  TensorFlow uses varint32
  (at most 5 bytes) inside SSTable blocks and varint64 (at most 10 bytes) in
  block handles and string-tensor lengths.
* ``fixed32`` / ``fixed64``: little-endian on every host (``tsl/platform/coding.cc``).

Decoders take a buffer and a position and return ``(value, new_position)``; a
truncated or over-long varint raises :class:`ValueError`, which callers turn into
a located :class:`tfckpt.errors.DataLossError` (this module knows no files).
"""

from __future__ import annotations

import struct

__all__ = [
    "encode_varint",
    "decode_varint",
    "decode_varint32",
    "decode_varint64",
    "varint_length",
    "FIXED32",
    "FIXED64",
    "encode_fixed32",
    "encode_fixed64",
]

FIXED32 = struct.Struct("<I")
FIXED64 = struct.Struct("<Q")


def encode_fixed32(value: int) -> bytes:
    return FIXED32.pack(value & 0xFFFFFFFF)


def encode_fixed64(value: int) -> bytes:
    return FIXED64.pack(value & 0xFFFFFFFFFFFFFFFF)


_ONE_BYTE = [bytes([i]) for i in range(0x80)]


def encode_varint(value: int) -> bytes:
    """LEB128 encoding of a non-negative integer below 2**64."""
    if 0 <= value < 0x80:  # the common case: one byte, from a table of them
        return _ONE_BYTE[value]
    if value < 0 or value >= 1 << 64:
        raise ValueError(f"varint out of range: {value}")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def varint_length(value: int) -> int:
    """Number of bytes :func:`encode_varint` produces for ``value``."""
    n = 1
    while value >= 0x80:
        value >>= 7
        n += 1
    return n


def decode_varint(buf, pos: int, limit: int, max_bytes: int) -> tuple[int, int]:
    """Decode one varint of at most ``max_bytes`` bytes from ``buf[pos:limit]``."""
    result = 0
    shift = 0
    end = min(limit, pos + max_bytes)
    while pos < end:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            if max_bytes == 5 and result > 0xFFFFFFFF:
                raise ValueError("varint32 overflows 32 bits")
            if result >= 1 << 64:
                raise ValueError("varint64 overflows 64 bits")
            return result, pos
        shift += 7
    if pos >= limit:
        raise ValueError("truncated varint")
    raise ValueError(f"varint longer than {max_bytes} bytes")


def decode_varint32(buf, pos: int, limit: int) -> tuple[int, int]:
    return decode_varint(buf, pos, limit, 5)


def decode_varint64(buf, pos: int, limit: int) -> tuple[int, int]:
    return decode_varint(buf, pos, limit, 10)
