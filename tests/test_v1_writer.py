"""The V1 writer (tfckpt.write_v1): TensorFlow's bytes, its refusals, atomic files, round trips.

No TensorFlow here: the byte-exact oracle is the fixture tf.raw_ops.Save wrote
(fixtures/tf-2.21.0/v1-save-dtypes) and the record bytes spec/v1.md section 3
quotes; tests/tensorflow/test_v1_writer_tf.py checks against Save itself.
"""

import contextlib
import os
import re
import tempfile

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from tfckpt_conformance import description as D
from tfckpt_conformance import strategies
from tfckpt_conformance.adapters.reference import to_native

import tfckpt
from tfckpt import errors
from tfckpt.v1 import writer as v1_writer
from tfckpt.dtypes import ALL_DTYPES
from tfckpt.proto import saved_tensor_slice_pb2
from tfckpt.table import TableReader
from tfckpt.v1.reader import V1Reader, _length_delimited

FIXTURE = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "tf-2.21.0", "v1-save-dtypes")
WRITABLE = sorted(v1_writer.WRITABLE_DTYPES)


def _v1(path):
    return contextlib.closing(V1Reader(path))


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def _meta(path):
    with TableReader(path) as table:
        key, value = table.first()
    assert key == b""
    record = saved_tensor_slice_pb2.SavedTensorSlices()
    record.ParseFromString(value)
    return record.meta


def _tensor_proto_bytes(path, name):
    """The raw TensorProto bytes of the one record of tensor ``name`` (SavedTensorSlices.data.data)."""
    with _v1(path) as reader:
        entry = reader.entry(name)
        key = tfckpt.bundle.encode_slice_key(entry.key, entry.slices[0])
    with TableReader(path) as table:
        value = table.get(key)
    (saved_slice,) = _length_delimited(value, 2)
    (tensor,) = _length_delimited(saved_slice, 3)
    return tensor


def _fixture_tensors():
    """The fixture's tensors, in the order TensorFlow's metadata record lists them."""
    described = D.load(FIXTURE).by_key()
    order = [t.name for t in _meta(os.path.join(FIXTURE, "ckpt")).tensor]
    assert sorted(order) == sorted(described)
    return [(name, to_native(described[name])) for name in order], {k: t.dtype for k, t in described.items()}


# -- TensorFlow's bytes ---------------------------------------------------------------


def test_fixture_is_reproduced_byte_for_byte(tmp_path):
    tensors, dtypes = _fixture_tensors()
    assert {"qint8", "quint8", "qint32"} <= set(dtypes.values())  # int arrays made quantized by `dtypes`
    out = tfckpt.write_v1(tmp_path / "ckpt", tensors, dtypes=dtypes)
    assert out == str(tmp_path / "ckpt")
    assert _read(tmp_path / "ckpt") == _read(os.path.join(FIXTURE, "ckpt"))
    assert os.listdir(tmp_path) == ["ckpt"]


def test_input_order_does_not_matter_tensors_are_sorted_by_name(tmp_path):
    tensors, dtypes = _fixture_tensors()
    tfckpt.write_v1(tmp_path / "reversed", dict(reversed(tensors)), dtypes=dtypes)
    assert _read(tmp_path / "reversed") == _read(os.path.join(FIXTURE, "ckpt"))
    names = ["zz", "qu8", "q8", "q32", "B", "a", "\u00e9", "a/b", "a0"]
    tfckpt.write_v1(tmp_path / "order", {n: np.int32(i) for i, n in enumerate(names)})
    observed = ["B", "a", "a/b", "a0", "q32", "q8", "qu8", "zz", "\u00e9"]  # Save's metadata order for `names`
    assert [t.name for t in _meta(tmp_path / "order").tensor] == observed


def test_quantized_types_as_structured_arrays(tmp_path):
    tensors, dtypes = _fixture_tensors()
    structured = [
        (name, value.view(tfckpt.as_dtype(dtypes[name]).as_numpy_dtype) if dtypes[name].startswith("q") else value)
        for name, value in tensors
    ]
    tfckpt.write_v1(tmp_path / "ckpt", structured, dtypes={k: v for k, v in dtypes.items() if not v.startswith("q")})
    assert _read(tmp_path / "ckpt") == _read(os.path.join(FIXTURE, "ckpt"))


