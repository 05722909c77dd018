"""Writer -> reader round trips, the block-cutting rules, and the writer's API contract."""

from __future__ import annotations

import hashlib
import io
import os
import stat

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strategies_table import forge_block, forge_table, keys_strategy, sorted_items, writer_options
from tfckpt.errors import DataLossError, FailedPreconditionError, InvalidArgumentError, NotFoundError
from tfckpt.table import TableReader, TableWriter
from tfckpt.table.reader import TableReader as _Reader


def write_table(items, **options) -> bytes:
    out = io.BytesIO()
    writer = TableWriter(out, **options)
    for key, value in items:
        writer.add(key, value)
    assert writer.finish() == len(out.getvalue())
    return out.getvalue()


# -- block cutting, against layouts reasoned out by hand ----------------------


def test_flush_rules_small_block_size():
    # block_size 32, restart interval 16, no compression.
    #  add a (value 10 B): entry 3+1+10 = 14; estimate 14 + 4 + 4 = 22 < 32       -> keep
    #  add b (value 10 B): buffer 28; estimate 36 >= 32                           -> flush [a, b]
    #  add c (value 64 B): 1 + 64 = 65 >= 2*32, but the block is empty: no-op;
    #      index entry for [a, b]: separator("b", "c") = "b" (b+1 is not < c);
    #      entry 3+1+64 = 68 -> estimate >= 32                                    -> flush [c]
    #  add d (value 5 B): 6 < 64; index "c"; estimate 9 + 8 = 17                   -> keep
    #  add e (value 70 B): 71 >= 64 and the block has d                           -> flush [d] first
    #      index "d"; e alone: 3+1+70 -> flush [e]
    #  finish: index entry successor("e") = "f".
    # Without TensorFlow's pre-add rule, d and e would share a block.
    a, b, c, d, e = (b"a", b"0" * 10), (b"b", b"1" * 10), (b"c", b"2" * 64), (b"d", b"3" * 5), (b"e", b"4" * 70)
    expected = forge_table(
        [forge_block([a, b]), forge_block([c]), forge_block([d]), forge_block([e])],
        [b"b", b"c", b"d", b"f"],
    )
    assert write_table([a, b, c, d, e], block_size=32) == expected


def test_pre_add_flush_threshold_is_inclusive():
    # block_size 100: an entry with len(key) + len(value) == 200 starts a new block, 199 does not
    # (after "a" with an empty value the estimate is 3+1+0+8 = 12, far below 100).
    first = (b"a", b"")
    at_threshold = (b"b", b"x" * 199)  # 1 + 199 = 200 >= 2*100
    below = (b"b", b"x" * 198)  # 199 < 200: joins a's block, which is then flushed
    assert write_table([first, at_threshold], block_size=100) == forge_table(
        [forge_block([first]), forge_block([at_threshold])], [b"a", b"c"]
    )
    assert write_table([first, below], block_size=100) == forge_table(
        [forge_block([first, below])], [b"c"]
    )


def test_size_estimate_threshold_is_inclusive():
    # block_size 21: entry "k" -> 9-byte value is 3 + 1 + 9 = 13 bytes, estimate 13 + 4 + 4 = 21 >= 21
    # -> flush; index keys separator("k", "m") = "l" and successor("m") = "n".
    # block_size 20 with a 7-byte value: estimate 19 < 20, so "m" joins the block (then 23 >= 20).
    k9, k7, m = (b"k", b"v" * 9), (b"k", b"v" * 7), (b"m", b"")
    assert write_table([k9, m], block_size=21) == forge_table([forge_block([k9]), forge_block([m])], [b"l", b"n"])
    assert write_table([k7, m], block_size=20) == forge_table([forge_block([k7, m])], [b"n"])


def test_restart_interval_layout():
    items = [(bytes([0x61, i]), b"") for i in range(7)]
    assert write_table(items, restart_interval=3) == forge_table([forge_block(items, 3)], [b"b"])


def test_snappy_blocks_are_type_1_when_they_shrink_enough():
    items = [(b"key%04d" % i, b"value " * 20) for i in range(200)]
    data = write_table(items, compression="snappy", block_size=4096)
    reader = TableReader(data)
    types = {data[h.offset + h.size] for h in reader.data_block_handles}
    assert types == {1}
    assert list(reader.items()) == items
    # Incompressible values stay raw (type 0), even with compression on.
    noise = [(b"k%03d" % i, os.urandom(64)) for i in range(50)]
    data = write_table(noise, compression="snappy", block_size=1024)
    reader = TableReader(data)
    assert {data[h.offset + h.size] for h in reader.data_block_handles} == {0}
    assert list(reader.items()) == noise


# -- round trips ----------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=sorted_items(), options=writer_options, probes=st.lists(keys_strategy, max_size=10))
def test_round_trip(items, options, probes):
    data = write_table(items, **options)
    reader = TableReader(data, name="roundtrip")
    assert list(reader.items()) == items
    assert reader.first() == (items[0] if items else None)
    mapping = dict(items)
    for key, value in items:
        assert reader.get(key) == value
    keys = [k for k, _ in items]
    for probe in probes + [k + b"\x00" for k in keys[:5]] + [b""]:
        assert reader.get(probe) == mapping.get(probe)
        assert list(reader.seek(probe)) == [(k, v) for k, v in items if k >= probe]
    assert reader.file_size == len(data)


