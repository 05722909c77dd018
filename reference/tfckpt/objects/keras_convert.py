"""Convert between a TF2 checkpoint of a Keras 3 model and its ``.weights.h5``, both ways.

Strategy
--------
Neither file alone says which tensor is which weight: a ``.weights.h5`` names
layers by class (``layers/dense_1/vars/0``, groups listed alphabetically, so the
order of ``model.layers`` is lost), a checkpoint by position
(``model/_functional/_operations/2/_kernel``).  The user gives the bridge, the
model's architecture as a porting user knows it: one :class:`KerasLayer` per
entry of ``model.layers`` (a Sequential model's InputLayer, which
``model.layers`` omits but the checkpoint's ``_operations/0`` holds, is implied;
a mapping with the same fields is accepted too), each with its Keras class name and its weight paths
(``model.weights[i].path``) in ``layer.weights`` order; for a subclassed model,
one per layer attribute, with the attribute name.  Weightless layers (InputLayer,
Flatten) are entries with no weights: they shift positions.

From that list (KH5-2..KH5-6, spec/keras.md)::

    h5 group     Sequential/functional: layers/<snake_case(class_name)>, _1, _2 ... per class in
                 model.layers order (a Sequential model's InputLayer has none);
                 subclassed: <attribute>
    h5 dataset   <group>/vars/<i>, i the weight's place in the layer's list;
                 an RNN's cell weights (path .../<x>_cell/<w>) under <group>/cell/vars/<i>
    checkpoint   the object path model_tree gives the weight, resolved through the
                 checkpoint's object graph (so a checkpoint with an optimizer, whose first
                 path to a variable runs through the optimizer, resolves the same)

Checkpoint -> ``.weights.h5`` writes the groups and ``name`` attributes Keras
writes (the model's name on ``/vars``, each layer's name on its ``vars``) and is
published under its final name only when complete.  ``.weights.h5`` -> checkpoint
writes the model alone (``tf.train.Checkpoint(model=model)``) with
:func:`tfckpt.save_objects`.  Nested models, layers kept in lists of a
subclassed model, and optimizer variables (``optimizer/vars`` of a ``.keras``
archive) are not converted.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from typing import Optional, Sequence, Union

from .. import errors
from . import keras, object_graph
from .keras_h5 import load_keras_weights, require_h5py

__all__ = ["KerasLayer", "h5_layout", "checkpoint_to_weights_h5", "weights_h5_to_checkpoint"]

PathLike = Union[str, "os.PathLike[str]"]


@dataclass
class KerasLayer:
    """One layer of a Keras model: ``class_name`` (``"Dense"``), its weight paths in
    ``layer.weights`` order, and a subclassed model's attribute name holding it."""

    class_name: str
    weights: Sequence[str] = ()
    attribute: Optional[str] = None


def snake_case(name: str) -> str:
    """Keras's ``to_snake_case``: ``Conv2D`` -> ``conv2d``, ``BatchNormalization`` -> ``batch_normalization``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _in_cell(path: str) -> bool:
    parts = path.split("/")
    return len(parts) >= 3 and parts[-2].endswith("_cell")


def _check_kind(kind: str) -> None:
    if kind not in ("sequential", "functional", "subclassed"):
        raise errors.InvalidArgumentError(f"model kind {kind!r}: expected sequential, functional or subclassed")


def operations(layers: Sequence[KerasLayer], kind: str) -> list[KerasLayer]:
    """``layers`` as the model's ``_operations``: a Sequential model's InputLayer, which
    ``model.layers`` leaves out, is put first when missing (KH5-4 in spec/keras.md)."""
    _check_kind(kind)
    layers = [layer if isinstance(layer, KerasLayer) else KerasLayer(**layer) for layer in layers]
    if kind == "sequential" and (not layers or layers[0].class_name != "InputLayer"):
        layers.insert(0, KerasLayer("InputLayer"))
    return layers


def _groups(layers: Sequence[KerasLayer], kind: str) -> list[Optional[str]]:
    """Each layer's h5 group (None: the layer has none)."""
    _check_kind(kind)
    used: dict[str, int] = {}
    groups: list[Optional[str]] = []
    for index, layer in enumerate(layers):
        if kind == "subclassed":
            if not layer.attribute:
                raise errors.InvalidArgumentError(f"layer {index} of a subclassed model needs its attribute name")
            groups.append(layer.attribute)
            continue
        if kind == "sequential" and layer.class_name == "InputLayer":
            groups.append(None)
            continue
        name = snake_case(layer.class_name)
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 0
        groups.append(f"layers/{name}")
    return groups


