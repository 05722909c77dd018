"""Exact bytes: hand-derived tables and blocks, TensorFlow-written tables, separator keys.

Expected bytes here come from reasoning about the layout (derivations in the
comments) or from files TensorFlow 2.21 wrote (``data/tf-2.21.0``, made by
``data/make_tf_tables.py``) -- never from our own writer's output.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategies_table import EMPTY_BLOCK, MAGIC, masked_crc
from tfckpt.table import TableReader, TableWriter
from tfckpt.table.block import Block, BlockBuilder
from tfckpt.table.format import BlockHandle, Footer
from tfckpt.table.writer import find_short_successor, find_shortest_separator

DATA = Path(__file__).parent / "data" / "tf-2.21.0"


def write_table(items, **options) -> bytes:
    out = io.BytesIO()
    writer = TableWriter(out, **options)
    for key, value in items:
        writer.add(key, value)
    size = writer.finish()
    assert size == len(out.getvalue())
    return out.getvalue()


def tf_table(name: str) -> bytes:
    return zlib.decompress((DATA / (name + ".zlib")).read_bytes())


# The trailer of the empty block 00000000 01000000 stored raw: type 00, then
# mask(crc32c(00000000 01000000 00)) as fixed32 LE.  The constant is the one
# TensorFlow wrote after its metaindex in one.index (bytes 45..49 below).
EMPTY_BLOCK_TRAILER = bytes.fromhex("00c0f2a1b0")


def test_empty_block_trailer_is_the_masked_crc():
    assert EMPTY_BLOCK_TRAILER[1:] == masked_crc(EMPTY_BLOCK + b"\x00").to_bytes(4, "little")


def test_empty_table_bytes():
    # No entries, so no data block.
    #   0: metaindex block   00000000 01000000      (no entries; restart [0]; count 1)
    #   8: its trailer       00 c0f2a1b0
    #  13: index block       00000000 01000000      (no data blocks, so no entries)
    #  21: its trailer       00 c0f2a1b0
    #  26: footer            00 08 (metaindex: offset 0, size 8)  0d 08 (index: offset 13, size 8)
    #                        36 zero bytes (padding to 40)  57fb808b247547db
    #  74 bytes in all.
    expected = (
        EMPTY_BLOCK + EMPTY_BLOCK_TRAILER
        + EMPTY_BLOCK + EMPTY_BLOCK_TRAILER
        + bytes.fromhex("0008 0d08") + bytes(36) + MAGIC
    )
    assert len(expected) == 74
    assert write_table([]) == expected
    reader = TableReader(expected)
    assert list(reader.items()) == []
    assert reader.first() is None
    assert reader.get(b"") is None
    assert reader.num_data_blocks == 0
    assert reader.file_size == 74


def test_one_entry_table_bytes():
    # key "k", value "v".
    #   0: data block  00 01 01 6b 76      shared 0, non_shared 1, value_len 1, "k", "v"
    #                  00000000 01000000   restart [0], count 1          -> 13 bytes
    #  13: trailer     00 + mask(crc32c(block || 00))
    #  18: metaindex   00000000 01000000 + 00 c0f2a1b0
    #  31: index block 00 01 02 6c 00 0d   key "l" = successor("k"), value = handle(0, 13)
    #                  00000000 01000000                                  -> 14 bytes
    #  45: trailer
    #  50: footer      12 08 (18, 8)  1f 0e (31, 14)  + 36 zero bytes + magic  -> 98 bytes
    data_block = bytes.fromhex("0001016b76 00000000 01000000")
    index_block = bytes.fromhex("0001026c000d 00000000 01000000")
    expected = (
        data_block + b"\x00" + masked_crc(data_block + b"\x00").to_bytes(4, "little")
        + EMPTY_BLOCK + EMPTY_BLOCK_TRAILER
        + index_block + b"\x00" + masked_crc(index_block + b"\x00").to_bytes(4, "little")
        + bytes.fromhex("1208 1f0e") + bytes(36) + MAGIC
    )
    assert len(expected) == 98
    assert write_table([(b"k", b"v")]) == expected
    reader = TableReader(expected)
    assert list(reader.items()) == [(b"k", b"v")]
    assert reader.get(b"k") == b"v"
    assert reader.get(b"l") is None and reader.get(b"j") is None
    assert reader.first() == (b"k", b"v")


# one.index, written by TensorFlow 2.21 (SaveV2 of one float32 scalar "x" = 1.0):
#   0: data block: 00 00 06 | 08011a020801             key "" -> BundleHeaderProto{num_shards 1, version{producer 1}}
#                  00 01 0b 78 | 0801120028043581a5da2b key "x" -> BundleEntryProto{dtype 1, shape {}, size 4, crc32c}
#                  00000000 01000000                    restart [0], count 1             (32 bytes)
#  32: trailer 00 385adf39
#  37: metaindex 00000000 01000000, trailer 00 c0f2a1b0
#  50: index block: 00 01 02 79 0020 (key "y" = successor("x"), handle (0, 32)), restarts (14 bytes)
#  64: trailer 00 c24c0642
#  69: footer 25 08 (37, 8) 32 0e (50, 14), padding, magic                                  (117 bytes)
ONE_INDEX = bytes.fromhex(
    "00000608011a02080100010b780801120028043581a5da2b0000000001000000"
    "00385adf39000000000100000000c0f2a1b0000102790020000000000100000000c24c0642"
    "2508320e" + "00" * 36 + "57fb808b247547db"
)
ONE_INDEX_ITEMS = [
    (b"", bytes.fromhex("08011a020801")),
    (b"x", bytes.fromhex("0801120028043581a5da2b")),
]


def test_tensorflow_one_index():
    assert tf_table("one.index") == ONE_INDEX
    reader = TableReader(ONE_INDEX)
    assert list(reader.items()) == ONE_INDEX_ITEMS
    assert reader.get(b"") == ONE_INDEX_ITEMS[0][1]
    assert write_table(ONE_INDEX_ITEMS) == ONE_INDEX


def test_tensorflow_multiblock_layout():
    # 1500 keys "%05d" + 400 "x", each value a ~10-byte BundleEntryProto, plus the header.
    # Keys share at most 4 bytes, so an entry is about 3 + 401 + value bytes; blocks close
    # once they reach 262144 bytes, so the index has three entries.
    reader = TableReader(tf_table("multiblock.index"))
    assert reader.num_data_blocks == 3
    assert [h.size >= 262144 for h in reader.data_block_handles] == [True, True, False]
    keys = [k for k, _ in reader.items()]
    assert keys == [b""] + [b"%05d" % i + b"x" * 400 for i in range(1500)]


def test_tensorflow_oversized_value_gets_its_own_block():
    # V1 table: "" (meta), then "a", "b", "c" slice keys; b's value holds 200000 float32
    # zeros (> 2 * 262144 bytes), so TensorFlow flushes the block holding "" and "a"
    # BEFORE adding b, and b's block is flushed right after it.
    reader = TableReader(tf_table("v1_oversized"))
    sizes = [h.size for h in reader.data_block_handles]
    assert len(sizes) == 3 and sizes[1] > 2 * 262144 and sizes[0] < 1000 and sizes[2] < 1000


def test_block_builder_bytes():
    # restart interval 2: ("apple","1"), ("apply","2"), ("banana","3")
    #   0: 00 05 01 "apple" "1"          restart entry, 9 bytes
    #   9: 04 01 01 "y" "2"              shares "appl", 5 bytes
    #  14: 00 06 01 "banana" "3"         third entry: counter reached 2 -> restart, 10 bytes
    #  24: 00000000 0e000000 02000000    restarts [0, 14], count 2
    builder = BlockBuilder(2)
    for key, value in [(b"apple", b"1"), (b"apply", b"2"), (b"banana", b"3")]:
        builder.add(key, value)
    assert builder.current_size_estimate() == 24 + 2 * 4 + 4
    expected = (
        bytes.fromhex("000501") + b"apple1" + bytes.fromhex("040101") + b"y2"
        + bytes.fromhex("000601") + b"banana3" + bytes.fromhex("00000000 0e000000 02000000")
    )
    assert builder.finish() == expected
    block = Block(expected)
    assert list(block) == [(b"apple", b"1"), (b"apply", b"2"), (b"banana", b"3")]
    assert list(block.seek(b"applz")) == [(b"banana", b"3")]
    assert block.get(b"apply") == b"2" and block.get(b"b") is None


def test_varint_lengths_in_entries():
    # A 200-byte key and a 300-byte value need two-byte varints: c8 01 and ac 02.
    builder = BlockBuilder(16)
    builder.add(b"k" * 200, b"v" * 300)
    block = builder.finish()
    assert block[:5] == bytes.fromhex("00c801ac02")
    assert list(Block(block)) == [(b"k" * 200, b"v" * 300)]


def test_handle_and_footer_encoding():
    # varint64: 300 -> ac 02; 2**35 -> 80 80 80 80 80 01
    assert BlockHandle(300, 2**35).encode() == bytes.fromhex("ac02 808080808001")
    assert BlockHandle.decode(bytes.fromhex("ac02 808080808001 ff"))[0] == BlockHandle(300, 2**35)
    footer = Footer(BlockHandle(1, 2), BlockHandle(300, 4)).encode()
    assert footer == bytes.fromhex("0102 ac0204") + bytes(35) + MAGIC
    assert Footer.decode(footer) == Footer(BlockHandle(1, 2), BlockHandle(300, 4))


@pytest.mark.parametrize(
    "start, limit, expected",
    [
        (b"abc", b"abe", b"abd"),  # c+1 = d < e: shorten to the incremented byte
        (b"abcxyz", b"abezzz", b"abd"),
        (b"the quick brown fox", b"the who", b"the r"),
        (b"abc", b"abd", b"abc"),  # c+1 = d is not < d: unchanged
        (b"ab", b"abc", b"ab"),  # prefix: unchanged
        (b"", b"a", b""),
        (b"a\xff", b"b", b"a\xff"),  # a+1 = b not < b
        (b"\x00", b"\x02", b"\x01"),
        (b"\x01zzz", b"\x03", b"\x02"),
        (b"\xff\x01", b"\xff\x05", b"\xff\x02"),
        (b"\xfe\x00", b"\xff", b"\xfe\x00"),  # fe+1 = ff not < ff
        (b"\x7f", b"\x81", b"\x80"),  # bytes compare unsigned
    ],
)
def test_find_shortest_separator(start, limit, expected):
    assert find_shortest_separator(start, limit) == expected


@pytest.mark.parametrize(
    "key, expected",
    [
        (b"abc", b"b"),
        (b"\xff\xffa", b"\xff\xffb"),
        (b"\xfe\xff\xff\x01", b"\xff"),
        (b"\xff\xff", b"\xff\xff"),  # all 0xff: unchanged
        (b"", b""),
        (b"\x00\x00", b"\x01"),
    ],
)
def test_find_short_successor(key, expected):
    assert find_short_successor(key) == expected


@given(st.binary(max_size=12), st.binary(max_size=12))
def test_separator_lies_between(a, b):
    if a == b:
        return
    start, limit = min(a, b), max(a, b)
    separator = find_shortest_separator(start, limit)
    assert start <= separator < limit
    assert len(separator) <= len(start)


@given(st.binary(max_size=12))
def test_successor_is_not_smaller(key):
    successor = find_short_successor(key)
    assert successor >= key and len(successor) <= len(key)
