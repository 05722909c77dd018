"""Graph text format and the SavedModel summary equal what TensorFlow writes and prints.

Text: every ``.meta`` fixture (TF 2.21, 2.15, 1.15, 1.4, 0.12 producers) is parsed by
TensorFlow's own classes and written with ``tf.io.write_graph(as_text=True)`` -- the
writer ``export_meta_graph(as_text=True)`` calls -- and by tfckpt from its own classes;
the bytes must be equal, and tfckpt's text must parse back to the same message.

SavedModel: ``saved_model_cli show --dir D --all`` runs in a subprocess with a fixed
``PYTHONHASHSEED`` (its op list is a Python set), and ``tfckpt savedmodel D --all``
likewise; their output must be equal, TF2's concrete-function list included (GRAPH-12..15).
"""

import glob
import os
import subprocess
import sys

import pytest

from tfckpt.graph import text_format
from tfckpt.proto import meta_graph_pb2

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
META_FILES = sorted(glob.glob(os.path.join(ROOT, "fixtures", "tf-*", "**", "*.meta"), recursive=True))
SAVED_MODELS = sorted(os.path.dirname(p) for p in glob.glob(
    os.path.join(ROOT, "fixtures", "tf-*", "**", "saved_model.pb"), recursive=True))
VENV_BIN = os.path.dirname(sys.executable)


def _rel(path):
    return os.path.relpath(path, ROOT)


@pytest.mark.spec("GRAPH-1", "GRAPH-2")
@pytest.mark.parametrize("path", META_FILES, ids=_rel)
def test_meta_text_equals_tensorflow_write_graph(path, tmp_path):
    from tensorflow.core.protobuf import meta_graph_pb2 as tf_meta
    from tensorflow.python.framework import graph_io

    with open(path, "rb") as handle:
        data = handle.read()
    graph_io.write_graph(tf_meta.MetaGraphDef.FromString(data), str(tmp_path), "tf.pbtxt", as_text=True)
    expected = (tmp_path / "tf.pbtxt").read_bytes()
    ours = meta_graph_pb2.MetaGraphDef.FromString(data)
    assert text_format.message_to_text(ours).encode("utf-8") == expected
    back = text_format.text_to_message(expected, meta_graph_pb2.MetaGraphDef())
    assert back == ours


@pytest.mark.spec("GRAPH-1")
def test_graph_def_text_equals_tensorflow_write_graph(tmp_path):
    import tensorflow as tf

    from tfckpt.proto import graph_pb2

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
        w = tf.compat.v1.get_variable("w", [3, 2], initializer=tf.compat.v1.constant_initializer(0.1))
        tf.identity(tf.matmul(x, w) * 1e-7 + 3.25, name="y")
    tf.io.write_graph(graph, str(tmp_path), "graph.pbtxt", as_text=True)
    tf.io.write_graph(graph, str(tmp_path), "graph.pb", as_text=False)
    expected = (tmp_path / "graph.pbtxt").read_bytes()
    ours = graph_pb2.GraphDef.FromString((tmp_path / "graph.pb").read_bytes())
    assert text_format.message_to_text(ours).encode("utf-8") == expected
    assert text_format.read_text(tmp_path / "graph.pbtxt", graph_pb2.GraphDef()) == ours


def _run(argv):
    env = dict(os.environ, PYTHONHASHSEED="0", TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
               PYTHONPATH=os.path.join(ROOT, "reference"))
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.splitlines()


def _tf_show_all(directory):
    """TensorFlow's ``saved_model_cli show --all``, dict entries decoded in key order (fixtures/cases/graph.py)."""
    sys.path.insert(0, os.path.join(ROOT, "fixtures"))
    try:
        from cases.graph import saved_model_cli_show_all
    finally:
        sys.path.remove(os.path.join(ROOT, "fixtures"))
    return saved_model_cli_show_all(directory).decode("utf-8")


@pytest.mark.spec("GRAPH-10", "GRAPH-11", "GRAPH-12", "GRAPH-13", "GRAPH-14", "GRAPH-15")
@pytest.mark.parametrize("directory", SAVED_MODELS, ids=_rel)
def test_savedmodel_all_equals_saved_model_cli(directory):
    """Byte for byte, concrete functions included (TF2 exports); TensorFlow's only change: dicts in key order."""
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=os.path.join(ROOT, "reference"))
    ours = subprocess.run([sys.executable, "-m", "tfckpt", "savedmodel", directory, "--all"], env=env,
                          capture_output=True, text=True, timeout=600, check=True).stdout
    assert ours == _tf_show_all(directory)