def test_round_trip_many_blocks_and_restarts():
    items = [(b"%06d/%s" % (i, b"n" * (i % 37)), b"%d" % i * (i % 5)) for i in range(5000)]
    data = write_table(items, block_size=512, restart_interval=4)
    reader = TableReader(data)
    assert reader.num_data_blocks > 100
    assert list(reader.items()) == items
    for key, value in items[::97]:
        assert reader.get(key) == value
    assert list(reader.seek(b"004999")) == items[4999:]


def test_reads_from_a_path_without_modifying_it(tmp_path):
    items = [(b"%04d" % i, b"v" * i) for i in range(300)]
    path = tmp_path / "t.index"
    path.write_bytes(write_table(items, block_size=256))
    os.chmod(path, stat.S_IRUSR | stat.S_IRGRP)
    before = (hashlib.sha256(path.read_bytes()).digest(), os.stat(path).st_mtime_ns)
    with TableReader(path) as reader:
        assert reader.name == str(path)
        assert reader.file_size == path.stat().st_size
        assert list(reader.items()) == items
        assert reader.get(b"0150") == b"v" * 150
    after = (hashlib.sha256(path.read_bytes()).digest(), os.stat(path).st_mtime_ns)
    assert before == after
    with pytest.raises(FailedPreconditionError):
        reader.get(b"0001")  # closed (close() also empties the block cache)


def test_bytes_like_sources():
    items = [(b"a", b"1"), (b"b", b"2")]
    data = write_table(items)
    for source in (data, bytearray(data), memoryview(data)):
        assert list(TableReader(source).items()) == items


def test_memory_mapped_source(tmp_path):
    import mmap

    items = [(b"%03d" % i, b"v") for i in range(100)]
    path = tmp_path / "m.index"
    path.write_bytes(write_table(items, block_size=64))
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        reader = TableReader(mapped, name=str(path))
        assert list(reader.items()) == items
        reader.close()  # releases our view, so the map can close


def test_missing_file_is_not_found(tmp_path):
    with pytest.raises(NotFoundError) as info:
        TableReader(tmp_path / "nope.index")
    assert info.value.file == str(tmp_path / "nope.index")


def test_get_reads_one_data_block(monkeypatch):
    items = [(b"%05d" % i, b"x" * 20) for i in range(20000)]
    reader = TableReader(write_table(items, block_size=256))
    assert reader.num_data_blocks > 1000
    reads = []
    original = _Reader._read_block

    def counting(self, handle, label, key=None):
        reads.append(label)
        return original(self, handle, label, key)

    monkeypatch.setattr(_Reader, "_read_block", counting)
    assert reader.get(b"12345") == b"x" * 20
    assert reader.get(b"12345") == b"x" * 20  # served from the block cache
    assert reader.get(b"99999") is None  # past the last separator: no block read at all
    assert len(reads) == 1


# -- the writer's contract ------------------------------------------------------


def test_keys_must_strictly_increase():
    writer = TableWriter(io.BytesIO())
    writer.add(b"b", b"")
    with pytest.raises(InvalidArgumentError):
        writer.add(b"a", b"")
    with pytest.raises(InvalidArgumentError):
        writer.add(b"b", b"")  # duplicate
    writer.add(b"b\x00", b"")  # strictly greater: fine
    writer.add(b"\xff", b"")  # bytes compare unsigned


def test_no_adds_after_finish():
    writer = TableWriter(io.BytesIO())
    writer.add(b"a", b"")
    writer.finish()
    with pytest.raises(FailedPreconditionError):
        writer.add(b"b", b"")
    with pytest.raises(FailedPreconditionError):
        writer.finish()


@pytest.mark.parametrize(
    "options",
    [
        {"block_size": 0},
        {"block_size": 1.5},
        {"restart_interval": 0},
        {"compression": "zlib"},
        {"compression": 1},
    ],
)
def test_bad_writer_options(options):
    with pytest.raises(InvalidArgumentError):
        TableWriter(io.BytesIO(), **options)


def test_keys_and_values_must_be_bytes():
    writer = TableWriter(io.BytesIO())
    with pytest.raises(InvalidArgumentError):
        writer.add("a", b"")
    with pytest.raises(InvalidArgumentError):
        writer.add(b"a", "v")
    writer.add(bytearray(b"a"), memoryview(b"v"))
    with pytest.raises(InvalidArgumentError):
        TableReader(write_table([(b"a", b"")])).get("a")


def test_unsorted_table_would_be_reported_not_misread():
    # The reader's ordering checks: a forged table with its blocks' keys swapped.
    data = forge_table([forge_block([(b"b", b"")]), forge_block([(b"a", b"")])], [b"b", b"c"])
    with pytest.raises(DataLossError):
        list(TableReader(data).items())


def test_block_cache_is_bounded(monkeypatch):
    import tfckpt.table.reader as reader_module

    monkeypatch.setattr(reader_module, "_CACHED_BYTES", 1000)
    items = [(b"a", b"x" * 10), (b"b", b"y" * 5000), (b"c", b"z" * 10)] + [(b"d%02d" % i, b"w" * 300) for i in range(20)]
    reader = TableReader(write_table(items, block_size=256))
    assert list(reader.items()) == items
    assert reader._cached_bytes <= 1000 and len(reader._cache) <= 8
    assert all(block.size <= 1000 for block in reader._cache.values())
    assert reader._cached_bytes == sum(block.size for block in reader._cache.values())