def test_big_endian_arrays_give_the_same_bytes(tmp_path):
    tensors, dtypes = _fixture_tensors()
    swapped = [(n, v if v.dtype.kind in "Ob" or v.dtype.itemsize == 1 else v.astype(v.dtype.newbyteorder(">")))
               for n, v in tensors]
    tfckpt.write_v1(tmp_path / "ckpt", swapped, dtypes=dtypes)
    assert _read(tmp_path / "ckpt") == _read(os.path.join(FIXTURE, "ckpt"))


# Observed record bytes, spec/v1.md section 3 (the TensorProto, after its `1a <len>`).
SPEC_VECTORS = [
    (np.array([1.5, -2], np.float32), None, "2a 08 00 00 c0 3f 00 00 00 c0"),
    (np.array([[1], [2]], np.float64), None, "32 10 00 00 00 00 00 00 f0 3f 00 00 00 00 00 00 00 40"),
    (np.array([-128, 127], np.int8), None, "3a 0b 80 ff ff ff ff ff ff ff ff 01 7f"),
    (np.array([65535], np.uint16), None, "3a 03 ff ff 03"),
    (np.array([0, -2147483648], np.int32), "qint32", "3a 0b 00 80 80 80 80 f8 ff ff ff ff 01"),
    (np.array([1, -1], np.int64), None, "52 0b 01 ff ff ff ff ff ff ff ff ff 01"),
    (np.array([True, False, True]), None, "5a 03 01 00 01"),
    (np.array([1 + 2j], np.complex64), None, "4a 08 00 00 80 3f 00 00 00 40"),
    (np.array([3 - 4j], np.complex128), None, "62 10 00 00 00 00 00 00 08 40 00 00 00 00 00 00 10 c0"),
    (np.array([1.0, -0.5], np.float16), None, "6a 05 80 78 80 f0 02"),
    (np.array([b"ab", b"", b"\x00\xff"], dtype=object), None, "42 02 61 62 42 00 42 02 00 ff"),
    (np.zeros((0, 3), np.float32), None, ""),
]


@pytest.mark.parametrize("value, dtype, expected", SPEC_VECTORS, ids=[f"{v.dtype}-{d}" for v, d, _ in SPEC_VECTORS])
def test_record_values_are_the_observed_bytes(tmp_path, value, dtype, expected):
    tfckpt.write_v1(tmp_path / "f", {"t": value}, dtypes={"t": dtype} if dtype else None)
    assert _tensor_proto_bytes(tmp_path / "f", "t") == bytes.fromhex(expected)


def test_nan_payloads_keep_their_bits(tmp_path):
    f32 = np.frombuffer(bytes.fromhex("0100807f" "0100c07f" "ffffffff"), "<f4")
    f64 = np.frombuffer(bytes.fromhex("010000000000f07f" "ffffffffffffffff"), "<f8")
    tfckpt.write_v1(tmp_path / "f", {"f32": f32, "f64": f64, "c64": f32[:2].copy().view(np.complex64)})
    assert _tensor_proto_bytes(tmp_path / "f", "f32") == b"\x2a\x0c" + f32.tobytes()
    assert _tensor_proto_bytes(tmp_path / "f", "f64") == b"\x32\x10" + f64.tobytes()
    with _v1(tmp_path / "f") as reader:
        assert reader.read("f32").tobytes() == f32.tobytes()
        assert reader.read("f64").tobytes() == f64.tobytes()
        assert reader.read("c64").tobytes() == f32[:2].tobytes()


def test_scalar_metadata_and_record_layout(tmp_path):
    tfckpt.write_v1(tmp_path / "f", {"z": np.float32(1.0)})
    with TableReader(tmp_path / "f") as reader:
        table = dict(reader)
    # spec/v1.md section 5: tensor "z" scalar float32, versions {producer: 1}, key "\0z\0\1" + rank 0.
    assert table[b""] == bytes.fromhex("0a 0f 0a 09 0a 01 7a 12 00 18 01 22 00 12 02 08 01")
    assert table[bytes.fromhex("00 7a 00 01 00")] == bytes.fromhex("12 0d 0a 01 7a 12 00 1a 06 2a 04 00 00 80 3f")