@pytest.mark.spec("GRAPH-12")
@pytest.mark.parametrize("directory", SAVED_MODELS, ids=_rel)
def test_savedmodel_all_equals_unchanged_saved_model_cli_up_to_dict_order(directory):
    """The real ``saved_model_cli``: the same lines, once each line's characters are sorted (a dict's order is random)."""
    expected = _run([os.path.join(VENV_BIN, "saved_model_cli"), "show", "--dir", directory, "--all"])
    ours = _run([sys.executable, "-m", "tfckpt", "savedmodel", directory, "--all"])
    assert len(ours) == len(expected)
    for a, b in zip(ours, expected):
        if a != b:  # only an entry order within a dict, or a keyword argument's place, may differ
            assert sorted(a) == sorted(b) or (a.strip() and b.strip() and a.startswith("          ")), (a, b)
    assert sorted("".join(sorted(line)) for line in ours) == sorted("".join(sorted(line)) for line in expected)


@pytest.mark.spec("GRAPH-10")
@pytest.mark.parametrize("directory", SAVED_MODELS, ids=_rel)
def test_savedmodel_tag_sets_and_signature_equal_saved_model_cli(directory):
    cli = os.path.join(VENV_BIN, "saved_model_cli")
    assert _run([sys.executable, "-m", "tfckpt", "savedmodel", directory]) == _run([cli, "show", "--dir", directory])
    ours = _run([sys.executable, "-m", "tfckpt", "savedmodel", directory, "--tag-set", "serve"])
    assert ours == _run([cli, "show", "--dir", directory, "--tag_set", "serve"])
    from tfckpt.graph.saved_model import read_saved_model, select_meta_graph

    keys = sorted(select_meta_graph(read_saved_model(directory)).signature_def)
    key = "serving_default" if "serving_default" in keys else keys[0]  # a TF2 model may have only its init op
    ours = _run([sys.executable, "-m", "tfckpt", "savedmodel", directory, "--tag-set", "serve", "--signature-def", key])
    assert ours == _run([cli, "show", "--dir", directory, "--tag_set", "serve", "--signature_def", key])


@pytest.mark.spec("GRAPH-5")
@pytest.mark.parametrize("path", [p for p in META_FILES if "/bad-" not in p], ids=_rel)
def test_tensor_names_and_dtypes_equal_import_meta_graph(path):
    import tensorflow as tf

    from tfckpt.graph.inspect import load

    ours = {t.name: t for t in load(path).tensors()}
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.train.import_meta_graph(path, clear_devices=True)
    theirs = {t.name: t for op in graph.get_operations() for t in op.outputs}
    assert set(ours) == set(theirs)
    graph_view = load(path)
    for name, tensor in theirs.items():
        assert ours[name].dtype == _enum_name(tensor.dtype.as_datatype_enum), name
        assert graph_view.tensor(name) == ours[name]


def _enum_name(value):
    from tensorflow.core.framework import types_pb2

    return types_pb2.DataType.Name(value)


@pytest.mark.spec("GRAPH-1", "GRAPH-2")
def test_any_list_and_saved_models_text_equal_tensorflow():
    from google.protobuf import text_format as tf_text
    from tensorflow.core.protobuf import meta_graph_pb2 as tf_meta
    from tensorflow.core.protobuf import saved_model_pb2 as tf_saved_model

    from tfckpt.proto import saved_model_pb2

    meta = tf_meta.MetaGraphDef()
    asset = tf_meta.AssetFileDef(filename="vocab.txt")
    asset.tensor_info.name = "Const:0"
    meta.collection_def["saved_model_assets"].any_list.value.add().Pack(asset)
    expected = tf_text.MessageToString(meta)
    assert "[type.googleapis.com/tensorflow.AssetFileDef]" in expected
    ours = meta_graph_pb2.MetaGraphDef.FromString(meta.SerializeToString())
    assert text_format.message_to_text(ours) == expected
    for directory in SAVED_MODELS:
        with open(os.path.join(directory, "saved_model.pb"), "rb") as handle:
            data = handle.read()
        expected = tf_text.MessageToString(tf_saved_model.SavedModel.FromString(data))
        assert text_format.message_to_text(saved_model_pb2.SavedModel.FromString(data)) == expected


@pytest.mark.spec("GRAPH-15")
def test_dtype_names_equal_tensorflows_for_every_enum_value():
    import tensorflow as tf
    from tensorflow.core.framework import types_pb2 as tf_types

    from tfckpt.graph.concrete_functions import DType, dtype_name

    for name, value in tf_types.DataType.items():
        if value == 0:
            continue
        dtype = tf.dtypes.as_dtype(value)
        assert dtype_name(value) == dtype.name, name
        assert (repr(DType(value)), str(DType(value))) == (repr(dtype), str(dtype)), name
