"""tfckpt.freeze without TensorFlow: the rewrite rules on small hand-built graphs, and every refusal.

The expected graphs follow spec/freeze.md's rules, worked out by hand; the
TensorFlow-checked equality is in tests/tensorflow/test_freeze_tf.py.
"""

import numpy as np
import pytest

import tfckpt
from tfckpt import errors
from tfckpt.graph.freeze import freeze, write_frozen_graph, PROTOBUF_LIMIT
from tfckpt.proto import graph_pb2, types_pb2


def _node(graph, name, op, inputs=(), **attrs):
    node = graph.node.add(name=name, op=op)
    node.input.extend(inputs)
    for key, value in attrs.items():
        if isinstance(value, int):
            node.attr[key].type = value
        else:
            node.attr[key].CopyFrom(value)
    return node


def _graph(variable_op="VariableV2", consumer="Identity"):
    g = graph_pb2.GraphDef()
    _node(g, "x", "Placeholder", dtype=types_pb2.DT_FLOAT)
    _node(g, "w", variable_op, dtype=types_pb2.DT_FLOAT)
    read_attrs = {"dtype": types_pb2.DT_FLOAT} if consumer == "ReadVariableOp" else {"T": types_pb2.DT_FLOAT}
    _node(g, "w/read", consumer, ["w"], **read_attrs)
    _node(g, "w/init", "Const", dtype=types_pb2.DT_FLOAT)
    _node(g, "w/Assign", "Assign", ["w", "w/init"], T=types_pb2.DT_FLOAT)
    _node(g, "y", "MatMul", ["x", "w/read"], T=types_pb2.DT_FLOAT)
    g.versions.producer = 1
    return g


@pytest.fixture
def prefix(tmp_path):
    return tfckpt.save(str(tmp_path / "ckpt"), {"w": np.arange(6, dtype=np.float32).reshape(2, 3)})


# spec: "FREEZE-2", "FREEZE-4", "FREEZE-5"
def test_reference_variable_becomes_const_and_initializer_is_dropped(prefix):
    out = freeze(prefix, _graph(), ["y"])
    assert [n.name for n in out.node] == ["x", "w", "w/read", "y"]
    const = out.node[1]
    assert const.op == "Const" and set(const.attr) == {"dtype", "value"} and not const.input
    assert const.attr["value"].tensor.tensor_content == np.arange(6, dtype="<f4").tobytes()
    assert list(d.size for d in const.attr["value"].tensor.tensor_shape.dim) == [2, 3]
    assert out.HasField("library") and out.versions.producer == 1


# spec: "FREEZE-7"
def test_read_variable_op_becomes_identity(prefix):
    g = _graph("VarHandleOp", "ReadVariableOp")
    del g.node[4]  # no Assign on a resource
    out = freeze(prefix, g, ["y"])
    read = [n for n in out.node if n.name == "w/read"][0]
    assert read.op == "Identity" and list(read.input) == ["w"] and read.attr["T"].type == types_pb2.DT_FLOAT


# spec: "FREEZE-5"
def test_scalar_constant_uses_typed_field(tmp_path):
    p = tfckpt.save(str(tmp_path / "s"), {"w": np.float32(2.5)})
    out = freeze(p, _graph(), ["y"])
    tensor = out.node[1].attr["value"].tensor
    assert list(tensor.float_val) == [2.5] and not tensor.tensor_content and tensor.HasField("tensor_shape")


def test_missing_output_lists_near_names(prefix):
    with pytest.raises(errors.NotFoundError, match="'yy'.*near names: y"):
        freeze(prefix, _graph(), ["yy"])


def test_variable_missing_from_checkpoint_is_named(tmp_path):
    p = tfckpt.save(str(tmp_path / "c"), {"v": np.zeros(3, np.float32)})
    with pytest.raises(errors.NotFoundError, match="'w'") as info:
        freeze(p, _graph(), ["y"])
    assert info.value.key == "w"


# spec: "FREEZE-9"
def test_op_that_writes_a_variable_is_refused(prefix):
    with pytest.raises(errors.UnimplementedError, match="w/Assign"):
        freeze(prefix, _graph(), ["w/Assign"])


# spec: "FREEZE-9"
def test_unknown_consumer_of_a_resource_is_refused(prefix):
    g = _graph("VarHandleOp", "VarIsInitializedOp")
    with pytest.raises(errors.UnimplementedError, match="w/read"):
        freeze(prefix, g, ["w/read"])


# spec: "FREEZE-10"
def test_over_two_gigabytes_is_refused_before_reading(tmp_path, monkeypatch):
    import tfckpt.graph.freeze as module

    p = tfckpt.save(str(tmp_path / "big"), {"w": np.zeros((2, 3), np.float32)})
    monkeypatch.setattr(module, "PROTOBUF_LIMIT", 10)
    with pytest.raises(errors.ResourceExhaustedError, match="2 GiB"):
        freeze(p, _graph(), ["y"])
    assert PROTOBUF_LIMIT == 2**31 - 1


def test_dtype_mismatch_is_refused(tmp_path):
    p = tfckpt.save(str(tmp_path / "d"), {"w": np.zeros((2, 3), np.int32)})
    with pytest.raises(errors.InvalidArgumentError, match="float32 in the graph but int32"):
        freeze(p, _graph(), ["y"])


# spec: "FREEZE-1"
def test_written_file_is_the_deterministic_serialisation(prefix, tmp_path):
    out = freeze(prefix, _graph(), ["y"])
    path = write_frozen_graph(str(tmp_path / "frozen.pb"), out)
    with open(path, "rb") as handle:
        data = handle.read()
    assert data == out.SerializeToString(deterministic=True)
    assert graph_pb2.GraphDef.FromString(data) == out
    assert [p.name for p in tmp_path.iterdir() if "tempstate" in p.name] == []


def test_command_line_writes_the_frozen_graph(prefix, tmp_path, capsys):
    from tfckpt.cli.main import main

    graph_path = tmp_path / "g.pb"
    graph_path.write_bytes(_graph().SerializeToString())
    out = tmp_path / "frozen.pb"
    assert main(["freeze", prefix, "--graph", str(graph_path), "--outputs", "y", "-o", str(out)]) == 0
    assert graph_pb2.GraphDef.FromString(out.read_bytes()) == freeze(prefix, _graph(), ["y"])
    assert "4 nodes, 1 constants" in capsys.readouterr().out
    assert main(["freeze", prefix, "--graph", str(graph_path), "--outputs", "nope", "-o", str(tmp_path / "n.pb")]) == 1
    assert not (tmp_path / "n.pb").exists()


def test_freeze_is_exported_lazily():
    assert tfckpt.freeze is freeze
