"""Write TF2 object-based checkpoints, as ``tf.train.Checkpoint.write`` does, without TensorFlow.

Strategy
--------
The caller describes the objects as a nested mapping: a key is an edge name
(a Python attribute name, a list index as ``"0"``), a value is either another
mapping (a trackable object with children) or a leaf -- a numpy array, or a
:class:`Variable` carrying its graph name.  The root mapping stands for the
``tf.train.Checkpoint(**root)`` object::

    {"model": {"dense": {"kernel": w, "bias": b}}, "step": Variable(7, "step")}

Nodes are numbered breadth-first from the root, children in mapping order;
``tf.train.Checkpoint`` keeps its keyword arguments sorted by name, so the
root's children are sorted here too (checked against TF 2.21: ``Checkpoint(zz=.., b=..)``
lists ``b`` then ``zz``), while a ``tf.Module``'s children follow attribute
assignment order -- give them in that order.  The same object (a mapping, a
:class:`Variable` or an ndarray, by identity) placed under several edges is one
node, numbered where breadth-first search first reaches it, and its key is that
first path -- as Keras 3 does, whose optimizer lists each model variable under
``_trainable_variables/N`` before the model's own ``_operations/N/_kernel`` edge.  Every node gets
``has_checkpoint_values``, true iff a tensor or a slot reference is at or below it; a leaf gets one attribute ``VARIABLE_VALUE``
whose ``full_name`` is the variable's name (``"Variable"`` for an unnamed
``tf.Variable``) and whose ``checkpoint_key`` is built by
:func:`tfckpt.objects.object_graph.checkpoint_key`.  Tensors are written in
node order, then the serialized ``TrackableObjectGraph`` under
``_CHECKPOINTABLE_OBJECT_GRAPH`` last -- the order TF 2.21's ``SaveV2`` receives
(``tensorflow/python/checkpoint/save_util.py``, ``graph_view.py``), which makes
the ``.index`` and ``.data`` files byte-identical to TensorFlow's.

``save_counter=N`` adds what ``tf.train.Checkpoint.save`` adds: an int64 variable named
``save_counter`` holding N, as the root's LAST child, after the sorted keyword arguments
(TF 2.21's bytes: ``Checkpoint(zz=.., b=..).save`` lists ``b``, ``zz``, ``save_counter``).
:func:`save_checkpoint` is ``Checkpoint.save`` itself: ``<prefix>-N`` with that counter, then the
directory's ``checkpoint`` state file naming only that checkpoint, by a relative path
(``update_checkpoint_state_internal(save_relative_paths=True)`` with one path; spec/object-graph.md OBJ-28).

Two more kinds of node (spec/object-graph.md §11, OBJ-22..OBJ-28):

* :class:`Tensors` -- an object that saves its own tensors (``_serialize_to_tensors``): one
  attribute per tensor, ``name`` escaped once, the key escaped twice (OBJ-10), no ``full_name``.
* :class:`SlotOptimizer` -- a ``tf.compat.v1.train`` optimizer: children as a mapping, and slot
  variables ``{slot name: [(variable, value), ...]}``.  Slot variables are not children: they are
  numbered after every node breadth-first search reaches, optimizer by optimizer (node order),
  slot name by slot name (in the order given: TF's optimizers give them sorted), variable by
  variable (node order); each gets a ``SlotVariableReference`` on its optimizer and the key
  ``<variable path>/.OPTIMIZER_SLOT/<optimizer path>/<slot>/.ATTRIBUTES/VARIABLE_VALUE``
  (``tensorflow/python/checkpoint/util.py``, ``serialize_slot_variables``).
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence, Union

import numpy as np

from .. import errors
from .. import state_file
from ..bundle.writer import save
from . import object_graph

__all__ = ["Variable", "Tensors", "SlotOptimizer", "build_object_graph", "save_objects", "save_checkpoint"]


@dataclass
class Variable:
    """A leaf with its graph name (TF's ``full_name``; ``tf.Variable(..., name=...)``)."""

    value: Any
    name: str = "Variable"


@dataclass
class Tensors:
    """An object that saves its own tensors: ``{name: array}`` in the order it produces them, and
    may have ``children`` as well (a mapping, like any object)."""

    tensors: Mapping[str, Any]
    children: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class SlotOptimizer:
    """An optimizer with slot variables: ``children`` (a mapping, like any object) and ``slots``,
    ``{slot name: [(variable, slot value), ...]}``; ``variable`` is the very :class:`Variable` (or
    ndarray) placed elsewhere in the tree, a slot value an array or a :class:`Variable` (its
    ``full_name``, e.g. ``kernel/Adam``)."""

    children: Mapping[str, Any] = field(default_factory=dict)
    slots: Mapping[str, Sequence[tuple[Any, Any]]] = field(default_factory=dict)


def _leaf(value) -> Variable:
    return value if isinstance(value, Variable) else Variable(value)


def _children(value) -> Union[Mapping[str, Any], None]:
    if isinstance(value, (SlotOptimizer, Tensors)):
        return value.children
    return value if isinstance(value, Mapping) else None


def build_object_graph(root: Mapping[str, Any], *, save_counter: Union[int, None] = None):
    """``(TrackableObjectGraph, {checkpoint_key: array})`` for ``root``, tensors in save order."""
    graph = object_graph.TrackableObjectGraph()
    children = dict(sorted(root.items()))
    if save_counter is not None:
        if "save_counter" in children:
            raise errors.InvalidArgumentError("root already has a child 'save_counter'; pass save_counter= or the child, not both")
        children["save_counter"] = Variable(np.int64(save_counter), "save_counter")
    # Breadth-first numbering: nodes[i] = (value, edge names, escaped object path).
    nodes: list = [(children, [], "")]
    seen: dict[int, int] = {id(root): 0}  # one node per object, numbered at its first (BFS) edge
    graph.nodes.add()
    queue = deque([0])
    while queue:
        node_id = queue.popleft()
        value, path, key_path = nodes[node_id]
        mapping = _children(value)
        if mapping is None:
            continue
        for name, child in mapping.items():
            if not isinstance(name, str):
                raise errors.InvalidArgumentError(f"object {'/'.join(path) or 'root'}: child name {name!r} is not a string")
            ref = graph.nodes[node_id].children.add()
            ref.local_name = name
            shared = isinstance(child, (Mapping, Variable, np.ndarray, Tensors, SlotOptimizer))
            if shared and id(child) in seen:
                ref.node_id = seen[id(child)]
                continue
            ref.node_id = len(nodes)
            if shared:
                seen[id(child)] = len(nodes)
            escaped = object_graph.escape_local_name(name)
            nodes.append((child, path + [name], f"{key_path}/{escaped}" if key_path else escaped))
            graph.nodes.add()
            queue.append(ref.node_id)
    _add_slot_variables(graph, nodes, seen)
    tensors: dict[str, Any] = {}
    for node_id, (value, _, key_path) in enumerate(nodes):
        if _children(value) is not None and not isinstance(value, Tensors):
            continue
        node = graph.nodes[node_id]
        items = value.tensors.items() if isinstance(value, Tensors) else [(object_graph.VARIABLE_VALUE_KEY, value)]
        for name, tensor in items:
            attr = node.attributes.add()
            if isinstance(value, Tensors):  # named by the object: escaped here, and again in the key (OBJ-10)
                attr.name = object_graph.escape_local_name(name)
            else:
                attr.name = name
                attr.full_name = _leaf(tensor).name
                tensor = _leaf(tensor).value
            attr.checkpoint_key = object_graph.checkpoint_key(key_path, attr.name)
            if attr.checkpoint_key in tensors:
                raise errors.InvalidArgumentError(f"two attributes have the key {attr.checkpoint_key!r}", key=attr.checkpoint_key)
            tensors[attr.checkpoint_key] = np.asarray(tensor)
    _fill_has_checkpoint_values(graph)
    return graph, tensors


def _add_slot_variables(graph, nodes: list, seen: dict) -> None:
    """Append the slot variables' nodes and references, in TensorFlow's order (module docstring)."""
    reachable = len(nodes)
    for optimizer_id in range(reachable):
        optimizer = nodes[optimizer_id][0]
        if not isinstance(optimizer, SlotOptimizer):
            continue
        for slot_name, pairs in optimizer.slots.items():
            by_variable: dict[int, Any] = {}
            for variable, value in pairs:
                variable_id = seen.get(id(variable))
                if variable_id is None or variable_id >= reachable:
                    raise errors.InvalidArgumentError(
                        f"optimizer {nodes[optimizer_id][2] or 'root'}: slot {slot_name!r} is for a variable "
                        f"that is not in the object tree")
                if variable_id in by_variable:
                    raise errors.InvalidArgumentError(
                        f"optimizer {nodes[optimizer_id][2]}: two {slot_name!r} slots for {nodes[variable_id][2]}")
                by_variable[variable_id] = value
            for variable_id in sorted(by_variable):
                ref = graph.nodes[optimizer_id].slot_variables.add()
                ref.original_variable_node_id = variable_id
                ref.slot_name = slot_name
                ref.slot_variable_node_id = len(nodes)
                slot_path = (f"{nodes[variable_id][2]}/{object_graph.OPTIMIZER_SLOTS_NAME}/{nodes[optimizer_id][2]}/"
                             f"{object_graph.escape_local_name(slot_name)}")
                nodes.append((by_variable[variable_id], None, slot_path))
                graph.nodes.add()


def _fill_has_checkpoint_values(graph) -> None:
    """Every node's ``has_checkpoint_values`` is set: true iff it or an object below it saves a
    tensor (TF 2.21 writes an empty Keras container as ``has_checkpoint_values {}``)."""
    memo: dict[int, bool] = {}

    def has_values(node_id: int, active: frozenset) -> bool:
        if node_id not in memo:
            node = graph.nodes[node_id]
            below = active | {node_id}
            memo[node_id] = bool(node.attributes) or bool(node.slot_variables) or any(
                has_values(c.node_id, below) for c in node.children if c.node_id not in below)
        return memo[node_id]

    for node_id, node in enumerate(graph.nodes):
        node.has_checkpoint_values.value = has_values(node_id, frozenset())


def save_objects(prefix: Union[str, "os.PathLike[str]"], root: Mapping[str, Any], *, sync: bool = True,
                 save_counter: Union[int, None] = None) -> str:
    """Write ``root`` (see the module docstring) as ``tf.train.Checkpoint(**root).write(prefix)`` would.

    With ``save_counter=N`` the graph holds the counter ``Checkpoint.save`` writes (its N-th save
    writes N).  Returns the prefix.  The files restore in TensorFlow with ``assert_consumed()``.
    """
    graph, tensors = build_object_graph(root, save_counter=save_counter)
    tensors[object_graph.OBJECT_GRAPH_KEY] = np.array(graph.SerializeToString(), dtype=object)
    return save(prefix, tensors, sync=sync)


def save_checkpoint(file_prefix: Union[str, "os.PathLike[str]"], root: Mapping[str, Any], *, save_counter: int,
                    sync: bool = True) -> str:
    """``tf.train.Checkpoint(**root).save(file_prefix)`` when its counter reaches ``save_counter``:
    writes ``<file_prefix>-<save_counter>`` holding that counter, then points the directory's
    ``checkpoint`` state file at it (that checkpoint only, a relative path).  Returns the prefix."""
    if isinstance(save_counter, bool) or not isinstance(save_counter, (int, np.integer)) or save_counter < 1:
        raise errors.InvalidArgumentError(f"save_counter must be an integer >= 1 (the save's number), not {save_counter!r}")
    prefix = f"{os.fspath(file_prefix)}-{int(save_counter)}"
    save_objects(prefix, root, sync=sync, save_counter=int(save_counter))
    state_file.update_checkpoint_state(os.path.dirname(prefix), prefix, [prefix], save_relative_paths=True)
    return prefix
