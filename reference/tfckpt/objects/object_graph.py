"""TF2 object-based checkpoints: the object graph and its keys (spec: ``spec/object-graph.md``).

TensorFlow's counterparts: ``tensorflow/python/checkpoint/checkpoint.py``,
``tensorflow/python/trackable/trackable_utils.py``,
``tensorflow/core/protobuf/trackable_object_graph.proto``.

Strategy
--------
A checkpoint written by ``tf.train.Checkpoint`` is an ordinary bundle with one
extra tensor: the scalar string ``_CHECKPOINTABLE_OBJECT_GRAPH``, a serialized
``TrackableObjectGraph``.  Its nodes are the saved Python objects (node 0 is
the root), its ``children`` edges carry attribute names, and each node's
``attributes`` list the tensors it saved with their ``checkpoint_key`` (the
bundle key) and ``full_name`` (the variable's graph name, which TF1-style
code and converters want).

Keys are built from the path of edge names from the root, each name escaped
(``.`` -> ``..`` then ``/`` -> ``.S``) and joined by ``/``::

    <escaped path>/.ATTRIBUTES/<escaped attribute name>
    model/layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE
    <variable path>/.OPTIMIZER_SLOT/<optimizer path>/<slot name>/.ATTRIBUTES/VARIABLE_VALUE

This module sits above the bundle layer: it reads through a
:class:`tfckpt.CheckpointReader` and never touches files itself.
"""

from __future__ import annotations

from collections import deque
from typing import Iterable, Optional

from google.protobuf.message import DecodeError

from .. import errors
from ..proto import trackable_object_graph_pb2

__all__ = [
    "OBJECT_GRAPH_KEY",
    "escape_local_name",
    "object_path_to_string",
    "checkpoint_key",
    "read_object_graph",
    "parse_object_graph",
    "node_paths",
    "slot_variable_paths",
    "full_name_to_key",
    "VARIABLE_VALUE_KEY",
    "resolve_node",
    "attribute_key",
    "resolve_key",
    "resolve_slot_key",
]

#: The bundle key of the serialized object graph (``OBJECT_GRAPH_PROTO_KEY``).
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
OBJECT_ATTRIBUTES_NAME = ".ATTRIBUTES"
OPTIMIZER_SLOTS_NAME = ".OPTIMIZER_SLOT"
#: The attribute name of a variable's value (``trackable.VARIABLE_VALUE_KEY``).
VARIABLE_VALUE_KEY = "VARIABLE_VALUE"

TrackableObjectGraph = trackable_object_graph_pb2.TrackableObjectGraph


def escape_local_name(name: str) -> str:
    """Escape one edge or attribute name: ``.`` becomes ``..``, then ``/`` becomes ``.S``."""
    return name.replace(".", "..").replace("/", ".S")


def object_path_to_string(names: Iterable[str]) -> str:
    return "/".join(escape_local_name(name) for name in names)


def checkpoint_key(object_path: str, local_name: str) -> str:
    """``<object_path>/.ATTRIBUTES/<escaped local_name>``."""
    return f"{object_path}/{OBJECT_ATTRIBUTES_NAME}/{escape_local_name(local_name)}"


def parse_object_graph(serialized: bytes) -> TrackableObjectGraph:
    graph = TrackableObjectGraph()
    try:
        graph.ParseFromString(serialized)
    except DecodeError as exc:
        raise errors.DataLossError(f"object graph is not a TrackableObjectGraph: {exc}", key=OBJECT_GRAPH_KEY) from None
    count = len(graph.nodes)
    for node_id, node in enumerate(graph.nodes):
        for child in node.children:
            if not 0 <= child.node_id < count:
                raise errors.DataLossError(
                    f"node {node_id} has child {child.node_id}, outside the {count} nodes", key=OBJECT_GRAPH_KEY
                )
        for slot in node.slot_variables:
            for ref in (slot.original_variable_node_id, slot.slot_variable_node_id):
                if not 0 <= ref < count:
                    raise errors.DataLossError(
                        f"node {node_id} has a slot reference to node {ref}, outside the graph", key=OBJECT_GRAPH_KEY
                    )
    return graph


def read_object_graph(reader) -> Optional[TrackableObjectGraph]:
    """The object graph of a checkpoint read by ``reader``, or None for a name-based checkpoint."""
    if not reader.has_tensor(OBJECT_GRAPH_KEY):
        return None
    value = reader.get_tensor(OBJECT_GRAPH_KEY)
    if value.shape != () or not isinstance(value.item(), bytes):
        raise errors.DataLossError("object graph entry is not a scalar string", key=OBJECT_GRAPH_KEY)
    return parse_object_graph(value.item())


def node_paths(graph: TrackableObjectGraph) -> dict[int, str]:
    """Each reachable node's escaped object path, by breadth-first search from the root (node 0).

    This is the order TensorFlow uses to name objects; the first path found to
    a node wins.
    """
    paths: dict[int, str] = {}
    if not graph.nodes:
        return paths
    paths[0] = ""
    queue = deque([0])
    while queue:
        node_id = queue.popleft()
        for child in graph.nodes[node_id].children:
            if child.node_id in paths:
                continue
            prefix = paths[node_id]
            name = escape_local_name(child.local_name)
            paths[child.node_id] = f"{prefix}/{name}" if prefix else name
            queue.append(child.node_id)
    return paths


