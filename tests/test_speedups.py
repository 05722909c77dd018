"""The C accelerator (``tfckpt/_speedups.c``) agrees with the pure-Python code it stands in for.

Each C function has a Python twin.  The readers may decline (answer None),
and the Python code then decides; whatever they do answer must equal what
the Python code produces from the same bytes, and on what TensorFlow writes
they must not decline (else the fast path would be dead code).  The two
writers must produce the Python code's bytes exactly.  Inputs: every index
of the TensorFlow-written fixtures (valid and damaged), and random and
mutated blocks, entries and string tensors.

The suites as a whole run on both paths as well: ``tox -e py,reference``
with the accelerator, ``tox -e py-pure,reference-pure`` without
(``TFCKPT_PURE_PYTHON=1``).  Where the environment says the accelerator must
be there (``TFCKPT_EXPECT_SPEEDUPS``), its absence is a failure, not a skip.
"""

import glob
import os
import struct

import pytest
from hypothesis import given, settings, strategies as st

from strategies_table import forge_block, sorted_items
from tfckpt import accel, errors
from tfckpt.bundle import data_layout, entry_fields
from tfckpt.proto import tensor_bundle_pb2
from tfckpt.table import block as block_module
from tfckpt.table.block import Block, BlockBuilder
from tfckpt.table.reader import TableReader

FIXTURES = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures")
speedups = accel.speedups


def test_the_accelerator_is_there_when_the_environment_says_so():
    expected = os.environ.get("TFCKPT_EXPECT_SPEEDUPS")
    if expected is None:
        pytest.skip("TFCKPT_EXPECT_SPEEDUPS not set: either path is fine here")
    assert accel.enabled() is (expected == "1"), f"TFCKPT_EXPECT_SPEEDUPS={expected}, enabled={accel.enabled()}"


needs_speedups = pytest.mark.skipif(speedups is None, reason="the C accelerator is not built or is switched off")


def _python_walk(block: Block, lower, upper):
    """What TableReader._walk yields for one block in Python, or the error it raises."""
    try:
        out = []
        for key, value in block.iter_from_restart(0):
            if (lower is not None and key <= lower) or (upper is not None and key > upper):
                return "error"
            out.append((key, value))
        return out
    except errors.CheckpointError:
        return "error"


def _index_files():
    return sorted(glob.glob(os.path.join(FIXTURES, "tf-*", "*", "**", "*.index"), recursive=True))


@needs_speedups
def test_blocks_of_every_fixture_index():
    """Every data block of every fixture index: the C walk equals the Python walk; on valid ones it answers."""
    walked = answered = 0
    for path in _index_files():
        try:
            table = TableReader(path)
        except errors.CheckpointError:
            continue  # a damaged footer or index block: no data blocks to compare
        with table:
            keys = table.index_keys
            for i in range(table.num_data_blocks):
                try:
                    block = table._data_block(i)
                except errors.CheckpointError:
                    continue
                lower = keys[i - 1] if i else None
                fast = block.entries_between(lower, keys[i])
                slow = _python_walk(block, lower, keys[i])
                walked += 1
                if fast is not None:
                    answered += 1
                    assert fast == slow, f"{path}: data block {i}"
                else:
                    assert slow == "error", f"{path}: data block {i} declined though Python accepts it"
    assert walked > 300 and answered > 0.9 * walked


@needs_speedups
@settings(max_examples=300, deadline=None)
@given(sorted_items(), st.integers(1, 16), st.data())
def test_forged_and_mutated_blocks(items, interval, data):
    raw = bytearray(forge_block(items, restart_interval=interval))
    mutated = data.draw(st.booleans())
    if mutated:
        for _ in range(data.draw(st.integers(1, 3))):
            where = data.draw(st.integers(0, len(raw) - 1))
            raw[where] = data.draw(st.integers(0, 255))
    try:
        block = Block(bytes(raw))
    except errors.CheckpointError:
        return  # the restart array is checked in Python before any walk
    bounds = data.draw(st.sampled_from([(None, None), (None, b"\x80"), (b"\x01", b"\xff" * 8)]))
    fast = block.entries_between(*bounds)
    slow = _python_walk(block, *bounds)
    if fast is not None:
        assert fast == slow
    elif not mutated and bounds == (None, None):
        pytest.fail("the C walk declined a valid block")


