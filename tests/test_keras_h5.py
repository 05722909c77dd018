"""Keras 3 weight files without TensorFlow: the reader, its contract on bad files, the layout, conversion.

The valid files are built with h5py in the layout Keras 3.15.1 writes (spec/keras.md
KH5-1..KH5-7, each read off files Keras wrote; tests/tensorflow/test_keras_h5_tf.py
checks against Keras itself).  The bad files are built by hand, one defect each: every
one must give one tfckpt error naming the file (and the dataset once one is known),
never h5py's, zipfile's or the HDF5 library's own exception, and never the
allocation a header claims (KH5-8).
"""

import hashlib
import io
import os
import sys
import zipfile

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

import tfckpt  # noqa: E402
from test_foreign_inputs import _zip  # noqa: E402 - the archive is told by its bytes, not its name
from tfckpt import errors  # noqa: E402
from tfckpt.objects import keras  # noqa: E402
from tfckpt.objects.keras_convert import (KerasLayer, checkpoint_to_weights_h5, h5_layout, snake_case,  # noqa: E402
                                          weights_h5_to_checkpoint)
from tfckpt.objects.keras_h5 import load_keras_weights  # noqa: E402

RNG = np.random.default_rng(5)

#: A Sequential model Input(4) -> Dense(3) -> Dense(2), as Keras writes it (KH5-1..3).
SEQ = {
    "layers/dense/vars/0": RNG.standard_normal((4, 3)).astype(np.float32),
    "layers/dense/vars/1": RNG.standard_normal(3).astype(np.float32),
    "layers/dense_1/vars/0": RNG.standard_normal((3, 2)).astype(np.float32),
    "layers/dense_1/vars/1": RNG.standard_normal(2).astype(np.float32),
}
SEQ_LAYERS = [KerasLayer("Dense", ["sequential/dense/kernel", "sequential/dense/bias"]),
              KerasLayer("Dense", ["sequential/dense_1/kernel", "sequential/dense_1/bias"])]


def _h5(path, datasets: dict, names: dict = None, **create) -> str:
    with h5py.File(path, "w") as f:
        f.create_group("vars").attrs["name"] = "sequential"
        for key, value in datasets.items():
            f.create_dataset(key, data=value, **create)
        for group, name in (names or {}).items():
            f.require_group(group).attrs["name"] = name
    return str(path)


