"""OrderedCode: the order-preserving encoding of slice keys (spec: ``spec/partitioned.md``).

Strategy
--------
A partitioned tensor stores each slice under a binary key built by
TensorFlow's ``checkpoint::EncodeTensorNameSlice``
(``tensorflow/core/util/saved_tensor_slice_util.cc``) from three OrderedCode
primitives (``tensorflow/core/lib/strings/ordered_code.cc``).  The encodings sort
bytewise in the order of the values they encode, which is why they were chosen;
we only need them to be exact.  Each encoder here has a decoder, used to list
and validate slice keys.

``write_num_increasing(v)`` (unsigned, 0 <= v < 2**64)::

    [L: 1 byte = number of bytes of v without leading zeros, 0..8][v big-endian, L bytes]
    0 -> 00      1 -> 01 01      256 -> 02 01 00

``write_signed_num_increasing(v)`` (signed 64-bit)::

    n bytes, n = 1..10, hold v when -2**(7n-1) <= v < 2**(7n-1).  The bytes are v in
    big-endian two's complement (sign-extended to n bytes) with the first n bits
    inverted: a run of n-1 bits equal to the sign bit, then one delimiter bit,
    is XORed into the top of the first two bytes.
    0 -> 80   1 -> 81   -1 -> 7f   63 -> bf   64 -> c0 40   -65 -> 3f bf   8192 -> e0 20 00

``write_string(s)``::

    every byte of s, with 00 written as 00 ff and ff written as ff 00, then 00 01
"""

from __future__ import annotations

__all__ = [
    "write_num_increasing",
    "read_num_increasing",
    "write_signed_num_increasing",
    "read_signed_num_increasing",
    "write_string",
    "read_string",
]

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1

# XOR masks for the first two bytes of an n-byte signed encoding, n = 0..10.
_HEADER_BITS = (
    (0x00, 0x00),
    (0x80, 0x00),
    (0xC0, 0x00),
    (0xE0, 0x00),
    (0xF0, 0x00),
    (0xF8, 0x00),
    (0xFC, 0x00),
    (0xFE, 0x00),
    (0xFF, 0x00),
    (0xFF, 0x80),
    (0xFF, 0xC0),
)


def write_num_increasing(value: int) -> bytes:
    if value < 0 or value >= 1 << 64:
        raise ValueError(f"unsigned value out of range: {value}")
    body = value.to_bytes(8, "big").lstrip(b"\x00")
    return bytes([len(body)]) + body


def read_num_increasing(buf: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(buf):
        raise ValueError("truncated number")
    length = buf[pos]
    if length > 8:
        raise ValueError(f"number length byte {length} exceeds 8")
    end = pos + 1 + length
    if end > len(buf):
        raise ValueError("truncated number")
    return int.from_bytes(buf[pos + 1 : end], "big"), end


def _signed_length(value: int) -> int:
    magnitude = ~value if value < 0 else value  # the bits that must fit besides the sign
    bits = magnitude.bit_length()
    # n bytes carry 7n - 1 payload bits (one header bit per byte, plus the sign).
    return max(1, -(-(bits + 1) // 7))


def write_signed_num_increasing(value: int) -> bytes:
    if value < _INT64_MIN or value > _INT64_MAX:
        raise ValueError(f"signed value out of int64 range: {value}")
    n = _signed_length(value)
    raw = bytearray((value & ((1 << (8 * n)) - 1)).to_bytes(n, "big"))
    raw[0] ^= _HEADER_BITS[n][0]
    if n > 1:
        raw[1] ^= _HEADER_BITS[n][1]
    return bytes(raw)


def _leading_ones(byte: int) -> int:
    count = 0
    mask = 0x80
    while mask and byte & mask:
        count += 1
        mask >>= 1
    return count


def read_signed_num_increasing(buf: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(buf):
        raise ValueError("truncated signed number")
    negative = not (buf[pos] & 0x80)
    flip = 0xFF if negative else 0x00
    n = _leading_ones(buf[pos] ^ flip)
    if n == 8:
        if pos + 1 >= len(buf):
            raise ValueError("truncated signed number")
        n += _leading_ones(buf[pos + 1] ^ flip)
        if n > 10:
            raise ValueError("signed number longer than 10 bytes")
    end = pos + n
    if end > len(buf):
        raise ValueError("truncated signed number")
    raw = bytearray(buf[pos:end])
    raw[0] ^= _HEADER_BITS[n][0]
    if n > 1:
        raw[1] ^= _HEADER_BITS[n][1]
    value = int.from_bytes(raw, "big", signed=True)
    if value < _INT64_MIN or value > _INT64_MAX:
        raise ValueError("signed number outside int64")
    if write_signed_num_increasing(value) != bytes(buf[pos:end]):
        raise ValueError("non-canonical signed number encoding")
    return value, end


def write_string(data: bytes) -> bytes:
    return _escape(data) + b"\x00\x01"


def _escape(data: bytes) -> bytes:
    out = bytearray()
    for byte in data:
        if byte == 0x00:
            out += b"\x00\xff"
        elif byte == 0xFF:
            out += b"\xff\x00"
        else:
            out.append(byte)
    return bytes(out)


def read_string(buf: bytes, pos: int) -> tuple[bytes, int]:
    out = bytearray()
    n = len(buf)
    while pos < n:
        byte = buf[pos]
        if byte == 0x00:
            if pos + 1 >= n:
                break
            nxt = buf[pos + 1]
            if nxt == 0x01:
                return bytes(out), pos + 2
            if nxt == 0xFF:
                out.append(0x00)
                pos += 2
                continue
            raise ValueError("invalid escape 00 %02x in string" % nxt)
        if byte == 0xFF:
            if pos + 1 >= n:
                break
            if buf[pos + 1] != 0x00:
                raise ValueError("invalid escape ff %02x in string" % buf[pos + 1])
            out.append(0xFF)
            pos += 2
            continue
        out.append(byte)
        pos += 1
    raise ValueError("unterminated string")
