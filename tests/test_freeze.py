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


# -- refusals of point 3 of the freezing issue: each names the node or the key (FREEZE-9, FREEZE-12) ----------

def _resource_graph():
    """A resource variable read under TF1 control flow: Switch(handle, pred) -> ReadVariableOp."""
    g = graph_pb2.GraphDef()
    _node(g, "p", "Placeholder", dtype=types_pb2.DT_BOOL)
    _node(g, "w", "VarHandleOp", dtype=types_pb2.DT_FLOAT)
    _node(g, "s", "Switch", ["w", "p"], T=types_pb2.DT_RESOURCE)
    _node(g, "r", "ReadVariableOp", ["s:1"], dtype=types_pb2.DT_FLOAT)
    return g


# spec: "FREEZE-6", "FREEZE-7"
def test_switch_of_a_handle_is_retyped_and_its_read_becomes_identity(prefix):
    g = _resource_graph()
    g.node[2].attr["_output_shapes"].list.shape.add()
    out = freeze(prefix, g, ["r"])
    switch, read = out.node[2], out.node[3]
    assert switch.op == "Switch" and switch.attr["T"].type == types_pb2.DT_FLOAT
    assert "_output_shapes" not in switch.attr and list(switch.input) == ["w", "p"]
    assert read.op == "Identity" and list(read.input) == ["s:1"] and read.attr["T"].type == types_pb2.DT_FLOAT


# spec: "FREEZE-9"
def test_merge_of_resource_handles_is_refused(prefix):
    g = _resource_graph()
    _node(g, "m", "Merge", ["s", "s:1"], T=types_pb2.DT_RESOURCE)
    _node(g, "mr", "ReadVariableOp", ["m"], dtype=types_pb2.DT_FLOAT)
    with pytest.raises(errors.UnimplementedError, match="'m' \\(Merge\\) uses variable 's'") as info:
        freeze(prefix, g, ["mr"])
    assert info.value.key == "m"


# spec: "FREEZE-9"
def test_merge_of_values_is_left_alone(prefix):
    g = _graph()
    _node(g, "m", "Merge", ["w/read", "x"], T=types_pb2.DT_FLOAT)
    out = freeze(prefix, g, ["m"])
    assert out.node[-1].op == "Merge" and out.node[-1].attr["T"].type == types_pb2.DT_FLOAT


# spec: "FREEZE-9"
def test_op_with_a_reference_input_is_refused(prefix):
    g = _graph()
    _node(g, "rs", "RefSwitch", ["w", "x"], T=types_pb2.DT_FLOAT)
    with pytest.raises(errors.UnimplementedError, match="'rs' \\(RefSwitch\\)") as info:
        freeze(prefix, g, ["rs"])
    assert info.value.key == "rs"


# spec: "FREEZE-9"
@pytest.mark.parametrize("op", ["StatefulPartitionedCall", "If", "While"])
def test_function_call_taking_a_handle_is_refused(prefix, op):
    g = _resource_graph()
    _node(g, "call", op, ["p", "w"])
    with pytest.raises(errors.UnimplementedError, match=f"'call' \\({op}\\)"):
        freeze(prefix, g, ["call"])


# spec: "FREEZE-6"
def test_variable_as_a_switch_predicate_is_refused(tmp_path):
    p = tfckpt.save(str(tmp_path / "b"), {"flag": np.bool_(True)})
    g = graph_pb2.GraphDef()
    _node(g, "x", "Placeholder", dtype=types_pb2.DT_FLOAT)
    _node(g, "flag", "VariableV2", dtype=types_pb2.DT_BOOL)
    _node(g, "flag/read", "Identity", ["flag"], T=types_pb2.DT_BOOL)
    _node(g, "s", "Switch", ["x", "flag/read"], T=types_pb2.DT_FLOAT)
    with pytest.raises(errors.UnimplementedError, match="'s' \\(Switch\\).*input 1") as info:
        freeze(p, g, ["s"])
    assert info.value.key == "s"


# spec: "FREEZE-12"
def test_missing_output_names_the_node_and_lists_near_names(prefix):
    with pytest.raises(errors.NotFoundError) as info:
        freeze(prefix, _graph(), ["w/reed"])
    assert info.value.key == "w/reed" and "near names: w/read" in str(info.value)


# spec: "FREEZE-12"
@pytest.mark.parametrize("outputs", [[], None])
def test_no_outputs_is_refused(prefix, outputs):
    with pytest.raises(errors.InvalidArgumentError, match="no output node"):
        freeze(prefix, _graph(), outputs)


# spec: "FREEZE-12"
def test_input_naming_an_absent_node_is_refused(prefix):
    g = _graph()
    g.node[-1].input.append("^ghost")
    with pytest.raises(errors.DataLossError, match="'ghost'") as info:
        freeze(prefix, g, ["y"])
    assert info.value.key == "ghost"


