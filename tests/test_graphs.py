"""tfckpt.meta_graph and tfckpt.object_graph against TensorFlow-written fixtures."""

import json
import os

import numpy as np
import pytest

import tfckpt
from tfckpt.graph import meta_graph
from tfckpt.objects import object_graph
from tfckpt_conformance import description as D

ROOT = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "tf-2.21.0")
with open(os.path.join(ROOT, "manifest.json"), encoding="utf-8") as _handle:
    CASES = json.load(_handle)["cases"]


def _cases(tag):
    return [c for c in CASES if tag in c["tags"] and c["result"] == "valid" and c["kind"] == "checkpoint"]


@pytest.mark.parametrize("case", _cases("meta_graph"), ids=lambda c: c["id"])
def test_meta_graph_variables_name_the_checkpoint_keys(case):
    prefix = os.path.join(ROOT, case["id"], case["prefix"])
    meta = meta_graph.read_meta_graph(prefix)
    assert meta.saver_def.filename_tensor_name == "save/Const:0"
    with tfckpt.load_checkpoint(prefix) as reader:
        keys = set(reader.get_variable_to_shape_map())
    for variable in meta_graph.variable_defs(meta):
        name = variable.variable_name
        assert name.endswith(":0")
        full = variable.save_slice_info_def.full_name or name[: -len(":0")]
        assert full in keys, f"{full} not in the checkpoint"


def test_meta_graph_filename_strips_v1_shard_suffix():
    assert meta_graph.meta_graph_filename("d/model.ckpt-7-00000-of-00003") == "d/model.ckpt-7.meta"
    assert meta_graph.meta_graph_filename("d/model.ckpt-7-?????-of-00003") == "d/model.ckpt-7.meta"
    assert meta_graph.meta_graph_filename("d/ckpt-3") == "d/ckpt-3.meta"


def test_frozen_graph_constants_match_the_description():
    case_dir = os.path.join(ROOT, "frozen-graph")
    constants = meta_graph.graph_constants(meta_graph.read_graph_def(os.path.join(case_dir, "frozen.pb")))
    expected = D.load(case_dir)
    got = D.Description([D.tensor_from_array(k, "float32", constants[k]) for k in expected.keys()])
    assert not D.compare(expected, got)


@pytest.mark.parametrize("case", _cases("object_graph"), ids=lambda c: c["id"])
def test_object_graph_paths_rebuild_every_checkpoint_key(case):
    with tfckpt.load_checkpoint(os.path.join(ROOT, case["id"], case["prefix"])) as reader:
        graph = object_graph.read_object_graph(reader)
        keys = set(reader.get_variable_to_shape_map())
    paths = object_graph.node_paths(graph)
    paths.update(object_graph.slot_variable_paths(graph, paths))
    for node_id, node in enumerate(graph.nodes):
        for attribute in node.attributes:
            if node_id in paths:
                assert object_graph.checkpoint_key(paths[node_id], attribute.name) == attribute.checkpoint_key
    stored = {a.checkpoint_key for n in graph.nodes for a in n.attributes}
    for key in keys - {object_graph.OBJECT_GRAPH_KEY}:
        if "/.ATTRIBUTES/" in key and key not in stored:
            # Legacy saveables (a hash table) record a prefix: <key>-keys, <key>-values (OBJ-13).
            assert any(key.startswith(k + "-") for k in stored), key


def test_escaping_and_full_names():
    assert object_graph.escape_local_name("a.b/c") == "a..b.Sc"
    assert object_graph.checkpoint_key("net/dense", "x.y") == "net/dense/.ATTRIBUTES/x..y"
    with tfckpt.load_checkpoint(os.path.join(ROOT, "tf2-optimizer-slots", "ckpt")) as reader:
        graph = object_graph.read_object_graph(reader)
        mapping = object_graph.full_name_to_key(graph)
        assert mapping and all(reader.has_tensor(key) for key in mapping.values())
    slots = object_graph.slot_variable_paths(graph)
    assert any("/.OPTIMIZER_SLOT/" in path for path in slots.values())


def test_name_based_checkpoint_has_no_object_graph():
    with tfckpt.load_checkpoint(os.path.join(ROOT, "tf1-saver-global-step", "model.ckpt-1000")) as reader:
        assert object_graph.read_object_graph(reader) is None