def h5_layout(layers: Sequence[KerasLayer], kind: str = "sequential") -> list[tuple[str, str]]:
    """``(weight path, h5 dataset path)`` of every weight, in ``model.weights`` order."""
    out: list[tuple[str, str]] = []
    layers = operations(layers, kind)
    for layer, group in zip(layers, _groups(layers, kind)):
        own = cell = 0
        for path in layer.weights:
            if group is None:
                raise errors.InvalidArgumentError(f"an InputLayer has no weights, got {path!r}", key=path)
            if _in_cell(path):
                out.append((path, f"{group}/cell/vars/{cell}"))
                cell += 1
            else:
                out.append((path, f"{group}/vars/{own}"))
                own += 1
    return out


def _object_paths(layers: Sequence[KerasLayer], kind: str, name: Optional[str]) -> dict[str, list[str]]:
    """``{weight path: object path from the checkpoint's root}`` as model_tree places each weight."""
    tree, _ = keras.model_tree([keras.Layer([(p, None) for p in l.weights], l.attribute) for l in layers],
                               kind=kind, name=name)
    found: dict[str, list[str]] = {}
    stack = [(["model"], tree)]
    while stack:
        path, node = stack.pop()
        for edge, child in node.items():
            if isinstance(child, dict):
                stack.append((path + [edge], child))
            elif child is not None:
                found[child.path] = path + [edge]
    return found


def checkpoint_to_weights_h5(checkpoint: PathLike, out: PathLike, layers: Sequence[KerasLayer], *,
                             kind: str = "sequential", name: Optional[str] = None) -> list[str]:
    """Write the weights of the Keras model in ``checkpoint`` (``tf.train.Checkpoint(model=...)``) as
    ``out``, a ``.weights.h5`` that ``model.load_weights`` accepts; returns the h5 dataset paths written.
    ``name`` is the model's name (``/vars``'s attribute); by default the first part of a weight path."""
    h5py = require_h5py()
    from ..checkpoint_reader import load_checkpoint, resolve_checkpoint_path
    from ..files import atomic_output, tempstate_name
    from . import keys

    checkpoint, out = os.fspath(checkpoint), os.fspath(out)
    layers = operations(layers, kind)
    layout = h5_layout(layers, kind)
    prefix = resolve_checkpoint_path(checkpoint)
    graph = keys._checkpoint_graph(prefix)
    paths = _object_paths(layers, kind, name)
    model_name = name or (layout[0][0].split("/")[0] if layout and kind != "functional" else "functional")
    buffer = io.BytesIO()
    with load_checkpoint(prefix) as reader, h5py.File(buffer, "w") as h5:
        h5.create_group("vars").attrs["name"] = model_name
        if kind != "subclassed":
            h5.create_group("layers")
        for layer, group in zip(layers, _groups(layers, kind)):
            if group is None:
                continue
            layer_name = layer.weights[0].split("/")[-3 if _in_cell(layer.weights[0]) else -2] if layer.weights \
                else snake_case(layer.class_name)
            h5.require_group(f"{group}/vars").attrs["name"] = layer_name
            if any(_in_cell(p) for p in layer.weights):
                cell_path = next(p for p in layer.weights if _in_cell(p))
                h5.require_group(f"{group}/cell/vars").attrs["name"] = cell_path.split("/")[-2]
        for path, dataset in layout:
            try:
                key = object_graph.resolve_key(graph, paths[path])
            except errors.CheckpointError as exc:
                raise exc.with_location(file=prefix, key=path)
            h5.create_dataset(dataset, data=reader.get_tensor(key))
    with atomic_output(out, tempstate_name(out)) as handle:
        handle.write(buffer.getbuffer())
    return [dataset for _, dataset in layout]


def weights_h5_to_checkpoint(weights: PathLike, out: PathLike, layers: Sequence[KerasLayer], *,
                             kind: str = "sequential", name: Optional[str] = None) -> str:
    """Write the ``.weights.h5`` (or ``.keras``) ``weights`` as the checkpoint ``out`` that
    ``tf.train.Checkpoint(model=model).read(out)`` restores; returns the prefix."""
    from .writer import save_objects

    layers = operations(layers, kind)
    layout = dict(h5_layout(layers, kind))
    with load_keras_weights(weights) as reader:
        built = []
        for layer in layers:
            pairs = []
            for path in layer.weights:
                if not reader.has_tensor(layout[path]):
                    raise errors.NotFoundError(f"the weights file has no dataset {layout[path]!r} for weight {path!r};"
                                               f" it has {reader.keys()[:20]}", file=reader.path, key=layout[path])
                pairs.append((path, reader.get_tensor(layout[path])))
            built.append(keras.Layer(pairs, layer.attribute))
    return save_objects(os.fspath(out), keras.checkpoint_tree(built, kind=kind, name=name))
