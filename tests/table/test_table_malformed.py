"""Malformed tables: each specific fault is a DataLossError; any mutation is accepted or a CheckpointError.

Faulty tables are made two ways: by damaging a table our writer produced, and
with the test-only forge in ``strategies_table`` that writes well-checksummed
blocks breaking a rule, so that the check for that rule (not the CRC) fires.
"""

from __future__ import annotations

import io
import struct
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strategies_table import (
    EMPTY_BLOCK,
    MAGIC,
    forge_block,
    forge_entry,
    forge_table,
    sorted_items,
    trailer,
    varint,
    writer_options,
)
from tfckpt.errors import CheckpointError, DataLossError
from tfckpt.table import TableReader, TableWriter


def write_table(items, **options) -> bytes:
    out = io.BytesIO()
    writer = TableWriter(out, **options)
    for key, value in items:
        writer.add(key, value)
    writer.finish()
    return out.getvalue()


ITEMS = [(b"key%03d" % i, b"value %d" % i * 3) for i in range(60)]
TABLE = write_table(ITEMS, block_size=200, restart_interval=4)
LAYOUT = TableReader(TABLE)
assert LAYOUT.num_data_blocks >= 3


def read_all(data, name="t.index"):
    """Open and use every read path; returns the items."""
    reader = TableReader(data, name=name)
    items = list(reader.items())
    for key, _ in items[:3]:
        reader.get(key)
    return items


def flip(data: bytes, offset: int, bit: int = 0) -> bytes:
    mutable = bytearray(data)
    mutable[offset] ^= 1 << bit
    return bytes(mutable)


def with_block(data: bytes, handle, new_contents: bytes, block_type: int | None = None) -> bytes:
    """Replace a block's stored bytes in place (same size) and recompute its trailer."""
    assert len(new_contents) == handle.size
    if block_type is None:
        block_type = data[handle.offset + handle.size]
    end = handle.offset + handle.size + 5
    return data[: handle.offset] + new_contents + trailer(new_contents, block_type) + data[end:]


# -- the file as a whole ----------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 20, 47])
def test_too_short(size):
    with pytest.raises(DataLossError, match="too short") as info:
        TableReader(TABLE[-size:] if size else b"", name="short.index")
    assert info.value.file == "short.index"


