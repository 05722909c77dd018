"""TensorFlow 2.21 reads what tfckpt writes, and tfckpt writes what SaveV2 writes.

The tensors are generated here from a seed; TensorFlow is the oracle for
both the bytes (SaveV2) and the values (load_checkpoint, Saver restore).
"""

import os

import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf

import tfckpt

RNG = np.random.default_rng(2021)


def _tensors():
    strings = [b"", b"a", "h\u00e9llo".encode(), bytes(range(256)), b"x" * 127, b"y" * 128, b"z" * 16383, b"w" * 16384]
    return {
        "float32": RNG.standard_normal((3, 4)).astype(np.float32),
        "float64/scalar": np.float64(-0.0),
        "nan": np.array([np.nan, -np.inf, 1e-45], np.float32),
        "int8": np.array([-128, 127], np.int8),
        "uint64": np.array([2**64 - 1], np.uint64),
        "bfloat16": RNG.standard_normal(5).astype(ml_dtypes.bfloat16),
        "float16": RNG.standard_normal((2, 2)).astype(np.float16),
        "complex128": np.array([1 + 2j, -3.5j]),
        "bool": np.array([[True], [False]]),
        "zero": np.zeros((0, 7), np.int32),
        "strings": np.array(strings, dtype=object),
        "unicode/\u00fcnïcode.key": np.array([1], np.int16),
    }


def _tf_save(prefix, tensors):
    names = list(tensors)
    values = [tf.constant(v.tolist() if v.dtype == object else v, dtype=tf.string if v.dtype == object else None)
              for v in tensors.values()]
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names), tensors=values)


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def test_save_is_byte_identical_to_savev2(tmp_path):
    tensors = _tensors()
    _tf_save(str(tmp_path / "tf"), tensors)
    tfckpt.save(str(tmp_path / "us"), tensors)
    for suffix in (".index", ".data-00000-of-00001"):
        assert _read(tmp_path / ("us" + suffix)) == _read(tmp_path / ("tf" + suffix)), suffix


def test_many_keys_spanning_several_index_blocks(tmp_path):
    tensors = {f"layer_{i:05d}/" + "k" * (i % 300): np.array([i], np.int32) for i in range(4000)}
    _tf_save(str(tmp_path / "tf"), tensors)
    tfckpt.save(str(tmp_path / "us"), tensors)
    assert _read(tmp_path / "us.index") == _read(tmp_path / "tf.index")
    assert len(_read(tmp_path / "tf.index")) > 2 * 262144  # several data blocks
    assert _read(tmp_path / "us.data-00000-of-00001") == _read(tmp_path / "tf.data-00000-of-00001")


def test_tensorflow_reads_our_files(tmp_path):
    tensors = _tensors()
    prefix = str(tmp_path / "us")
    tfckpt.save(prefix, tensors)
    reader = tf.train.load_checkpoint(prefix)
    assert reader.get_variable_to_shape_map() == {k: list(np.shape(v)) for k, v in tensors.items()}
    for key, value in tensors.items():
        got = reader.get_tensor(key)
        if value.dtype == object:
            assert got.tolist() == value.tolist()
        else:
            assert np.asarray(got).tobytes() == np.asarray(value).tobytes(), key


def test_graph_mode_saver_restores_our_checkpoint(tmp_path):
    prefix = str(tmp_path / "model.ckpt")
    weights = RNG.standard_normal((3, 2)).astype(np.float32)
    with tfckpt.BundleWriter(prefix) as writer:
        writer.add("dense/kernel", weights)
        writer.add("global_step", np.int64(42))
        writer.add_slice("emb", [6, 2], "0,3:0,2", np.ones((3, 2), np.float32))
        writer.add_slice("emb", [6, 2], "3,3:0,2", np.full((3, 2), 2.0, np.float32))
    graph = tf.Graph()
    with graph.as_default():
        kernel = tf.compat.v1.get_variable("dense/kernel", shape=(3, 2), dtype=tf.float32)
        step = tf.compat.v1.get_variable("global_step", shape=(), dtype=tf.int64)
        emb = tf.compat.v1.get_variable(
            "emb", shape=(6, 2), dtype=tf.float32, partitioner=tf.compat.v1.fixed_size_partitioner(2)
        )
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session() as session:
            saver.restore(session, prefix)
            k, s, e = session.run([kernel, step, tf.convert_to_tensor(emb)])
    assert k.tobytes() == weights.tobytes()
    assert s == 42
    assert e.tolist() == [[1, 1]] * 3 + [[2, 2]] * 3


@pytest.mark.parametrize("dtype", [tf.qint8, tf.quint8, tf.qint16, tf.quint16, tf.qint32])
def test_quantized_types_round_trip_through_tensorflow(tmp_path, dtype):
    raw = np.arange(-3, 3).astype(dtype.as_numpy_dtype.fields[dtype.name][0])
    prefix = str(tmp_path / "q")
    with tfckpt.BundleWriter(prefix) as writer:
        writer.add("q", raw, dtype=dtype.name)
    got = tf.train.load_checkpoint(prefix).get_tensor("q")
    assert np.asarray(got).tobytes() == raw.tobytes()
    ours = tfckpt.load_checkpoint(prefix).get_tensor("q")
    assert ours.dtype == np.asarray(got).dtype