def slot_variable_paths(graph: TrackableObjectGraph, paths: Optional[dict[int, str]] = None) -> dict[int, str]:
    """Object paths of slot variables, which hang off their optimizer, not off ``children``::

        <variable path>/.OPTIMIZER_SLOT/<optimizer path>/<escaped slot name>
    """
    paths = node_paths(graph) if paths is None else paths
    out = {}
    for optimizer_id, node in enumerate(graph.nodes):
        if optimizer_id not in paths:
            continue
        for slot in node.slot_variables:
            variable_path = paths.get(slot.original_variable_node_id)
            if variable_path is None:
                continue
            out[slot.slot_variable_node_id] = (
                f"{variable_path}/{OPTIMIZER_SLOTS_NAME}/{paths[optimizer_id]}/{escape_local_name(slot.slot_name)}"
            )
    return out


def full_name_to_key(graph: TrackableObjectGraph) -> dict[str, str]:
    """``{variable full_name: checkpoint key}`` for every attribute that has a full name.

    This is how a TF2 checkpoint is mapped back to TF1 variable names (e.g. for
    converting weights): ``dense/kernel`` -> ``model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE``.
    """
    mapping = {}
    for node in graph.nodes:
        for attribute in node.attributes:
            if attribute.full_name:
                mapping[attribute.full_name] = attribute.checkpoint_key
    return mapping


# -- from an object to its key (spec/object-graph.md §4.6, OBJ-14, OBJ-15) ---------------------------------
#
# A key is *looked up* in the graph, never rebuilt from the path the caller
# gives: the caller's route to an object need not be the breadth-first route
# TensorFlow used to name it (a shared object has several), and attributes
# may carry keys of any shape (prefix-style legacy saveables, OBJ-13).
#
#   path ["m.x/y", "lst", "1"]     node 0 --m.x/y--> 1 --lst--> 4 --1--> 6
#                                  node 6 attribute VARIABLE_VALUE
#                                  -> checkpoint_key "m..x.Sy/d/e/.ATTRIBUTES/VARIABLE_VALUE"


def resolve_node(graph, path: Iterable[str], *, key: Optional[str] = OBJECT_GRAPH_KEY) -> int:
    """The node reached from the root by following ``path``, a sequence of *unescaped* local names.

    At each step the first child (in list order) whose ``local_name`` equals the
    name byte for byte is taken.  A step with no such child raises :class:`NotFoundError`.
    ``graph`` is a checked ``TrackableObjectGraph``, or any graph whose nodes have the
    same ``children`` (a SavedModel's ``SavedObjectGraph``); ``key`` is what errors name.
    """
    if not graph.nodes:
        raise errors.NotFoundError("the object graph has no nodes", key=key)
    node_id = 0
    walked: list[str] = []
    for name in path:
        for child in graph.nodes[node_id].children:
            if child.local_name == name:
                node_id = child.node_id
                break
        else:
            where = "/".join(walked) or "the root"
            existing = [child.local_name for child in graph.nodes[node_id].children]
            raise errors.NotFoundError(
                f"object {where} (node {node_id}) has no child {name!r}; its children are {existing}", key=key
            )
        walked.append(name)
    return node_id


def attribute_key(graph: TrackableObjectGraph, node_id: int, attribute: str = VARIABLE_VALUE_KEY) -> str:
    """The ``checkpoint_key`` of ``attribute`` of node ``node_id``: the attribute named so,
    else the one named with the escaped name (OBJ-10); :class:`NotFoundError` if neither exists."""
    attributes = graph.nodes[node_id].attributes
    for wanted in (attribute, escape_local_name(attribute)):
        for candidate in attributes:
            if candidate.name == wanted:
                return candidate.checkpoint_key
    names = [a.name for a in attributes]
    raise errors.NotFoundError(f"node {node_id} has no attribute {attribute!r} (it has {names})", key=OBJECT_GRAPH_KEY)


def resolve_key(graph: TrackableObjectGraph, path: Iterable[str], attribute: str = VARIABLE_VALUE_KEY) -> str:
    """The bundle key of ``attribute`` of the object at ``path`` (OBJ-14).

    ``resolve_key(graph, ["layer", "kernel"])`` -> ``"layer/kernel/.ATTRIBUTES/VARIABLE_VALUE"``.
    """
    return attribute_key(graph, resolve_node(graph, path), attribute)


def resolve_slot_key(
    graph: TrackableObjectGraph, variable: Iterable[str], optimizer: Iterable[str], slot_name: str
) -> str:
    """The bundle key of the optimizer slot ``slot_name`` (``m``, ``momentum`` ...) that the
    optimizer at path ``optimizer`` keeps for the variable at path ``variable`` (OBJ-15)."""
    variable_id = resolve_node(graph, variable)
    optimizer_id = resolve_node(graph, optimizer)
    for slot in graph.nodes[optimizer_id].slot_variables:
        if slot.original_variable_node_id == variable_id and slot.slot_name == slot_name:
            return attribute_key(graph, slot.slot_variable_node_id)
    raise errors.NotFoundError(
        f"optimizer node {optimizer_id} has no slot {slot_name!r} for variable node {variable_id}", key=OBJECT_GRAPH_KEY
    )
