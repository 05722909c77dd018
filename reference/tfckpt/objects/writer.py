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
``has_checkpoint_values``, true iff a tensor is saved at or below it; a leaf gets one attribute ``VARIABLE_VALUE``
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

Not yet covered: optimizer slot variable references, the ``-N`` suffix and ``checkpoint`` state file.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from typing import Any, Mapping, Union

import numpy as np

from .. import errors
from ..bundle.writer import save
from . import object_graph

__all__ = ["Variable", "build_object_graph", "save_objects"]


@dataclass
class Variable:
    """A leaf with its graph name (TF's ``full_name``; ``tf.Variable(..., name=...)``)."""

    value: Any
    name: str = "Variable"


def _leaf(value) -> Variable:
    return value if isinstance(value, Variable) else Variable(value)


def build_object_graph(root: Mapping[str, Any], *, save_counter: Union[int, None] = None):
    """``(TrackableObjectGraph, {checkpoint_key: array})`` for ``root``, tensors in save order."""
    graph = object_graph.TrackableObjectGraph()
    tensors: dict[str, Any] = {}
    children = dict(sorted(root.items()))
    if save_counter is not None:
        if "save_counter" in children:
            raise errors.InvalidArgumentError("root already has a child 'save_counter'; pass save_counter= or the child, not both")
        children["save_counter"] = Variable(np.int64(save_counter), "save_counter")
    queue = deque([(children, [])])
    graph.nodes.add()
    next_id = 1
    node_id = 0
    seen: dict[int, int] = {id(root): 0}  # one node per object, numbered at its first (BFS) edge
    while queue:
        value, path = queue.popleft()
        node = graph.nodes[node_id]
        if isinstance(value, Mapping):
            for name, child in value.items():
                if not isinstance(name, str):
                    raise errors.InvalidArgumentError(f"object {'/'.join(path) or 'root'}: child name {name!r} is not a string")
                ref = node.children.add()
                ref.local_name = name
                shared = isinstance(child, (Mapping, Variable, np.ndarray))
                if shared and id(child) in seen:
                    ref.node_id = seen[id(child)]
                    continue
                ref.node_id = next_id
                if shared:
                    seen[id(child)] = next_id
                graph.nodes.add()
                next_id += 1
                queue.append((child, path + [name]))
        else:
            leaf = _leaf(value)
            key = object_graph.checkpoint_key(object_graph.object_path_to_string(path), object_graph.VARIABLE_VALUE_KEY)
            attr = node.attributes.add()
            attr.name = object_graph.VARIABLE_VALUE_KEY
            attr.full_name = leaf.name
            attr.checkpoint_key = key
            tensors[key] = np.asarray(leaf.value)
        node_id += 1
    _fill_has_checkpoint_values(graph)
    return graph, tensors


def _fill_has_checkpoint_values(graph) -> None:
    """Every node's ``has_checkpoint_values`` is set: true iff it or an object below it saves a
    tensor (TF 2.21 writes an empty Keras container as ``has_checkpoint_values {}``)."""
    memo: dict[int, bool] = {}

    def has_values(node_id: int, active: frozenset) -> bool:
        if node_id not in memo:
            node = graph.nodes[node_id]
            below = active | {node_id}
            memo[node_id] = bool(node.attributes) or any(
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