@pytest.mark.parametrize("cut", [1, 5, 48, 100, len(TABLE) // 2])
def test_truncated(cut):
    with pytest.raises(DataLossError):
        read_all(TABLE[:-cut])


def test_truncated_file_on_disk(tmp_path):
    path = tmp_path / "cut.index"
    path.write_bytes(TABLE[: len(TABLE) - 7])
    with pytest.raises(DataLossError) as info:
        TableReader(path)
    assert info.value.file == str(path)


def test_bad_magic():
    with pytest.raises(DataLossError, match=r"not an SSTable \(bad magic number\)") as info:
        TableReader(flip(TABLE, len(TABLE) - 1), name="x.index")
    assert info.value.offset == len(TABLE) - 48
    assert "x.index" in str(info.value)


def test_git_lfs_pointer():
    pointer = (
        b"version https://git-lfs.github.com/spec/v1\n"
        b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
        b"size 12345\n"
    )
    with pytest.raises(DataLossError, match="Git LFS pointer") as info:
        TableReader(pointer, name="model.index")
    assert "bad magic number" in str(info.value)


def test_plain_garbage_is_not_an_sstable():
    with pytest.raises(DataLossError, match="bad magic") as info:
        TableReader(bytes(range(256)))
    assert "LFS" not in str(info.value)


# -- checksums, block by block --------------------------------------------------


def test_flipped_bit_in_data_block():
    handle = LAYOUT.data_block_handles[1]
    damaged = flip(TABLE, handle.offset + 3, 5)
    reader = TableReader(damaged, name="d.index")  # the footer, index and metaindex are intact
    assert reader.get(ITEMS[0][0]) == ITEMS[0][1]  # block 0 is fine
    key_in_block_1 = next(k for k, _ in ITEMS if k > reader.index_keys[0])
    with pytest.raises(DataLossError, match="checksum mismatch") as info:
        reader.get(key_in_block_1)
    assert (info.value.file, info.value.offset, info.value.key) == ("d.index", handle.offset, key_in_block_1)
    with pytest.raises(DataLossError, match="checksum mismatch"):
        list(reader.items())


def test_flipped_bit_in_block_trailer():
    handle = LAYOUT.data_block_handles[0]
    with pytest.raises(DataLossError, match="checksum mismatch"):
        read_all(flip(TABLE, handle.offset + handle.size + 2))


def test_flipped_bit_in_index_block():
    handle = LAYOUT.index_handle
    with pytest.raises(DataLossError, match="index block: block checksum mismatch") as info:
        TableReader(flip(TABLE, handle.offset + 1))
    assert info.value.offset == handle.offset


def test_flipped_bit_in_metaindex_block():
    handle = LAYOUT.metaindex_handle
    with pytest.raises(DataLossError, match="metaindex block: block checksum mismatch"):
        TableReader(flip(TABLE, handle.offset + 4))


FOOTER_HANDLE_BYTES = len(LAYOUT.metaindex_handle.encode() + LAYOUT.index_handle.encode())


@pytest.mark.parametrize("byte", range(FOOTER_HANDLE_BYTES))
@pytest.mark.parametrize("bit", range(7))
def test_flipped_bit_in_footer_handles(byte, bit):
    # Bits 0..6 change a handle's value.  (Setting bit 7 of the last handle byte can
    # turn it into a non-canonical varint ending in a padding zero -- the same value.)
    with pytest.raises(DataLossError):
        TableReader(flip(TABLE, len(TABLE) - 48 + byte, bit))


# -- well-checksummed blocks that break a rule -----------------------------------


def test_bad_block_type_with_valid_crc():
    handle = LAYOUT.data_block_handles[0]
    contents = TABLE[handle.offset : handle.offset + handle.size]
    damaged = with_block(TABLE, handle, contents, block_type=2)
    with pytest.raises(DataLossError, match="bad block type 2"):
        read_all(damaged)


def test_bad_index_block_type_with_valid_crc():
    handle = LAYOUT.index_handle
    contents = TABLE[handle.offset : handle.offset + handle.size]
    with pytest.raises(DataLossError, match="bad block type 7"):
        TableReader(with_block(TABLE, handle, contents, block_type=7))


def test_handle_past_end_of_file():
    data = forge_table([], [], index_block=forge_block([(b"a", varint(10**6) + varint(10))], 1))
    with pytest.raises(DataLossError, match="runs past") as info:
        TableReader(data)
    assert info.value.key == b"a"


def test_huge_handle_is_rejected_before_reading():
    data = forge_table([], [], index_block=forge_block([(b"a", varint(2**63) + varint(2**64 - 1))], 1))
    with pytest.raises(DataLossError, match="runs past"):
        TableReader(data)


def test_footer_index_handle_past_end():
    data = forge_table([forge_block([(b"a", b"1")])], [b"b"])
    body = data[:-48]  # data block 0..18, metaindex 18..31, index 31..50
    handles = varint(18) + varint(8) + varint(len(body) + 100) + varint(14)
    with pytest.raises(DataLossError, match="runs past"):
        TableReader(body + handles + bytes(40 - len(handles)) + MAGIC)


def test_bad_handle_encoding_in_index():
    data = forge_table([], [], index_block=forge_block([(b"a", b"\x80\x80")], 1))
    with pytest.raises(DataLossError, match="bad block handle"):
        TableReader(data)


def test_unsorted_keys_in_block():
    data = forge_table([forge_block([(b"b", b"1"), (b"a", b"2")])], [b"c"])
    with pytest.raises(DataLossError, match="out of order") as info:
        read_all(data)
    assert info.value.key == b"a"


def test_duplicate_keys_in_block():
    data = forge_table([forge_block([(b"a", b"1"), (b"a", b"2")])], [b"b"])
    with pytest.raises(DataLossError, match="duplicate key"):
        read_all(data)


def test_unsorted_keys_across_blocks():
    data = forge_table([forge_block([(b"c", b"")]), forge_block([(b"a", b"")])], [b"c", b"d"])
    with pytest.raises(DataLossError, match="out of order across blocks"):
        read_all(data)


def test_duplicate_keys_across_blocks():
    data = forge_table([forge_block([(b"a", b"")]), forge_block([(b"a", b"")])], [b"a", b"b"])
    with pytest.raises(DataLossError, match="across blocks"):
        read_all(data)


def test_key_above_its_index_separator():
    data = forge_table([forge_block([(b"a", b""), (b"z", b"")])], [b"b"])
    with pytest.raises(DataLossError, match="outside the range"):
        read_all(data)


def test_index_keys_out_of_order():
    blocks = [forge_block([(b"a", b"")]), forge_block([(b"c", b"")])]
    with pytest.raises(DataLossError, match="out of order"):
        TableReader(forge_table(blocks, [b"d", b"b"]))


def test_restart_count_too_large():
    block = forge_block([(b"a", b"1")], count=1000)
    with pytest.raises(DataLossError, match="restart count 1000"):
        read_all(forge_table([block], [b"b"]))


def test_restart_count_too_large_in_index():
    index = forge_block([], count=3)
    with pytest.raises(DataLossError, match="restart count 3"):
        TableReader(forge_table([], [], index_block=index))


def test_restart_offset_inside_an_entry():
    block = forge_block([(b"a", b"1"), (b"b", b"2")], restarts=[0, 2])
    with pytest.raises(DataLossError, match="restart point"):
        read_all(forge_table([block], [b"c"]))


def test_first_restart_not_at_zero():
    block = forge_block([(b"a", b"1"), (b"b", b"2")], restarts=[5])
    with pytest.raises(DataLossError, match="first restart point"):
        read_all(forge_table([block], [b"c"]))


def test_block_too_short_for_its_restart_count():
    with pytest.raises(DataLossError, match="too short"):
        read_all(forge_table([b"\x01\x00"], [b"a"]))


def test_entries_with_zero_restarts():
    block = forge_entry(0, b"a", b"1") + struct.pack("<I", 0)
    with pytest.raises(DataLossError, match="no restart points"):
        read_all(forge_table([block], [b"b"]))


def test_entry_overruns_block():
    # second entry: shared 0, non_shared 1, value_len 127, "b", but only 10 value bytes follow
    body = forge_entry(0, b"a", b"1") + bytes.fromhex("00017f") + b"b" + b"x" * 10
    block = body + struct.pack("<II", 0, 1)
    with pytest.raises(DataLossError, match="entry needs"):
        read_all(forge_table([block], [b"c"]))


def test_truncated_varint_in_entry():
    block = forge_entry(0, b"a", b"1") + b"\x00\x80" + struct.pack("<II", 0, 1)
    with pytest.raises(DataLossError, match="bad entry"):
        read_all(forge_table([block], [b"c"]))


def test_overlong_varint32_in_entry():
    # PRIM-2: value_len 1 written in 6 bytes (81 80 80 80 80 00); a varint32 has at most 5
    block = forge_entry(0, b"a", b"1") + b"\x00\x01\x81\x80\x80\x80\x80\x00" + b"b2" + struct.pack("<II", 0, 1)
    with pytest.raises(DataLossError, match="longer than 5 bytes"):
        read_all(forge_table([block], [b"c"]))


def test_shared_longer_than_previous_key():
    block = forge_entry(0, b"a", b"1") + forge_entry(3, b"b", b"2") + struct.pack("<II", 0, 1)
    with pytest.raises(DataLossError, match="shares 3 bytes with a previous key of 1"):
        read_all(forge_table([block], [b"c"]))


def test_restart_entry_with_shared_bytes():
    block = forge_entry(0, b"ab", b"1") + forge_entry(1, b"c", b"2")
    block += struct.pack("<III", 0, 6, 2)  # the second entry (at 6) is a restart point
    with pytest.raises(DataLossError, match="restart entry"):
        read_all(forge_table([block], [b"b"]))


def test_empty_data_block():
    with pytest.raises(DataLossError, match="no entries"):
        read_all(forge_table([EMPTY_BLOCK], [b"a"]))


def test_snappy_claiming_absurd_length():
    stored = varint(2**31) + b"\x00" * 20  # 2 GiB from 20 bytes: impossible for snappy
    with pytest.raises(DataLossError, match="at most"):
        read_all(forge_table([stored], [b"a"], types=[1]))


def test_snappy_garbage():
    stored = varint(10) + b"\xff\xff\xff\xff\xff"
    with pytest.raises(DataLossError, match="corrupted compressed block"):
        read_all(forge_table([stored], [b"a"], types=[1]))


def test_snappy_wrong_length():
    stored = varint(3) + b"\x08ab"  # literal of 3 bytes but only "ab" follows
    with pytest.raises(DataLossError, match="corrupted compressed block"):
        read_all(forge_table([stored], [b"a"], types=[1]))


def test_error_in_decompressed_block_names_the_block():
    import cramjam

    raw = forge_block([(b"b", b"x" * 50), (b"a", b"y" * 50)])  # unsorted, compressible
    stored = bytes(cramjam.snappy.compress_raw(raw))
    data = forge_table([stored], [b"c"], types=[1])
    with pytest.raises(DataLossError, match="after decompression") as info:
        read_all(data)
    assert info.value.offset == 0


# -- the fuzz contract -------------------------------------------------------------

mutation = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 10**6)),
    st.tuples(st.just("flip"), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 7)), min_size=1, max_size=4)),
    st.tuples(st.just("overwrite"), st.integers(0, 10**6), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("rechecksum"), st.integers(0, 10**6), st.integers(0, 10**6), st.binary(min_size=1, max_size=4)),
    st.tuples(st.just("append"), st.binary(max_size=64)),
    st.tuples(st.just("random"), st.binary(max_size=200)),
)