# spec: "FREEZE-12"
def test_missing_variable_lists_near_keys(tmp_path):
    p = tfckpt.save(str(tmp_path / "c"), {"ww": np.zeros((2, 3), np.float32)})
    with pytest.raises(errors.NotFoundError, match="near names: ww") as info:
        freeze(p, _graph(), ["y"])
    assert info.value.key == "w" and "'w' (VariableV2)" in str(info.value)


# spec: "FREEZE-2"
def test_tensor_name_output_is_taken_as_its_node(prefix):
    assert freeze(prefix, _graph(), ["y:0"]) == freeze(prefix, _graph(), ["y"])


# spec: "FREEZE-13"
def test_old_variable_op_is_rewritten_like_variable_v2(prefix):
    assert freeze(prefix, _graph("Variable"), ["y"]) == freeze(prefix, _graph(), ["y"])


# spec: "FREEZE-10"
def test_size_estimate_counts_constants_from_shapes_before_reading_any(tmp_path, monkeypatch):
    """The estimate is the graph plus shape x itemsize of each constant, and no value is read."""
    import tfckpt.graph.freeze as module
    from tfckpt.checkpoint_reader import CheckpointReader

    p = tfckpt.save(str(tmp_path / "big"), {"w": np.zeros((2, 3), np.float32)})
    g = _graph()
    kept = module.extract_sub_graph(g, ["y"]).ByteSize()
    monkeypatch.setattr(CheckpointReader, "get_tensor", lambda *a, **k: pytest.fail("value read before the check"))
    monkeypatch.setattr(module, "PROTOBUF_LIMIT", kept + 6 * 4 - 1)
    with pytest.raises(errors.ResourceExhaustedError, match=f"at least {kept + 24} bytes.*2 GiB"):
        freeze(p, g, ["y"])
    monkeypatch.setattr(module, "PROTOBUF_LIMIT", kept + 6 * 4)
    monkeypatch.undo()
    assert freeze(p, g, ["y"]).node[1].op == "Const"


# spec: "FREEZE-10"
def test_size_estimate_of_a_partitioned_piece_uses_its_slice(tmp_path, monkeypatch):
    import tfckpt.graph.freeze as module

    class Reader:
        path = "r"

        def get_variable_to_shape_map(self):
            return {"emb": [1 << 20, 1 << 10]}  # 4 GiB of float32 in full

    g = graph_pb2.GraphDef()
    node = _node(g, "emb/part_1", "VariableV2", dtype=types_pb2.DT_FLOAT)
    keys = {"emb/part_1": ("emb", "1048576 1024 0,1024:-")}
    module._check_size(g, [node], keys, Reader())  # 1024 x 1024 x 4 bytes: fits
    keys = {"emb/part_1": ("emb", "1048576 1024 0,600000:-")}
    with pytest.raises(errors.ResourceExhaustedError, match="variable 'emb/part_1', is 2457600000 bytes") as info:
        module._check_size(g, [node], keys, Reader())
    assert info.value.key == "emb"


def _freeze_fixtures():
    import json
    import os

    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "tf-2.21.0")
    with open(os.path.join(root, "manifest.json"), encoding="utf-8") as handle:
        cases = [c for c in json.load(handle)["cases"] if c["kind"] == "freeze"]
    return [(os.path.join(root, c["id"]), c) for c in cases]


@pytest.mark.parametrize("directory, case", _freeze_fixtures(), ids=lambda x: x["id"] if isinstance(x, dict) else "")
def test_streaming_write_equals_tensorflows_frozen_graph(directory, case, tmp_path):
    """write_frozen streams node by node; its bytes are TensorFlow's frozen.pb (deterministic form)."""
    import os

    from tfckpt.graph.freeze import write_frozen

    request = dict(case["expected"]["freeze"])
    outputs = request.pop("outputs")
    dst = tmp_path / "frozen.pb"
    write_frozen(dst, os.path.join(directory, case["prefix"]), os.path.join(directory, case["expected"]["graph"]),
                 outputs, **request)
    with open(os.path.join(directory, case["expected"]["frozen"]), "rb") as handle:
        assert dst.read_bytes() == handle.read()


def test_streaming_write_refuses_before_writing(tmp_path):
    import os

    from tfckpt.graph.freeze import write_frozen

    (directory, case), = [x for x in _freeze_fixtures() if x[1]["id"] == "freeze-tf1-ema"]
    dst = tmp_path / "frozen.pb"
    with pytest.raises(errors.NotFoundError, match="no_such_output"):
        write_frozen(dst, os.path.join(directory, case["prefix"]), os.path.join(directory, case["expected"]["graph"]),
                     ["no_such_output"])
    assert list(tmp_path.iterdir()) == []
