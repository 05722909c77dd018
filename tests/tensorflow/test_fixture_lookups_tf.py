"""Lookups by attribute path, slot and Keras weight path on EVERY fixture with an object graph.

TensorFlow reads each checkpoint (``tf.train.load_checkpoint``) and its own protobuf class
parses the object graph; the expected key of every attribute is the ``checkpoint_key``
TensorFlow stored, reached by the breadth-first first path of local names (OBJ-6, OBJ-8,
computed here from TensorFlow's parse, not by tfckpt).  Every ``full_name`` held by one
variable must resolve to its key; one held by several must be refused as ambiguous.
"""

import collections
import glob
import os

import pytest
import tensorflow as tf
from tensorflow.core.protobuf import trackable_object_graph_pb2

import tfckpt
from tfckpt import errors
from tfckpt.objects import keras as kobj
from tfckpt_conformance.fixtures import FixtureSet

ROOT = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "fixtures")
GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


def _prefix(case):
    if case.kind == "state_file":
        return case.latest_any_of[0] if case.latest_any_of and case.latest_any_of[0] else None
    return case.prefix


def _cases():
    out = []
    for directory in sorted(glob.glob(os.path.join(ROOT, "tf-*"))):
        for case in FixtureSet.load(directory).cases:
            prefix = _prefix(case) if case.result == "valid" else None
            if prefix and "object_graph" in case.tags:
                out.append(pytest.param(prefix, id=f"{os.path.basename(directory)}/{case.id}"))
    return out


CASES = _cases()


def _tf_graph(prefix):
    reader = tf.train.load_checkpoint(prefix)
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor(GRAPH_KEY))
    return graph


def _first_paths(graph):
    paths, queue = {0: []}, collections.deque([0])
    while queue:
        node = queue.popleft()
        for child in graph.nodes[node].children:
            if child.node_id not in paths:
                paths[child.node_id] = paths[node] + [child.local_name]
                queue.append(child.node_id)
    return paths


def test_every_object_graph_fixture_is_here():
    assert len(CASES) >= 40, len(CASES)


@pytest.mark.parametrize("prefix", CASES)
def test_lookups_give_tensorflows_keys(prefix):
    graph = _tf_graph(prefix)
    paths = _first_paths(graph)
    looked_up = 0
    for node_id, path in paths.items():
        for attr in graph.nodes[node_id].attributes:
            assert tfckpt.keys.key_for_object(prefix, path, attr.name) == attr.checkpoint_key, (path, attr.name)
            looked_up += 1
        for slot in graph.nodes[node_id].slot_variables:
            (attr,) = graph.nodes[slot.slot_variable_node_id].attributes
            assert tfckpt.keys.key_for_slot(prefix, paths[slot.original_variable_node_id], path,
                                            slot.slot_name) == attr.checkpoint_key
    assert looked_up or not any(n.attributes for n in graph.nodes)

    keys_of = collections.defaultdict(set)
    for node in graph.nodes:
        for attr in node.attributes:
            if attr.name == "VARIABLE_VALUE" and attr.full_name:
                keys_of[attr.full_name].add(attr.checkpoint_key)
    for name, keys in keys_of.items():
        if len(keys) == 1:
            assert kobj.key_for_weight_path(prefix, name) == next(iter(keys)), name
        else:
            with pytest.raises(errors.NotFoundError, match=f"names {len(keys)} variables"):
                kobj.key_for_weight_path(prefix, name)
    with pytest.raises(errors.NotFoundError, match="no variable named 'no/such/weight'") as info:
        kobj.key_for_weight_path(prefix, "no/such/weight")
    assert all(repr(name) in str(info.value) for name in keys_of)


@pytest.mark.parametrize("prefix", CASES)
def test_a_wrong_edge_names_the_children_there_are(prefix):
    graph = _tf_graph(prefix)
    paths = _first_paths(graph)
    for node_id, path in paths.items():
        if not graph.nodes[node_id].children:
            continue
        with pytest.raises(errors.NotFoundError) as info:
            tfckpt.keys.key_for_object(prefix, path + ["no such child"])
        message = str(info.value)
        assert "has no child 'no such child'" in message
        assert all(repr(c.local_name) in message for c in graph.nodes[node_id].children), message