def open_bytes(path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def write_bytes(path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def _digest(path) -> str:
    return hashlib.sha256(open_bytes(path)).hexdigest()


def test_reads_every_dataset_with_its_values_and_never_changes_the_file(tmp_path):
    """KH5-3: keys are the dataset paths, values and dtypes those written; the file is untouched."""
    path = _h5(tmp_path / "m.weights.h5", {**SEQ, "optimizer/vars/0": np.array(7, np.int64)})
    before = _digest(path), os.stat(path).st_mtime_ns
    with load_keras_weights(path) as reader:
        assert reader.keys() == list(SEQ) + ["optimizer/vars/0"]
        assert reader.get_variable_to_shape_map()["layers/dense/vars/0"] == [4, 3]
        assert reader.get_variable_to_shape_map()["optimizer/vars/0"] == []
        assert reader.get_variable_to_dtype_map()["optimizer/vars/0"].name == "int64"
        for key, value in SEQ.items():
            assert reader.has_tensor(key)
            got = reader.get_tensor(key)
            assert got.dtype == value.dtype and np.array_equal(got, value)
        assert reader.group_name("vars") == "sequential"
    assert (_digest(path), os.stat(path).st_mtime_ns) == before


def test_vars_indices_sort_as_numbers(tmp_path):
    """vars/10 comes after vars/2, as Keras numbers a layer's variables."""
    path = _h5(tmp_path / "m.weights.h5", {f"optimizer/vars/{i}": np.float32(i) for i in range(12)})
    with load_keras_weights(path) as reader:
        assert reader.keys() == [f"optimizer/vars/{i}" for i in range(12)]


def test_big_endian_dataset_reads_as_native_values(tmp_path):
    value = np.arange(6, dtype=">f8").reshape(2, 3)
    path = _h5(tmp_path / "m.weights.h5", {"layers/dense/vars/0": value})
    with load_keras_weights(path) as reader:
        got = reader.get_tensor("layers/dense/vars/0")
    assert got.dtype == np.float64 and got.dtype.isnative and np.array_equal(got, value)


def test_keras_archive_reads_its_weights_member(tmp_path):
    """KH5-7: a .keras file is a zip of metadata.json, config.json and model.weights.h5."""
    inner = _h5(tmp_path / "model.weights.h5", SEQ)
    archive = tmp_path / "m.keras"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("metadata.json", '{"keras_version": "3.15.1"}')
        z.writestr("config.json", "{}")
        z.write(inner, "model.weights.h5")
    with load_keras_weights(archive) as reader:
        assert reader.keys() == list(SEQ)
        assert np.array_equal(reader.get_tensor("layers/dense_1/vars/0"), SEQ["layers/dense_1/vars/0"])
        assert "model.weights.h5" in reader.path


def test_missing_key_names_the_close_ones(tmp_path):
    path = _h5(tmp_path / "m.weights.h5", SEQ)
    with load_keras_weights(path) as reader, pytest.raises(errors.NotFoundError) as info:
        reader.get_tensor("layers/dense/vars/2")
    assert "layers/dense/vars/0" in str(info.value) and path in str(info.value)


def test_without_h5py_the_error_says_what_to_install(tmp_path, monkeypatch):
    path = _h5(tmp_path / "m.weights.h5", SEQ)
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(errors.UnimplementedError, match=r"pip install 'tfckpt\[keras\]'"):
        load_keras_weights(path)


# -- malformed files: one defect each -------------------------------------------------------------------

def _bad(tmp_path, build) -> str:
    path = str(tmp_path / "bad.weights.h5")
    with h5py.File(path, "w") as f:
        build(f)
    return path


BAD = {
    "compressed": (lambda f: f.create_dataset("d", data=np.zeros(100, np.float32), compression="gzip"),
                   errors.InvalidArgumentError, "filter"),
    "string": (lambda f: f.create_dataset("d", data=np.array([b"abc"], dtype=h5py.string_dtype())),
               errors.InvalidArgumentError, "not a numeric tensor"),
    "compound": (lambda f: f.create_dataset("d", data=np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")])),
                 errors.InvalidArgumentError, "not a numeric tensor"),
    "never written, huge": (lambda f: f.create_dataset("d", shape=(2**20, 2**20), dtype=np.float64),
                            errors.DataLossError, "needs"),
    "chunked, no chunk written": (lambda f: f.create_dataset("d", shape=(2**40,), dtype=np.uint8, chunks=(1024,)),
                                  errors.DataLossError, "needs"),
    "soft link": (lambda f: (f.create_dataset("d", data=np.zeros(2)), f.__setitem__("e", h5py.SoftLink("/d"))),
                  errors.InvalidArgumentError, "SoftLink"),
    "external link": (lambda f: f.__setitem__("e", h5py.ExternalLink("/etc/passwd", "/x")),
                      errors.InvalidArgumentError, "ExternalLink"),
    "external storage": (lambda f: f.create_dataset("d", shape=(4,), dtype=np.float32, external=[("/dev/zero", 0, 16)]),
                         errors.InvalidArgumentError, "outside the file"),
    "null dataspace": (lambda f: f.create_dataset("d", data=h5py.Empty("f4")), errors.DataLossError, "null"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_dataset_the_reader_cannot_bound_is_refused_naming_file_and_dataset(tmp_path, case):
    """KH5-8."""
    build, kind, words = BAD[case]
    path = _bad(tmp_path, build)
    with pytest.raises(kind, match=words) as info:
        load_keras_weights(path)
    assert path in str(info.value) and ("'d'" in str(info.value) or "'e'" in str(info.value))


def test_a_second_hard_link_is_one_dataset(tmp_path):
    def build(f):
        f.create_dataset("a/d", data=np.ones(3))
        f["b"] = f["a"]  # a hard link to the same group: a cycle-free second path

    with load_keras_weights(_bad(tmp_path, build)) as reader:
        assert len(reader.keys()) == 1


def test_a_hard_link_cycle_ends(tmp_path):
    def build(f):
        f.create_dataset("a/d", data=np.ones(3))
        f["a/loop"] = f["a"]

    with load_keras_weights(_bad(tmp_path, build)) as reader:
        assert reader.keys() == ["a/d"]


@pytest.mark.parametrize("cut", [0, 8, 100, 800, 1400, 2047])
def test_a_cut_file_is_data_loss(tmp_path, cut):
    full = _h5(tmp_path / "full.weights.h5", SEQ)
    data = open_bytes(full)
    path = tmp_path / "cut.weights.h5"
    path.write_bytes(data[:cut])
    with pytest.raises(errors.CheckpointError) as info:
        with load_keras_weights(path) as reader:
            for key in reader.keys():
                reader.get_tensor(key)
    assert str(path) in str(info.value)


def test_flipped_bytes_give_a_tfckpt_error_or_a_result(tmp_path):
    full = _h5(tmp_path / "full.weights.h5", SEQ)
    data = bytearray(open_bytes(full))
    for offset in range(0, len(data), 97):
        mutated = bytearray(data)
        mutated[offset] ^= 0xFF
        path = tmp_path / "flip.weights.h5"
        path.write_bytes(bytes(mutated))
        try:
            with load_keras_weights(path) as reader:
                for key in reader.keys():
                    reader.get_tensor(key)
        except errors.CheckpointError:
            pass


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(errors.FileNotFound):
        load_keras_weights(tmp_path / "nothing.weights.h5")


def test_not_hdf5_is_data_loss(tmp_path):
    path = tmp_path / "x.weights.h5"
    path.write_bytes(b"not an hdf5 file at all" * 10)
    with pytest.raises(errors.DataLossError, match="not a readable Keras weights file"):
        load_keras_weights(path)


def test_archive_without_weights_lists_its_members(tmp_path):
    path = _zip(tmp_path, {"config.json": "{}"})
    with pytest.raises(errors.NotFoundError, match="config.json"):
        load_keras_weights(path)


def test_archive_member_claiming_more_than_deflate_can_expand_is_refused(tmp_path):
    path = _zip(tmp_path, {"model.weights.h5": b"\0" * 100}, zipfile.ZIP_DEFLATED)
    data = bytearray(open_bytes(path))
    # central directory entry: uncompressed size at offset 24 of the "PK\1\2" record
    cd = data.rindex(b"PK\x01\x02")
    data[cd + 24: cd + 28] = (2**31).to_bytes(4, "little")
    write_bytes(path, bytes(data))
    with pytest.raises(errors.DataLossError, match="cannot expand"):
        load_keras_weights(path)


def test_damaged_archive_is_data_loss(tmp_path):
    path = _zip(tmp_path, {"model.weights.h5": b"\x89HDF\r\n\x1a\n" + b"\0" * 64})
    data = bytearray(open_bytes(path))
    data[40] ^= 0xFF  # inside the member: its CRC-32 no longer matches
    write_bytes(path, bytes(data))
    with pytest.raises(errors.DataLossError) as info:
        load_keras_weights(path)
    assert "model.weights.h5" in str(info.value)


# -- the layout ----------------------------------------------------------------------------------------

def test_snake_case_is_keras_class_naming():
    assert [snake_case(n) for n in ("Dense", "Conv2D", "BatchNormalization", "Embedding", "LSTM", "InputLayer")] == [
        "dense", "conv2d", "batch_normalization", "embedding", "lstm", "input_layer"]


def test_layout_sequential_functional_rnn_subclassed():
    """KH5-2..KH5-6: groups by class name numbered per class, a Sequential model's InputLayer has none,
    an RNN's cell weights under cell/vars, a subclassed model's layers under their attributes."""
    assert h5_layout(SEQ_LAYERS, "sequential") == [
        ("sequential/dense/kernel", "layers/dense/vars/0"), ("sequential/dense/bias", "layers/dense/vars/1"),
        ("sequential/dense_1/kernel", "layers/dense_1/vars/0"), ("sequential/dense_1/bias", "layers/dense_1/vars/1")]
    functional = [KerasLayer("InputLayer"), KerasLayer("Embedding", ["embedding/embeddings"]),
                  KerasLayer("LSTM", ["lstm/lstm_cell/kernel", "lstm/lstm_cell/recurrent_kernel", "lstm/lstm_cell/bias"]),
                  KerasLayer("Dense", ["my_head/kernel", "my_head/bias"])]
    assert [h for _, h in h5_layout(functional, "functional")] == [
        "layers/embedding/vars/0", "layers/lstm/cell/vars/0", "layers/lstm/cell/vars/1", "layers/lstm/cell/vars/2",
        "layers/dense/vars/0", "layers/dense/vars/1"]
    sub = [KerasLayer("Dense", ["sub/dense_4/kernel", "sub/dense_4/bias"], attribute="d1")]
    assert [h for _, h in h5_layout(sub, "subclassed")] == ["d1/vars/0", "d1/vars/1"]


def test_layout_errors_name_the_problem():
    with pytest.raises(errors.InvalidArgumentError, match="attribute"):
        h5_layout([KerasLayer("Dense", ["a/kernel"])], "subclassed")
    with pytest.raises(errors.InvalidArgumentError, match="kind"):
        h5_layout(SEQ_LAYERS, "graph")


# -- conversion, both ways -------------------------------------------------------------------------------

def test_checkpoint_to_weights_h5_and_back_is_byte_identical(tmp_path):
    """KH5-9: save_objects' checkpoint -> .weights.h5 (the values at the layout's paths) -> a checkpoint
    whose files equal the first (both written from the same tree; TensorFlow checks restores)."""
    values = {p: SEQ[h] for p, h in h5_layout(SEQ_LAYERS, "sequential")}
    tree = keras.checkpoint_tree([keras.Layer([]), keras.Layer([(p, values[p]) for p in SEQ_LAYERS[0].weights]),
                                  keras.Layer([(p, values[p]) for p in SEQ_LAYERS[1].weights])])
    first = tfckpt.save_objects(str(tmp_path / "a" / "ckpt"), tree)
    out = str(tmp_path / "m.weights.h5")
    assert checkpoint_to_weights_h5(first, out, SEQ_LAYERS) == list(SEQ)
    with load_keras_weights(out) as reader:
        for key, value in SEQ.items():
            assert np.array_equal(reader.get_tensor(key), value)
        assert reader.group_name("vars") == "sequential"
        assert reader.group_name("layers/dense_1/vars") == "dense_1"
    second = weights_h5_to_checkpoint(out, str(tmp_path / "b" / "ckpt"), [vars(l) for l in SEQ_LAYERS])
    for suffix in (".index", ".data-00000-of-00001"):
        assert open_bytes(first + suffix) == open_bytes(second + suffix)


def test_weights_h5_missing_a_dataset_names_it(tmp_path):
    path = _h5(tmp_path / "m.weights.h5", {k: v for k, v in SEQ.items() if k != "layers/dense_1/vars/1"})
    with pytest.raises(errors.NotFoundError, match="layers/dense_1/vars/1"):
        weights_h5_to_checkpoint(path, str(tmp_path / "c" / "ckpt"), SEQ_LAYERS)
    assert not os.path.exists(tmp_path / "c")


# -- load_checkpoint handed a Keras file ------------------------------------------------------------------

def test_load_checkpoint_given_weights_h5_says_what_it_is_and_what_to_call(tmp_path):
    path = _h5(tmp_path / "m.weights.h5", SEQ)
    with pytest.raises(errors.DataLossError) as info:
        tfckpt.load_checkpoint(path)
    text = str(info.value)
    assert "HDF5 file" in text and "tfckpt.load_keras_weights" in text and "tfckpt[keras]" in text


def test_load_checkpoint_given_keras_archive_says_it_is_one(tmp_path):
    """A .keras archive (metadata.json first, as Keras writes it: KH5-7) is named as such, not as any zip."""
    path = _zip(tmp_path, {"metadata.json": "{}", "config.json": "{}", "model.weights.h5": b""})
    with pytest.raises(errors.DataLossError) as info:
        tfckpt.load_checkpoint(path)
    assert "Keras 3 .keras archive" in str(info.value) and "load_keras_weights" in str(info.value)


def test_convert_reads_weights_h5_as_dataset_paths_and_needs_layers_for_keras_output(tmp_path):
    from tfckpt.jobs.convert import convert

    path = _h5(tmp_path / "m.weights.h5", SEQ)
    assert convert(path, str(tmp_path / "m.npz")) == list(SEQ)
    with np.load(tmp_path / "m.npz") as npz:
        assert np.array_equal(npz["layers/dense/vars/0"], SEQ["layers/dense/vars/0"])
    with pytest.raises(errors.InvalidArgumentError, match="--keras-layers"):
        convert(str(tmp_path / "m.npz"), str(tmp_path / "x.weights.h5"))


def test_cli_convert_both_ways_with_a_layers_file(tmp_path):
    import json

    from tfckpt.cli.main import main

    path = _h5(tmp_path / "m.weights.h5", SEQ)
    layers = tmp_path / "layers.json"
    layers.write_text(json.dumps([{"class_name": l.class_name, "weights": list(l.weights)} for l in SEQ_LAYERS]))
    prefix = str(tmp_path / "ck" / "ckpt")
    assert main(["convert", path, prefix, "--keras-layers", str(layers), "--quiet"]) == 0
    with tfckpt.load_checkpoint(prefix) as reader:
        key = "model/_functional/_operations/2/_kernel/.ATTRIBUTES/VARIABLE_VALUE"
        assert np.array_equal(reader.get_tensor(key), SEQ["layers/dense_1/vars/0"])
    back = str(tmp_path / "back.weights.h5")
    assert main(["convert", prefix, back, "--keras-layers", str(layers), "--quiet"]) == 0
    with load_keras_weights(back) as reader:
        assert all(np.array_equal(reader.get_tensor(k), v) for k, v in SEQ.items())