def mutate(data: bytes, how) -> bytes:
    kind = how[0]
    if kind == "truncate":
        return data[: how[1] % (len(data) + 1)]
    if kind == "flip":
        out = bytearray(data)
        for offset, bit in how[1]:
            out[offset % len(out)] ^= 1 << bit
        return bytes(out)
    if kind == "overwrite":
        start = how[1] % len(data)
        return data[:start] + how[2] + data[start + len(how[2]) :]
    if kind == "rechecksum":
        # Damage the inside of one block and give it a matching CRC, so that the
        # structural checks, not the checksum, meet the damage.
        reader = TableReader(data)
        handles = [*reader.data_block_handles, reader.metaindex_handle, reader.index_handle]
        handle = handles[how[1] % len(handles)]
        if handle.size == 0:
            return data
        contents = bytearray(data[handle.offset : handle.offset + handle.size])
        start = how[2] % len(contents)
        contents[start : start + len(how[3])] = how[3][: len(contents) - start]
        return with_block(data, handle, bytes(contents))
    if kind == "append":
        return data + how[1]
    return how[1]


def exercise(data: bytes) -> None:
    """Every read path; anything but a CheckpointError escapes."""
    try:
        reader = TableReader(data, name="fuzz.index")
    except CheckpointError:
        return
    probes = [b"", b"key000", b"key030", b"\xff"]
    for action in (
        lambda: list(reader.items()),
        lambda: reader.first(),
        *[lambda p=p: reader.get(p) for p in probes],
        *[lambda p=p: list(reader.seek(p)) for p in probes],
    ):
        try:
            action()
        except CheckpointError:
            pass


@settings(max_examples=300, deadline=timedelta(seconds=5), suppress_health_check=[HealthCheck.too_slow])
@given(items=sorted_items(max_size=40), options=writer_options, how=mutation)
def test_fuzz_contract(items, options, how):
    exercise(mutate(write_table(items, **options), how))


@settings(max_examples=200, deadline=timedelta(seconds=5))
@given(how=mutation)
def test_fuzz_contract_multiblock(how):
    exercise(mutate(TABLE, how))


def test_every_truncation_of_a_small_table():
    data = write_table([(b"a", b"1"), (b"b", b"22"), (b"c", b"")], block_size=8, restart_interval=1)
    for size in range(len(data)):
        with pytest.raises(DataLossError):
            read_all(data[:size])
