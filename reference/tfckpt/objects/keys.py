"""Where a variable is stored: from objects, optimizer slots and TF1 variable names to bundle keys.

Strategy
--------
A bundle is a flat map of keys; programs think in objects (``model.layer.kernel``)
or, in TF1, in graph variables (``dense/kernel:0``).  Three questions, one
function each, over any *location* -- a checkpoint (a prefix, a V1 file, or a
directory with a ``checkpoint`` state file) or a SavedModel directory::

    key_for_object(loc, ["layer", "kernel"])            -> "layer/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    key_for_slot(loc, ["layer", "kernel"], ["opt"], "m")
                                   -> "layer/kernel/.OPTIMIZER_SLOT/opt/m/.ATTRIBUTES/VARIABLE_VALUE"
    key_for_variable(loc, "emb/part_1:0")               -> ("emb", "10 4 5,5:0,4")

Object paths are looked up in the checkpoint's object graph
(:mod:`tfckpt.object_graph`, spec/object-graph.md §4.6), through the
``SavedObjectGraph`` first in a TF2 SavedModel (:mod:`tfckpt.saved_model`).
TF1 names go through the ``VariableDef`` collections of the ``.meta`` beside
the checkpoint (its name by META-1) or of a TF1 SavedModel's meta graph
(:mod:`tfckpt.meta_graph`, spec/meta-graph.md §6); the key must then exist in
the checkpoint, because a ``Saver`` given a dict of names stores under names
the meta graph does not record (META-9).  ``full_name`` and
``SavedVariable.name`` are never used as keys (OBJ-16, SM-7).  Anything not
found is :class:`~tfckpt.errors.NotFoundError`.
"""

from __future__ import annotations

import functools
import os
from typing import Iterable, Optional, Sequence, Union

from .. import errors
from ..graph import meta_graph, saved_model
from . import object_graph
from ..checkpoint_reader import load_checkpoint, resolve_checkpoint_path

__all__ = ["key_for_object", "key_for_slot", "key_for_variable"]

PathLike = Union[str, "os.PathLike[str]"]


def _checkpoint_graph(prefix: str):
    with load_checkpoint(prefix) as reader:
        graph = object_graph.read_object_graph(reader)
    if graph is None:
        raise errors.NotFoundError("a name-based checkpoint has no object graph: look variables up by name",
                                   file=prefix, key=object_graph.OBJECT_GRAPH_KEY)
    return graph


def _object_graphs(location: str, tags: Sequence[str]):
    """``(SavedObjectGraph or None, checkpoint object graph)`` of a SavedModel or a checkpoint."""
    if not saved_model.is_saved_model(location):
        return None, _checkpoint_graph(resolve_checkpoint_path(location))
    meta = saved_model.select_meta_graph(saved_model.read_saved_model(location), tags)
    if not meta.HasField("object_graph_def"):  # a TF1 export (SM-8)
        raise errors.NotFoundError("a TF1 SavedModel has no object graph: look variables up by name")
    return meta.object_graph_def, _checkpoint_graph(saved_model.variables_prefix(location))


def _names_location(lookup):
    """Let a lookup's errors name the location it was given, when they name no file of their own."""

    @functools.wraps(lookup)
    def wrapper(location: PathLike, *args, **kwargs):
        location = os.fspath(location)
        try:
            return lookup(location, *args, **kwargs)
        except errors.CheckpointError as exc:
            raise exc.with_location(file=location)

    return wrapper


@_names_location
def key_for_object(location: PathLike, path: Iterable[str], attribute: str = object_graph.VARIABLE_VALUE_KEY,
                   *, tags: Sequence[str] = saved_model.SERVING_TAGS) -> str:
    """The bundle key of ``attribute`` of the object reached from the root by ``path``, a list of
    unescaped local names (OBJ-14; SM-6 for a SavedModel)."""
    saved_objects, graph = _object_graphs(location, tags)
    if saved_objects is not None:
        return saved_model.resolve_saved_object(saved_objects, graph, list(path), attribute)
    return object_graph.resolve_key(graph, path, attribute)


@_names_location
def key_for_slot(location: PathLike, variable: Iterable[str], optimizer: Iterable[str], slot_name: str,
                 *, tags: Sequence[str] = saved_model.SERVING_TAGS) -> str:
    """The bundle key of the slot ``slot_name`` the optimizer at path ``optimizer`` keeps for the
    variable at path ``variable`` (OBJ-15)."""
    saved_objects, graph = _object_graphs(location, tags)
    if saved_objects is not None:
        saved_model.check_graphs_correspond(saved_objects, graph)
    return object_graph.resolve_slot_key(graph, list(variable), list(optimizer), slot_name)


@_names_location
def key_for_variable(location: PathLike, name: str, *,
                     tags: Sequence[str] = saved_model.SERVING_TAGS) -> tuple[str, Optional[str]]:
    """``(key, shape-and-slice or None)`` of the TF1 graph variable ``name`` (``dense/kernel:0``),
    found through the ``.meta`` beside a checkpoint or a TF1 SavedModel's meta graph (META-9, META-10, SM-8)."""
    if saved_model.is_saved_model(location):
        meta = saved_model.select_meta_graph(saved_model.read_saved_model(location), tags)
        prefix = saved_model.variables_prefix(location)
    else:
        prefix = resolve_checkpoint_path(location)
        meta = meta_graph.read_meta_graph(meta_graph.meta_graph_filename(prefix))
    key, tensor_slice = meta_graph.variable_key(meta_graph.find_variable(meta, name))
    with load_checkpoint(prefix) as reader:
        if not reader.has_tensor(key):
            raise errors.NotFoundError(f"variable {name!r} maps to key {key!r}, which the checkpoint lacks",
                                       file=prefix, key=key)
    return key, tensor_slice