@needs_speedups
@settings(max_examples=300, deadline=None)
@given(sorted_items(max_size=60), st.integers(1, 16))
def test_block_builder_bytes(items, interval):
    built = []
    for accelerated in (True, False):
        builder = BlockBuilder(interval)
        original = block_module.speedups
        block_module.speedups = speedups if accelerated else None
        try:
            for key, value in items:
                builder.add(key, value)
        finally:
            block_module.speedups = original
        built.append(builder.finish())
    assert built[0] == built[1] == forge_block(items, restart_interval=interval)


dims = st.lists(st.integers(0, 2**63 - 1) | st.integers(0, 300) | st.just(0), max_size=6)


@settings(max_examples=500, deadline=None)
@given(st.integers(1, 2**31 - 1) | st.integers(1, 30), dims, st.integers(0, 2**31 - 1) | st.just(0),
       st.integers(0, 2**63 - 1) | st.just(0), st.integers(0, 2**63 - 1) | st.just(0), st.integers(0, 2**32 - 1))
def test_entry_encoding_is_protobufs(dtype, shape, shard, offset, size, crc):
    """Both encoders give ``SerializeToString``'s bytes (the shape always present, as the writer sets it)."""
    proto = tensor_bundle_pb2.BundleEntryProto(dtype=dtype, shard_id=shard, offset=offset, size=size, crc32c=crc)
    proto.shape.SetInParent()
    for d in shape:
        proto.shape.dim.add().size = d
    expected = proto.SerializeToString()
    assert entry_fields.python_encode_entry_fields(dtype, shape, shard, offset, size, crc) == expected
    if speedups is not None:
        assert speedups.encode_entry(dtype, shape, shard, offset, size, crc) == expected
        assert speedups.entry_fields(expected) == entry_fields.python_decode_entry_fields(expected)


@needs_speedups
@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=48))
def test_entry_decoding_of_random_bytes(raw):
    assert speedups.entry_fields(raw) == entry_fields.python_decode_entry_fields(raw)


def _decode_both(buffer: bytes, count: int, big_endian: bool, crc: int):
    results = []
    for accelerated in (True, False):
        original = data_layout.speedups
        data_layout.speedups = speedups if accelerated else None
        try:
            results.append(data_layout.decode_strings(buffer, count, big_endian=big_endian, verify=True,
                                                      expected_masked_crc=crc))
        except data_layout.StringLayoutError as exc:
            results.append(("error", str(exc), exc.checksum))
        finally:
            data_layout.speedups = original
    return results


@needs_speedups
@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=20) | st.binary(min_size=128, max_size=300), max_size=40), st.data())
def test_string_tensors(elements, data):
    buffer, crc = data_layout.encode_strings(elements)
    raw = bytearray(buffer)
    if raw and data.draw(st.booleans()):
        where = data.draw(st.integers(0, len(raw) - 1))
        raw[where] = data.draw(st.integers(0, 255))
    count = len(elements) + data.draw(st.sampled_from([0, 0, 0, -1, 1])) if elements else 0
    fast, slow = _decode_both(bytes(raw), max(count, 0), False, crc)
    assert fast == slow
    if bytes(raw) == buffer and count == len(elements):
        assert fast == list(elements)


@needs_speedups
def test_string_tensor_of_big_endian_bundle():
    """Lengths checksummed as big-endian words (the layout of a big-endian producer, DATA-7)."""
    elements = [b"a", b"", b"xyz" * 50]
    lengths = b"".join(bytes([len(e)]) if len(e) < 128 else bytes([len(e) & 0x7F | 0x80, len(e) >> 7])
                       for e in elements)
    from tfckpt import checksums

    words = b"".join(struct.pack(">I", len(e)) for e in elements)
    length_crc = checksums.crc32c(words)
    stored = struct.pack(">I", checksums.mask(length_crc))
    crc = checksums.mask(checksums.extend(checksums.extend(length_crc, stored), b"".join(elements)))
    fast, slow = _decode_both(lengths + stored + b"".join(elements), 3, True, crc)
    assert fast == slow == elements


@needs_speedups
@pytest.mark.parametrize("position", range(6))
def test_entry_encoder_refuses_negative_numbers(position):
    """A negative number raises instead of wrapping to a huge unsigned one (the writer never passes one)."""
    args = [1, (2, 3), 0, 8, 24, 5]
    args[position] = (-1,) if position == 1 else -1
    with pytest.raises(OverflowError):
        speedups.encode_entry(*args)
