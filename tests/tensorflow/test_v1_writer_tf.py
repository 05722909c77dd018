"""tfckpt.write_v1 against TensorFlow 2.21's own V1 writer, tf.raw_ops.Save.

For every dtype Save writes, its file and ours are byte-identical and
tf.raw_ops.Restore reads ours; for every other dtype both refuse with the same
status category.  The last tests pin the TensorFlow behaviours on names where
tfckpt is deliberately stricter (see tfckpt/v1_writer.py).
"""

import os

import numpy as np
import pytest
import tensorflow as tf

import tfckpt
from tfckpt import errors
from tfckpt.v1 import writer as v1_writer
from tfckpt.dtypes import ALL_DTYPES

RNG = np.random.default_rng(1776)
WRITABLE = sorted(v1_writer.WRITABLE_DTYPES)

#: Bit patterns every float tensor carries: -0.0, infinities, quiet and signalling NaNs with payloads.
_F32 = np.frombuffer(bytes.fromhex("00000080" "0000807f" "000080ff" "0100c07f" "0100807f" "ffffffff"), "<f4")
_F64 = np.frombuffer(bytes.fromhex("0000000000000080" "010000000000f07f" "ffffffffffffffff"), "<f8")
_STRINGS = [b"", b"a", "h\u00e9llo".encode(), bytes(range(256)), b"x" * 127, b"y" * 128, b"z" * 16384]


def _value(name, shape=(3, 5)):
    """Random values of dtype ``name`` (bit patterns, so every value an element can hold), with specials."""
    count = int(np.prod(shape))
    if name == "string":
        out = np.empty(count, dtype=object)
        out[:] = [_STRINGS[i % len(_STRINGS)] + RNG.bytes(i % 3) for i in range(count)]
        return out.reshape(shape)
    dtype = tfckpt.as_dtype(name)
    if name == "bool":
        return RNG.integers(0, 2, shape).astype(bool)
    flat = np.frombuffer(RNG.bytes(count * dtype.itemsize), dtype.numpy_dtype).copy()
    special = {"float32": _F32, "float64": _F64, "complex64": _F32[:6].view(np.complex64),
               "complex128": _F64[:2].view(np.complex128)}.get(name)
    if special is not None:
        n = min(len(special), count)
        flat[:n] = special[:n]
    return flat.reshape(shape)


def _tf_tensor(value, name):
    if name == "string":
        return tf.constant(value, dtype=tf.string)  # an object array keeps its shape, even (0, 3)
    return tf.constant(value, dtype=tf.dtypes.as_dtype(tfckpt.as_dtype(name).as_datatype_enum))


def _tf_save(path, tensors, dtypes):
    names = list(tensors)
    tf.raw_ops.Save(filename=str(path), tensor_names=names, data=[_tf_tensor(tensors[n], dtypes[n]) for n in names])


def _bits(value):
    value = np.asarray(value)
    return value.tolist() if value.dtype == object else value.tobytes()


def _category(exc):
    return {tf.errors.INVALID_ARGUMENT: "INVALID_ARGUMENT", tf.errors.UNIMPLEMENTED: "UNIMPLEMENTED",
            tf.errors.INTERNAL: "INTERNAL", tf.errors.NOT_FOUND: "NOT_FOUND"}.get(exc.error_code, str(exc.error_code))


@pytest.mark.parametrize("name", WRITABLE)
def test_save_is_byte_identical_and_restore_reads_ours(tmp_path, name):
    tensors = {"values": _value(name), "scalar": _value(name, ()), "empty": _value(name, (0, 3)),
               "long/" + name: _value(name, (40,))}
    dtypes = dict.fromkeys(tensors, name)
    _tf_save(tmp_path / "tf", tensors, dtypes)
    tfckpt.write_v1(tmp_path / "us", tensors, dtypes=dtypes)
    assert (tmp_path / "us").read_bytes() == (tmp_path / "tf").read_bytes()
    tf_dtype = tf.dtypes.as_dtype(tfckpt.as_dtype(name).as_datatype_enum)
    for key, value in tensors.items():
        got = tf.raw_ops.Restore(file_pattern=str(tmp_path / "us"), tensor_name=key, dt=tf_dtype).numpy()
        got = np.asarray(got, dtype=object) if name == "string" else got  # a string scalar comes as bytes
        assert got.shape == value.shape and _bits(got) == _bits(value), key


def test_every_dtype_in_one_file_many_blocks_any_input_order(tmp_path):
    tensors, dtypes = {}, {}
    for name in WRITABLE:
        tensors[f"z/{name}"], dtypes[f"z/{name}"] = _value(name, (64, 33)), name
    for i in range(3000):  # several 256 KiB data blocks; names given out of order
        key = f"k{(i * 7919) % 3000:05d}/" + "\u00e9" * (i % 50)
        tensors[key], dtypes[key] = np.array([i], np.int32), "int32"
    _tf_save(tmp_path / "tf", tensors, dtypes)
    tfckpt.write_v1(tmp_path / "us", tensors, dtypes=dtypes)
    data = (tmp_path / "tf").read_bytes()
    assert len(data) > 2 * 262144
    assert (tmp_path / "us").read_bytes() == data
    restored = tf.raw_ops.RestoreV2(prefix=str(tmp_path / "us"), tensor_names=["z/float32", "z/string"],
                                    shape_and_slices=["", ""], dtypes=[tf.float32, tf.string])  # the V1 fallback
    assert restored[0].numpy().tobytes() == tensors["z/float32"].tobytes()
    assert restored[1].numpy().astype(object).tolist() == tensors["z/string"].tolist()