# -- round trips ------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(strategies.descriptions(dtypes=WRITABLE, max_tensors=5))
def test_round_trip_through_our_reader(description):
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "ckpt")
        tfckpt.write_v1(path, [(t.key, to_native(t)) for t in description.tensors],
                        dtypes={t.key: t.dtype for t in description.tensors})
        assert os.listdir(directory) == ["ckpt"]
        with _v1(path) as reader:
            got = D.Description([
                D.tensor_from_array(t.key, reader.entry(t.key).dtype.name, reader.read(t.key))
                for t in description.tensors
            ])
        assert [m.name for m in _meta(path).tensor] == sorted(description.keys(), key=lambda k: k.encode())
    problems = D.compare(description, got, check_partitions=False)
    assert not problems, "\n".join(problems)


def test_load_checkpoint_reads_what_we_write(tmp_path):
    tensors, dtypes = _fixture_tensors()
    tfckpt.write_v1(tmp_path / "ckpt", tensors, dtypes=dtypes)
    with tfckpt.load_checkpoint(tmp_path / "ckpt") as reader:
        assert {k: v.name for k, v in reader.get_variable_to_dtype_map().items()} == dtypes
        for name, value in tensors:
            got = reader.get_tensor(name)
            if value.dtype == object:
                assert got.tolist() == value.tolist()
            else:
                assert got.shape == value.shape and got.tobytes() == value.tobytes(), name


# -- refusals (spec/v1.md V1-11), all before any file exists -------------------------------


def _value_of(dtype):
    if dtype.numpy_dtype is None:  # resource, variant: nothing numpy can hold
        return np.zeros(2, np.uint8)
    if dtype.is_string:
        return np.array([b"a"], dtype=object)
    return np.zeros(2, dtype.numpy_dtype)


def _category(dtype):
    if dtype.name in WRITABLE:
        return None
    return "INVALID_ARGUMENT" if dtype.name in ("uint32", "uint64") else "UNIMPLEMENTED"


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=[d.name for d in ALL_DTYPES])
def test_each_dtype_is_written_or_refused_as_tensorflow_does(tmp_path, dtype):
    """What TensorFlow 2.21's Save did with each dtype (observed): 16 written, uint32/uint64
    INVALID_ARGUMENT, every other UNIMPLEMENTED."""
    path = tmp_path / "f"
    category = _category(dtype)
    tensors = {"ok": np.float32(1), "bad": _value_of(dtype)}
    if category is None:
        tfckpt.write_v1(path, tensors, dtypes={"bad": dtype.name})
        with _v1(path) as reader:
            assert reader.entry("bad").dtype == dtype
        return
    with pytest.raises(errors.CheckpointError) as info:
        tfckpt.write_v1(path, tensors, dtypes={"bad": dtype.name})
    assert info.value.category == category
    assert info.value.key == "bad"
    assert os.listdir(tmp_path) == []


def test_the_writable_set_is_the_spec_table():
    assert set(WRITABLE) == set(tfckpt.v1.reader.VALUE_FIELDS) - {"uint32", "uint64", "qint16", "quint16"}


def test_bfloat16_and_float8_arrays_are_refused_without_explicit_dtype(tmp_path):
    for value in (np.zeros(3, ml_dtypes.bfloat16), np.zeros(3, ml_dtypes.float8_e4m3fn), np.zeros(1, np.uint64)):
        with pytest.raises(errors.CheckpointError, match="data type|dtype"):
            tfckpt.write_v1(tmp_path / "f", {"x": value})
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "tensors, message",
    [
        ({"": np.zeros(1, np.float32)}, "empty"),
        ([("x", np.zeros(1, np.int32)), ("x", np.ones(1, np.int32))], "twice"),
        ([("x", np.zeros(1, np.int32)), (b"x", np.ones(2, np.float32))], "twice"),
        ({b"\xff\xfe": np.zeros(1, np.float32)}, "UTF-8"),
        ({"x": np.array([1, "a"], dtype=object)}, "bytes or str"),
    ],
    ids=["empty", "duplicate", "duplicate-bytes", "not-utf8", "bad-string"],
)
def test_bad_names_and_values_are_invalid_arguments(tmp_path, tensors, message):
    with pytest.raises(errors.InvalidArgumentError, match=message):
        tfckpt.write_v1(tmp_path / "f", tensors)
    assert os.listdir(tmp_path) == []


