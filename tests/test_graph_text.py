"""Text-format GraphDefs that TensorFlow wrote read back as the binary graphs beside them.

Every Estimator model directory in the fixtures (TF 0.12.1, 1.4.0, 1.15.5) holds a
``graph.pbtxt`` written by ``tf.train.write_graph(as_text=True)`` and ``.meta``
files written by the Saver from the same graph: the parsed text must equal the
``.meta``'s ``graph_def``, an independent TF-written record of the same message.
"""

import glob
import os

import pytest

from tfckpt import errors
from tfckpt.graph import text_format
from tfckpt.graph.meta_graph import read_meta_graph
from tfckpt.proto import graph_pb2, meta_graph_pb2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The Estimators' own model directories (the graph-* cases hold copies, without the .meta files).
PBTXT = sorted(glob.glob(os.path.join(ROOT, "fixtures", "tf-*", "estimator-*", "**", "graph.pbtxt"), recursive=True))


def _rel(path):
    return os.path.relpath(path, ROOT)


# spec: "GRAPH-3", "GRAPH-4"
@pytest.mark.parametrize("path", PBTXT, ids=_rel)
def test_estimator_graph_pbtxt_equals_meta_graph_def(path):
    graph = text_format.read_text(path, graph_pb2.GraphDef())
    metas = sorted(glob.glob(os.path.join(os.path.dirname(path), "*.meta")))
    assert metas and len(graph.node) > 100
    for meta in metas:
        assert graph == read_meta_graph(meta).graph_def


# spec: "GRAPH-3"
def test_old_float_text_is_the_same_float32():
    # TF 1.15.5 printed float_val 0.1f as 0.10000000149011612 (the float32 widened to double,
    # 17 digits); today's printer writes the shortest text that reads back as the same float32.
    path = os.path.join(ROOT, "fixtures", "tf-1.15.5", "estimator-linear-regressor", "model", "graph.pbtxt")
    with open(path, "rb") as handle:
        old = handle.read()
    assert b"float_val: 0.10000000149011612\n" in old
    new = text_format.message_to_text(text_format.read_text(path, graph_pb2.GraphDef())).encode()
    shortened = old.replace(b"float_val: 0.10000000149011612\n", b"float_val: 0.1\n")
    assert new != old and new == shortened.replace(b"float_val: 0.20000000298023224\n", b"float_val: 0.2\n")


# spec: "GRAPH-4"
@pytest.mark.parametrize("text", [b'node { name: "a" op: "Const" bogus: 1 }', b'node { name: "a"', b"\xff\xfe"])
def test_bad_text_is_data_loss_naming_the_file(tmp_path, text):
    path = tmp_path / "bad.pbtxt"
    path.write_bytes(text)
    with pytest.raises(errors.DataLossError) as caught:
        text_format.read_text(path, graph_pb2.GraphDef())
    assert str(path) in str(caught.value)


# spec: "GRAPH-2"
def test_any_fields_print_under_tensorflow_type_urls():
    meta = meta_graph_pb2.MetaGraphDef()
    asset = meta_graph_pb2.AssetFileDef(filename="vocab.txt")
    asset.tensor_info.name = "Const:0"
    meta.collection_def["saved_model_assets"].any_list.value.add(
        type_url="type.googleapis.com/tensorflow.AssetFileDef", value=asset.SerializeToString())
    text = text_format.message_to_text(meta)
    assert '[type.googleapis.com/tensorflow.AssetFileDef] {\n' in text and 'filename: "vocab.txt"' in text
    assert text_format.text_to_message(text, meta_graph_pb2.MetaGraphDef()) == meta