def _tf_value_of(dtype, value):
    if dtype.name == "resource":
        return tf.Variable(1.0).handle
    if dtype.name == "variant":
        return tf.data.experimental.to_variant(tf.data.Dataset.range(1))
    return _tf_tensor(value, dtype.name)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=[d.name for d in ALL_DTYPES])
def test_refusal_categories_match_save(tmp_path, dtype):
    value = np.zeros(2, np.uint8) if dtype.numpy_dtype is None else _value(dtype.name, (2,))
    try:
        tf.raw_ops.Save(filename=str(tmp_path / "tf"), tensor_names=["a", "bad"],
                        data=[tf.constant(1.0), _tf_value_of(dtype, value)])
        theirs = None
    except tf.errors.OpError as exc:
        theirs = _category(exc)
    try:
        tfckpt.write_v1(tmp_path / "us", {"a": np.float32(1.0), "bad": value}, dtypes={"bad": dtype.name})
        ours = None
    except errors.CheckpointError as exc:
        ours = exc.category
        assert exc.key == "bad"
    assert ours == theirs
    expected = None if dtype.name in WRITABLE else (
        "INVALID_ARGUMENT" if dtype.name in ("uint32", "uint64") else "UNIMPLEMENTED")
    assert theirs == expected  # spec/v1.md V1-11
    if theirs is not None:
        assert os.listdir(tmp_path) == []  # neither writes anything
    else:
        assert (tmp_path / "us").read_bytes() == (tmp_path / "tf").read_bytes()


# -- names: TensorFlow's behaviour where tfckpt refuses ---------------------------------


def test_tensorflow_writes_duplicate_names_its_restore_rejects(tmp_path):
    path = str(tmp_path / "tf")
    tf.raw_ops.Save(filename=path, tensor_names=["x", "x"], data=[tf.constant([1, 2]), tf.constant([3, 4])])
    with pytest.raises(tf.errors.InternalError, match="Overlapping slices"):
        tf.raw_ops.Restore(file_pattern=path, tensor_name="x", dt=tf.int32)
    with pytest.raises(tf.errors.InternalError, match="Mismatching types"):
        tf.raw_ops.Save(filename=str(tmp_path / "t2"), tensor_names=["x", "x"],
                        data=[tf.constant(1), tf.constant(1.0)])
    with pytest.raises(errors.InvalidArgumentError, match="twice"):
        tfckpt.write_v1(tmp_path / "us", [("x", np.int32([1, 2])), ("x", np.int32([3, 4]))])
    assert sorted(os.listdir(tmp_path)) == ["tf"]


def test_tensorflow_writes_and_restores_an_empty_name_tfckpt_refuses_it(tmp_path):
    path = str(tmp_path / "tf")
    tf.raw_ops.Save(filename=path, tensor_names=[""], data=[tf.constant([1.0, 2.0])])
    assert tf.raw_ops.Restore(file_pattern=path, tensor_name="", dt=tf.float32).numpy().tolist() == [1.0, 2.0]
    reader = tfckpt.v1.V1Reader(path)
    assert reader.read("").tolist() == [1.0, 2.0]  # our reader reads it too
    reader.close()
    with pytest.raises(errors.InvalidArgumentError, match="empty"):
        tfckpt.write_v1(tmp_path / "us", {"": np.float32([1.0, 2.0])})


def test_tensorflow_cannot_read_back_a_name_that_is_not_utf8(tmp_path):
    path = str(tmp_path / "tf")
    tf.raw_ops.Save(filename=path, tensor_names=tf.constant([b"\xff"]), data=[tf.constant([1])])
    with pytest.raises(tf.errors.InternalError, match="saved tensor slices"):
        tf.raw_ops.Restore(file_pattern=path, tensor_name=tf.constant(b"\xff"), dt=tf.int32)
    with pytest.raises(errors.InvalidArgumentError, match="UTF-8"):
        tfckpt.write_v1(tmp_path / "us", {b"\xff": np.int32([1])})


def test_tensorflow_refuses_a_missing_directory_we_create_it(tmp_path):
    """ERR-7: TensorFlow's Save op says NOT_FOUND; every tfckpt writer creates the parent, and
    TensorFlow reads what it wrote there."""
    with pytest.raises(tf.errors.NotFoundError):
        tf.raw_ops.Save(filename=str(tmp_path / "no" / "f"), tensor_names=["x"], data=[tf.constant(1)])
    assert os.listdir(tmp_path) == []
    tfckpt.write_v1(tmp_path / "no" / "f", {"x": np.int32(1)})
    assert tf.train.load_checkpoint(str(tmp_path / "no" / "f")).get_tensor("x") == 1


def test_a_directory_in_the_way_tensorflow_leaves_its_temporary_file_we_do_not(tmp_path):
    for side in ("tf", "us"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "f").mkdir()
    with pytest.raises(tf.errors.FailedPreconditionError):
        tf.raw_ops.Save(filename=str(tmp_path / "tf" / "f"), tensor_names=["x"], data=[tf.constant(1)])
    (left,) = [n for n in os.listdir(tmp_path / "tf") if n != "f"]
    assert left.startswith("f.tempstate") and left[len("f.tempstate"):].isdigit()  # V1-14's temporary name
    with pytest.raises(errors.FailedPreconditionError):
        tfckpt.write_v1(tmp_path / "us" / "f", {"x": np.int32(1)})
    assert os.listdir(tmp_path / "us") == ["f"]
