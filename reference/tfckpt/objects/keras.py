"""Keras 3 models and optimizers as the object tree ``tf.train.Checkpoint(model=..., optimizer=...)`` saves.

Strategy
--------
A porting user knows a Keras 3 model by its layers and its weight paths
(``model.weights[i].path``, ``sequential/dense/kernel``); the checkpoint knows it
by edges of the object graph.  This module builds, from plain arrays, the
nested mapping :func:`tfckpt.save_objects` writes, reproducing what TF 2.21 +
Keras 3.15.1 save (every fact read off checkpoints they wrote; spec/keras.md)::

    model                      Sequential: _functional/<F>;  functional Model: <F> on the model itself
      <F> = _tracked _inbound_nodes _outbound_nodes _losses _losses_override
            call_signature_parameters _call_has_context_arg   (seven empty containers)
            _operations/N          every layer, InputLayer included (weightless ones are empty nodes)
      subclassed Model: one edge per layer attribute, in assignment order
      optimizer, _compiled_trainable_state   after compile(): the shared optimizer node, an empty node
    a layer                    kernel -> _kernel, embeddings -> _embeddings (Dense, Conv, Embedding keep a
                               private attribute), other weights by name; an RNN's cell under ``cell``
    optimizer                  _variables/N (iteration, learning_rate, then each trainable variable's
                               slots), _trainable_variables/N (the model's own variable nodes),
                               _trainable_variables_indices (empty), _iterations, _learning_rate,
                               slot lists: Adam ``_momentums``, ``_velocities``; SGD ``momentums``

A variable reached both from the optimizer and from its layer is one node: the
writer numbers it on its breadth-first first path, ``optimizer/_trainable_variables/N``.
``full_name`` is the weight path for Sequential and functional models, and
``<model name>/<variable name>`` (``sub/kernel``) for a subclassed model's layer
weights; optimizer variables are ``<optimizer name>/iteration``,
``.../learning_rate`` and ``.../<weight path with / as _>_<slot>``.

The reverse direction -- a weight path to its key in an existing checkpoint --
is :func:`key_for_weight_path`, which matches ``full_name`` and lists the names
there are when none matches.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence, Union

from .. import errors
from ..checkpoint_reader import resolve_checkpoint_path
from . import keys, object_graph
from .writer import Variable

__all__ = ["Layer", "Optimizer", "model_tree", "checkpoint_tree", "key_for_weight_path", "weight_paths_to_keys"]

FUNCTIONAL_CONTAINERS = ("_tracked", "_inbound_nodes", "_outbound_nodes", "_losses", "_losses_override",
                         "call_signature_parameters", "_call_has_context_arg")
#: Weights a layer keeps under a private attribute (a property in front, for LoRA/quantization).
PRIVATE_WEIGHTS = {"kernel": "_kernel", "embeddings": "_embeddings"}
#: Weights Keras creates non-trainable (the optimizer keeps no slot for them).
NON_TRAINABLE = frozenset({"moving_mean", "moving_variance"})
#: The optimizer's slot lists, in the order its ``_variables`` interleaves them.
SLOT_LISTS = {"adam": (("momentum", "_momentums"), ("velocity", "_velocities")),
              "sgd": (("momentum", "momentums"),)}


@dataclass
class Layer:
    """One entry of a model's ``_operations`` (or one attribute of a subclassed model).

    ``weights`` are ``(weight path, array)`` pairs in ``layer.weights`` order;
    an InputLayer or Flatten has none.  ``attribute`` is the subclassed model's
    attribute name holding the layer.
    """

    weights: Sequence[tuple[str, Any]] = ()
    attribute: Optional[str] = None


@dataclass
class Optimizer:
    """A built Keras 3 optimizer: ``kind`` is ``"adam"`` or ``"sgd"``; ``slots`` maps a slot name
    (``momentum``, ``velocity``) to one array per trainable variable, in ``model.trainable_variables`` order."""

    kind: str
    iterations: Any
    learning_rate: Any
    slots: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    name: Optional[str] = None


def _layer_edges(path: str) -> list[str]:
    """The edges from a layer to its weight ``path`` (``lstm/lstm_cell/kernel`` -> ``cell/kernel``)."""
    parts = path.split("/")
    name = parts[-1]
    if len(parts) >= 3 and parts[-2].endswith("_cell"):
        return ["cell", name]
    return [PRIVATE_WEIGHTS.get(name, name)]


def _insert(tree: dict, edges: Sequence[str], leaf) -> None:
    for edge in edges[:-1]:
        tree = tree.setdefault(edge, {})
    tree[edges[-1]] = leaf


def model_tree(layers: Sequence[Layer], *, kind: str = "sequential", name: Optional[str] = None,
               compiled: bool = False) -> tuple[dict, list[Variable]]:
    """``(model mapping, trainable variables in order)`` for ``layers``.

    ``kind`` is ``"sequential"``, ``"functional"`` or ``"subclassed"``; ``name``
    is a subclassed model's name (its weights' ``full_name`` prefix).
    ``compiled`` adds the ``optimizer`` and ``_compiled_trainable_state`` edges
    that :func:`checkpoint_tree` fills.
    """
    if kind not in ("sequential", "functional", "subclassed"):
        raise errors.InvalidArgumentError(f"model kind {kind!r}: expected sequential, functional or subclassed")
    model: dict = {}
    operations: dict = {}
    trainable: list[Variable] = []
    for index, layer in enumerate(layers):
        node: dict = {}
        for path, value in layer.weights:
            full_name = f"{name or path.split('/')[0]}/{path.split('/')[-1]}" if kind == "subclassed" else path
            variable = Variable(value, full_name)
            variable.path = path  # the optimizer's slot names use the weight path
            _insert(node, _layer_edges(path), variable)
            if path.split("/")[-1] not in NON_TRAINABLE:
                trainable.append(variable)
        if kind == "subclassed":
            if not layer.attribute:
                raise errors.InvalidArgumentError(f"layer {index} of a subclassed model needs its attribute name")
            model[layer.attribute] = node
        else:
            operations[str(index)] = node
    if kind != "subclassed":
        functional = {container: {} for container in FUNCTIONAL_CONTAINERS}
        functional["_operations"] = operations
        if kind == "sequential":
            model["_functional"] = functional
        else:
            model.update(functional)
    if compiled:
        model["optimizer"] = None  # filled by checkpoint_tree
        model["_compiled_trainable_state"] = {}
    return model, trainable


def optimizer_tree(optimizer: Optimizer, trainable: Sequence[Variable]) -> dict:
    """The optimizer's mapping, its ``_trainable_variables`` being the model's own ``trainable`` objects."""
    kind = optimizer.kind.lower()
    if kind not in SLOT_LISTS:
        raise errors.InvalidArgumentError(f"optimizer {optimizer.kind!r}: expected one of {sorted(SLOT_LISTS)}")
    prefix = optimizer.name or kind
    iterations = Variable(optimizer.iterations, f"{prefix}/iteration")
    learning_rate = Variable(optimizer.learning_rate, f"{prefix}/learning_rate")
    variables = [iterations, learning_rate]
    lists: dict[str, dict] = {attr: {} for _, attr in SLOT_LISTS[kind]}
    present = [(slot, attr) for slot, attr in SLOT_LISTS[kind] if slot in optimizer.slots]
    unknown = set(optimizer.slots) - {slot for slot, _ in SLOT_LISTS[kind]}
    if unknown:
        raise errors.InvalidArgumentError(f"optimizer {kind}: unknown slots {sorted(unknown)}")
    for index, variable in enumerate(trainable):
        for slot, attr in present:
            values = optimizer.slots[slot]
            if len(values) != len(trainable):
                raise errors.InvalidArgumentError(
                    f"optimizer {kind}: slot {slot!r} has {len(values)} arrays for {len(trainable)} trainable variables")
            slot_variable = Variable(values[index], f"{prefix}/{getattr(variable, 'path', variable.name).replace('/', '_')}_{slot}")
            variables.append(slot_variable)
            lists[attr][str(index)] = slot_variable
    return {
        "_variables": {str(i): v for i, v in enumerate(variables)},
        "_trainable_variables": {str(i): v for i, v in enumerate(trainable)},
        "_trainable_variables_indices": {},
        "_iterations": iterations,
        "_learning_rate": learning_rate,
        **lists,
    }


def checkpoint_tree(layers: Sequence[Layer], optimizer: Optional[Optimizer] = None, *, kind: str = "sequential",
                    name: Optional[str] = None, compiled: Optional[bool] = None) -> dict:
    """The root mapping of ``tf.train.Checkpoint(model=model[, optimizer=optimizer])`` for
    :func:`tfckpt.save_objects`.  ``compiled`` defaults to whether an optimizer is given."""
    compiled = optimizer is not None if compiled is None else compiled
    model, trainable = model_tree(layers, kind=kind, name=name, compiled=compiled)
    root: dict = {"model": model}
    if optimizer is not None:
        root["optimizer"] = optimizer_tree(optimizer, trainable)
        if compiled:
            model["optimizer"] = root["optimizer"]
    elif compiled:
        raise errors.InvalidArgumentError("a compiled model's checkpoint needs its optimizer")
    return root


def _variable_names(graph) -> dict[str, list[str]]:
    """``{full_name: [checkpoint keys]}`` of every VARIABLE_VALUE attribute."""
    names: dict[str, list[str]] = {}
    for node in graph.nodes:
        for attr in node.attributes:
            if attr.name == object_graph.VARIABLE_VALUE_KEY:
                names.setdefault(attr.full_name, []).append(attr.checkpoint_key)
    return names


def weight_paths_to_keys(location: Union[str, "os.PathLike[str]"]) -> dict[str, str]:
    """``{full_name: checkpoint key}`` for every variable of the checkpoint whose name is unique."""
    names = _variable_names(_read_graph(location))
    return {name: keys[0] for name, keys in names.items() if len(keys) == 1}


def _read_graph(location):
    return keys._checkpoint_graph(resolve_checkpoint_path(os.fspath(location)))


def key_for_weight_path(location: Union[str, "os.PathLike[str]"], path: str) -> str:
    """The checkpoint key of the Keras weight ``path`` (``sequential/dense/kernel``), matched
    against the variables' ``full_name``; the error lists the names there are."""
    names = _variable_names(_read_graph(location))
    keys = names.get(path)
    if not keys:
        raise errors.NotFoundError(f"no variable named {path!r}; the checkpoint has {sorted(names)}",
                                   file=os.fspath(location), key=path)
    if len(keys) > 1:
        raise errors.NotFoundError(f"weight path {path!r} names {len(keys)} variables {keys} (a subclassed "
                                   f"model's names drop the layer): look it up by attribute path",
                                   file=os.fspath(location), key=path)
    return keys[0]