def test_dtypes_for_unknown_names_are_refused(tmp_path):
    with pytest.raises(errors.InvalidArgumentError, match="not given"):
        tfckpt.write_v1(tmp_path / "f", {"a": np.zeros(1, np.int8)}, dtypes={"b": "qint8"})
    with pytest.raises(errors.InvalidArgumentError, match="element sizes"):
        tfckpt.write_v1(tmp_path / "f", {"a": np.zeros(1, np.int8)}, dtypes={"a": "qint32"})
    assert os.listdir(tmp_path) == []


def test_slices_too_large_for_one_message_are_refused_before_encoding(tmp_path):
    # 2**29 float32 elements: 2**31 bytes plus the header bound is past kMaxMessageBytes.
    # The array is a broadcast view of 4 bytes; the refusal comes before any copy.
    huge = np.broadcast_to(np.float32(1), (1 << 29,))
    with pytest.raises(errors.InvalidArgumentError, match="too large") as info:
        tfckpt.write_v1(tmp_path / "f", {"a": np.zeros(1, np.int8), "huge": huge})
    assert info.value.key == "huge"
    assert os.listdir(tmp_path) == []
    strings = np.broadcast_to(np.array(b"x" * (1 << 20), dtype=object), (2048,))
    with pytest.raises(errors.InvalidArgumentError, match="too large"):
        tfckpt.write_v1(tmp_path / "f", {"s": strings})


# -- files ---------------------------------------------------------------------------


def test_written_under_a_tempstate_name_then_renamed(tmp_path, monkeypatch):
    seen = []
    real = v1_writer.atomic_output

    def spy(final, temp, *args, **kwargs):
        seen.append((final, temp))
        return real(final, temp, *args, **kwargs)

    monkeypatch.setattr(v1_writer, "atomic_output", spy)
    tfckpt.write_v1(tmp_path / "f", {"a": np.zeros(1, np.int8)})
    ((final, temp),) = seen
    assert final == str(tmp_path / "f")
    assert re.fullmatch(re.escape(final) + r"\.tempstate\d+", temp) and int(temp.rsplit("tempstate", 1)[1]) < 1 << 64


class _Boom(RuntimeError):
    pass


def test_failure_while_writing_leaves_no_file(tmp_path, monkeypatch):
    tfckpt.write_v1(tmp_path / "f", {"old": np.zeros(1, np.int8)})
    before = _read(tmp_path / "f")

    class FailingTable(v1_writer.TableWriter):
        def add(self, key, value):
            if key:  # after the metadata record reached the temporary file
                raise _Boom("disk full")
            super().add(key, value)

    monkeypatch.setattr(v1_writer, "TableWriter", FailingTable)
    with pytest.raises(_Boom):
        tfckpt.write_v1(tmp_path / "g", {"a": np.zeros(1, np.int8)})
    with pytest.raises(_Boom):
        tfckpt.write_v1(tmp_path / "f", {"a": np.zeros(1, np.int8)})
    assert os.listdir(tmp_path) == ["f"]  # no temporary file, no "g"
    assert _read(tmp_path / "f") == before  # the old file is untouched


def test_missing_parent_directory_is_created_as_by_every_writer(tmp_path):
    """ERR-7: every writer creates a missing parent (TensorFlow's Save op says NOT_FOUND instead)."""
    tfckpt.write_v1(tmp_path / "no" / "f", {"a": np.zeros(1, np.int8)})
    assert os.listdir(tmp_path / "no") == ["f"]
    assert V1Reader(str(tmp_path / "no" / "f")).read("a").tolist() == [0]


def test_overwrites_an_existing_file(tmp_path):
    tfckpt.write_v1(tmp_path / "f", {"a": np.zeros(1, np.int8)})
    tfckpt.write_v1(tmp_path / "f", {"b": np.ones(2, np.int8)}, sync=False)
    with _v1(tmp_path / "f") as reader:
        assert [e.key for e in reader.variables()] == [b"b"]
    assert os.listdir(tmp_path) == ["f"]


def test_a_directory_in_the_way_fails_and_leaves_no_temporary_file(tmp_path):
    (tmp_path / "f").mkdir()
    with pytest.raises(errors.FailedPreconditionError):  # TensorFlow: FAILED_PRECONDITION too
        tfckpt.write_v1(tmp_path / "f", {"a": np.zeros(1, np.int8)})
    assert os.listdir(tmp_path) == ["f"] and os.listdir(tmp_path / "f") == []
