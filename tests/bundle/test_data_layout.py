"""Data-file encodings of single tensors, derived by hand from the layout (spec: data-file.md)."""

import struct

import crc32c
import numpy as np
import pytest

from tfckpt import checksums
from tfckpt.bundle import data_layout
from tfckpt.dtypes import as_dtype


def test_crc32c_and_mask_constants():
    assert checksums.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert checksums.mask(0) == 0xA282EAD8
    for value in (0, 1, 0xFFFFFFFF, 0x12345678):
        assert checksums.unmask(checksums.mask(value)) == value


def test_string_layout_by_hand():
    # ["ab", "c"]: varint lengths, then mask(crc over lengths as 4-byte LE ints), then the bytes.
    lengths_crc = crc32c.crc32c(struct.pack("<II", 2, 1))
    length_checksum = struct.pack("<I", checksums.mask(lengths_crc))
    expected = b"\x02\x01" + length_checksum + b"abc"
    entry_crc = checksums.mask(crc32c.crc32c(b"abc", crc32c.crc32c(length_checksum, lengths_crc)))
    assert data_layout.encode_strings([b"ab", b"c"]) == (expected, entry_crc)
    assert data_layout.decode_strings(expected, 2, big_endian=False, verify=True, expected_masked_crc=entry_crc) == [
        b"ab",
        b"c",
    ]


def test_zero_element_string_tensor_is_the_masked_crc_of_nothing():
    payload, crc = data_layout.encode_strings([])
    assert payload == bytes.fromhex("d8ea82a2")
    assert crc == checksums.mask(crc32c.crc32c(payload))


def test_zero_element_string_tensor_stored_as_no_bytes():
    # STR-6: size 0 is read as the empty tensor, its crc32c checked as mask(0) (DATA-8)
    assert data_layout.decode_strings(b"", 0, big_endian=False, verify=True, expected_masked_crc=checksums.mask(0)) == []
    with pytest.raises(data_layout.StringLayoutError, match="checksum"):
        data_layout.decode_strings(b"", 0, big_endian=False, verify=True, expected_masked_crc=0)


@pytest.mark.parametrize("count", [1, 2])
def test_string_length_varint_longer_than_10_bytes(count):
    # PRIM-2: 16383 (ff 7f) padded to 11 bytes; the checksums, which do not cover the varints, stay right
    payload, crc = data_layout.encode_strings([b"x" * 16383] + [b"y"] * (count - 1))
    overlong = b"\xff\xff" + b"\x80" * 8 + b"\x00" + payload[2:]
    with pytest.raises(data_layout.StringLayoutError, match="longer than 10 bytes"):
        data_layout.decode_strings(overlong, count, big_endian=False, verify=True, expected_masked_crc=crc)


def test_long_string_length_is_a_multibyte_varint():
    payload, _ = data_layout.encode_strings([b"x" * 16384])
    assert payload[:3] == b"\x80\x80\x01"


@pytest.mark.parametrize(
    "dtype, values, expected",
    [
        ("float32", np.array([1.0, 2.0], np.float32), "0000803f00000040"),
        ("bool", np.array([True, False]), "0100"),
        ("complex64", np.array([1 + 2j], np.complex64), "0000803f00000040"),
        ("float32", np.array([1.0], ">f4"), "0000803f"),  # big-endian input is stored little-endian
    ],
)
def test_fixed_width_layout(dtype, values, expected):
    assert data_layout.encode_fixed_width(values, as_dtype(dtype)).hex() == expected


def test_big_endian_decode_swaps_each_unit():
    raw = bytearray(bytes.fromhex("3f8000004000000000000000"))  # BE float32 1.0, 2.0 | complex64 parts
    out = data_layout.decode_fixed_width(raw[:8], as_dtype("float32"), (2,), big_endian=True)
    assert out.tolist() == [1.0, 2.0]
    c = data_layout.decode_fixed_width(bytearray(bytes.fromhex("3f80000040000000")), as_dtype("complex64"), (1,), big_endian=True)
    assert c.tolist() == [1 + 2j]
