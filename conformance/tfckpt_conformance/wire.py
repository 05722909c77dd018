"""A minimal protobuf wire-format decoder, so that the suite judges messages without the implementation's code.

Strategy
--------
The suite inspects a few TensorFlow messages that implementations hand back
or that fixtures carry (the ``TrackableObjectGraph`` string of an object-based
checkpoint, the ``MetaGraphDef`` of a ``.meta`` file).  Depending on the
reference's generated classes would let the reference judge itself, so this
module decodes the wire format directly and knows no schema: a message is a
list of :class:`Field` in the order the bytes hold them, and callers pick
fields by number.

The layout decoded (protobuf encoding, one record per field)::

    tag    varint   (field_number << 3) | wire_type
    value  wire_type 0: varint
           wire_type 1: 8 bytes, little-endian
           wire_type 2: varint length, then that many bytes
           wire_type 5: 4 bytes, little-endian

Groups (wire types 3 and 4) do not occur in these messages and are rejected.
Any malformed input raises :class:`WireError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["Field", "WireError", "decode", "fields", "first", "varint_to_int32"]


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


@dataclass(frozen=True)
class Field:
    number: int
    wire_type: int
    value: object  # int for wire types 0, 1, 5; bytes for wire type 2


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    for i in range(10):
        if pos + i >= len(buf):
            raise WireError(f"varint runs past the end at offset {pos}")
        byte = buf[pos + i]
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos + i + 1
        shift += 7
    raise WireError(f"varint longer than 10 bytes at offset {pos}")


def decode(buf: bytes) -> list[Field]:
    """Every field of the message ``buf``, in the order stored."""
    out: list[Field] = []
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire_type = tag >> 3, tag & 7
        if number == 0:
            raise WireError("field number 0")
        if wire_type == 0:
            value, pos = _varint(buf, pos)
        elif wire_type == 1:
            if pos + 8 > len(buf):
                raise WireError("fixed64 runs past the end")
            value, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        elif wire_type == 2:
            length, pos = _varint(buf, pos)
            if pos + length > len(buf):
                raise WireError(f"length-delimited field {number} runs past the end")
            value, pos = bytes(buf[pos:pos + length]), pos + length
        elif wire_type == 5:
            if pos + 4 > len(buf):
                raise WireError("fixed32 runs past the end")
            value, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        else:
            raise WireError(f"unsupported wire type {wire_type} for field {number}")
        out.append(Field(number, wire_type, value))
    return out


def fields(message: list[Field], number: int) -> list[Field]:
    return [f for f in message if f.number == number]


def first(message: list[Field], number: int, default=None):
    """The value of the last occurrence of a singular field (protobuf's rule), else ``default``."""
    found = fields(message, number)
    return found[-1].value if found else default


def varint_to_int32(value: int) -> int:
    """An ``int32`` field as decoded from its (sign-extended, 64-bit) varint."""
    value &= 0xFFFFFFFFFFFFFFFF
    return value - (1 << 64) if value >= 1 << 63 else value
