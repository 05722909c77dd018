"""tfckpt.save_objects / save_checkpoint without TensorFlow: the graph they build, and their refusals.

Expected structures are spec/object-graph.md §11's rules applied by hand to small trees (TF 2.21's
own bytes for the same rules are compared in tests/tensorflow/test_objects_tf.py and by the
write_objects conformance cases); every refusal leaves no file.
"""

import os

import numpy as np
import pytest

import tfckpt
from tfckpt import errors
from tfckpt.objects import object_graph
from tfckpt.objects.writer import SlotOptimizer, Tensors, Variable, build_object_graph


def test_slot_variables_are_numbered_after_every_reachable_node():
    """OBJ-23: slots after the breadth-first nodes, slot name by slot name, variable by variable (node order)."""
    k, b = Variable(np.ones(2, np.float32), "k"), Variable(np.zeros(2, np.float32), "b")
    opt = SlotOptimizer({"step": np.int64(1)}, {"m": [(b, np.ones(2, np.float32)), (k, np.ones(2, np.float32))],
                                                "v": [(k, np.ones(2, np.float32))]})
    graph, tensors = build_object_graph({"model": {"k": k, "b": b}, "opt": opt})
    # 0 root, 1 model, 2 opt, 3 k, 4 b, 5 step, then slots: 6 (k, m), 7 (b, m), 8 (k, v)
    refs = [(r.original_variable_node_id, r.slot_name, r.slot_variable_node_id) for r in graph.nodes[2].slot_variables]
    assert refs == [(3, "m", 6), (4, "m", 7), (3, "v", 8)]
    assert len(graph.nodes) == 9 and all(n.has_checkpoint_values.value for n in graph.nodes)
    assert graph.nodes[7].attributes[0].checkpoint_key == "model/b/.OPTIMIZER_SLOT/opt/m/.ATTRIBUTES/VARIABLE_VALUE"
    assert list(tensors)[-3:] == [f"model/{v}/.OPTIMIZER_SLOT/opt/{s}/.ATTRIBUTES/VARIABLE_VALUE"
                                  for v, s in (("k", "m"), ("b", "m"), ("k", "v"))]


def test_own_tensors_escape_names_once_and_keys_twice():
    """OBJ-10, OBJ-24."""
    graph, tensors = build_object_graph({"t": Tensors({"a.b/c": np.float32(1)}, children={"e": {}})})
    (attr,) = graph.nodes[1].attributes
    assert (attr.name, attr.full_name, attr.checkpoint_key) == ("a..b.Sc", "", "t/.ATTRIBUTES/a....b..Sc")
    assert [c.local_name for c in graph.nodes[1].children] == ["e"]
    assert graph.nodes[2].has_checkpoint_values.value is False and graph.nodes[2].HasField("has_checkpoint_values")
    assert list(tensors) == ["t/.ATTRIBUTES/a....b..Sc"]


@pytest.mark.parametrize("root,match", [
    ({"opt": SlotOptimizer({}, {"m": [(Variable(np.ones(1)), np.ones(1))]})}, "not in the object tree"),
    ("two-slots", "two 'm' slots"),
    ({"t": Tensors({"x": np.ones(1), "x.": np.ones(1)}), }, None),
    ({1: np.ones(1)}, "not a string"),
])
def test_refusals_leave_no_file(tmp_path, root, match):
    if root == "two-slots":
        v = Variable(np.ones(1))
        root = {"v": v, "opt": SlotOptimizer({}, {"m": [(v, np.ones(1)), (v, np.ones(1))]})}
    if match is None:  # distinct names, distinct escaped names: accepted
        assert os.path.exists(tfckpt.save_objects(str(tmp_path / "ok"), root) + ".index")
        return
    with pytest.raises(errors.InvalidArgumentError, match=match):
        tfckpt.save_objects(str(tmp_path / "ck"), root)
    assert not os.listdir(tmp_path)


def test_save_checkpoint_writes_numbered_prefix_and_state_file(tmp_path):
    """OBJ-28: <prefix>-N holding save_counter N; the state file names that checkpoint only, relatively."""
    for n in (1, 2):
        prefix = tfckpt.save_checkpoint(str(tmp_path / "ck"), {"v": np.arange(2, dtype=np.float32)}, save_counter=n)
    assert prefix == str(tmp_path / "ck-2")
    with open(tmp_path / "checkpoint", encoding="utf-8") as f:
        assert f.read() == 'model_checkpoint_path: "ck-2"\nall_model_checkpoint_paths: "ck-2"\n'
    assert tfckpt.latest_checkpoint(str(tmp_path)) == prefix and os.path.exists(str(tmp_path / "ck-1.index"))
    with tfckpt.load_checkpoint(prefix) as reader:
        assert reader.get_tensor("save_counter/.ATTRIBUTES/VARIABLE_VALUE") == 2
    graph = tfckpt.keys._checkpoint_graph(prefix)
    assert [c.local_name for c in graph.nodes[0].children] == ["v", "save_counter"]
    assert object_graph.resolve_key(graph, ["save_counter"]) == "save_counter/.ATTRIBUTES/VARIABLE_VALUE"


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3"])
def test_save_checkpoint_refuses_a_bad_counter(tmp_path, bad):
    with pytest.raises(errors.InvalidArgumentError, match="save_counter"):
        tfckpt.save_checkpoint(str(tmp_path / "ck"), {"v": np.ones(1)}, save_counter=bad)
    assert not os.listdir(tmp_path)
