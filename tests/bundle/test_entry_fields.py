"""The wire-level entry decoder agrees with protobuf on every input it accepts.

``decode_entry_fields`` (the fast path of listing and reading) may decline an
input -- the reader then parses it with protobuf -- but whatever it returns must
equal what protobuf reads from the same bytes.  Inputs: entries serialized by
protobuf from random field values (the canonical form TensorFlow writes, which
the fast path must accept), and random byte strings and mutations of canonical
entries (which it must decline or decode exactly as protobuf does).
"""

from google.protobuf.message import DecodeError
from hypothesis import given, settings, strategies as st

from tfckpt.bundle.entry_fields import decode_entry_fields
from tfckpt.proto import tensor_bundle_pb2

INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)


def _protobuf_fields(data: bytes):
    proto = tensor_bundle_pb2.BundleEntryProto()
    try:
        proto.ParseFromString(data)
    except DecodeError:
        return "error"
    return proto


def _agrees(data: bytes, fields) -> None:
    proto = _protobuf_fields(data)
    assert proto != "error", "fast path accepted bytes protobuf rejects"
    assert not proto.slices and not proto.shape.unknown_rank
    assert fields == (
        proto.dtype,
        tuple(dim.size for dim in proto.shape.dim),
        proto.shard_id,
        proto.offset,
        proto.size,
        proto.crc32c,
    )
    assert all(not dim.name for dim in proto.shape.dim)


entries = st.builds(
    lambda dtype, dims, shard, offset, size, crc: tensor_bundle_pb2.BundleEntryProto(
        dtype=dtype,
        shape={"dim": [{"size": d} for d in dims]},
        shard_id=shard,
        offset=offset,
        size=size,
        crc32c=crc,
    ),
    st.integers(0, 2**31 - 1) | st.integers(0, 30),
    st.lists(st.integers(0, 2**63 - 1) | st.integers(0, 300), max_size=6),
    st.integers(0, 2**31 - 1) | st.just(0),
    st.integers(0, 2**63 - 1),
    st.integers(0, 2**63 - 1),
    st.integers(0, 2**32 - 1),
)


@settings(max_examples=300, deadline=None)
@given(entries)
def test_canonical_entries_take_the_fast_path(proto):
    data = proto.SerializeToString()
    fields = decode_entry_fields(data)
    assert fields is not None
    _agrees(data, fields)


@settings(max_examples=300, deadline=None)
@given(INT32, st.lists(INT64, max_size=4), INT32, INT64, INT64)
def test_negative_values_are_declined_or_exact(dtype, dims, shard, offset, size):
    proto = tensor_bundle_pb2.BundleEntryProto(
        dtype=dtype,
        shape={"dim": [{"size": d} for d in dims]},
        shard_id=shard,
        offset=offset,
        size=size,
    )
    data = proto.SerializeToString()
    fields = decode_entry_fields(data)
    if fields is not None:
        _agrees(data, fields)
    else:
        assert any(v < 0 for v in [dtype, shard, offset, size, *dims])


@settings(max_examples=500, deadline=None)
@given(entries, st.data())
def test_mutated_entries_are_declined_or_exact(proto, data):
    raw = bytearray(proto.SerializeToString() or b"\x08\x01")
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            raw[where] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del raw[where:]
            if not raw:
                break
        else:
            raw[where:where] = data.draw(st.binary(min_size=1, max_size=4))
    fields = decode_entry_fields(bytes(raw))
    if fields is not None:
        _agrees(bytes(raw), fields)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=40))
def test_random_bytes_are_declined_or_exact(raw):
    fields = decode_entry_fields(raw)
    if fields is not None:
        _agrees(raw, fields)
