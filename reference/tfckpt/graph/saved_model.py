"""SavedModel directories, as far as their variables are concerned (spec: ``spec/savedmodel.md``).

TensorFlow's counterparts: ``tensorflow/python/saved_model/loader_impl.py``
(``parse_saved_model``), ``tensorflow/python/saved_model/constants.py``,
``tensorflow/core/protobuf/saved_model.proto`` and ``saved_object_graph.proto``.

Strategy
--------
A SavedModel directory holds an ordinary V2 checkpoint and a description of
the program around it::

    S/saved_model.pb                       SavedModel{ saved_model_schema_version: 1,
                                                       meta_graphs: [MetaGraphDef{ ..., object_graph_def (7) }] }
    S/variables/variables.index            the variables: a checkpoint with prefix S/variables/variables
    S/variables/variables.data-00000-of-00001

Only ``saved_model.pb`` marks a directory as a SavedModel (SM-2).  Reading its
variables needs nothing from it: the checkpoint stands alone (SM-1).  It is
needed to go from a saved *object* to its key: a TF2 export describes its
objects twice, as the ``SavedObjectGraph`` of the meta graph and as the
checkpoint's ``TrackableObjectGraph``, and node *i* of one is node *i* of the
other for every *i* the checkpoint's graph has (SM-5).  We check that
correspondence (same children, same slot references) before relying on it,
then take a variable's key from the checkpoint's node (SM-6) -- never from
``SavedVariable.name``, which is a creation name and not unique (SM-7).  A TF1
export (``saved_model.Builder``) has no ``object_graph_def``; its variables are
found by name through the meta graph's collections, as for a ``.meta`` (SM-8).

``saved_model.pbtxt`` and the chunked ``saved_model.cpb`` are recognised as
SavedModels but not decoded (``UNIMPLEMENTED``); TensorFlow 2.21 wrote neither
for any model examined.
"""

from __future__ import annotations

import os
from typing import Iterable, Sequence, Union

from .. import errors, storage
from .meta_graph import read_message
from ..objects.object_graph import VARIABLE_VALUE_KEY, attribute_key, resolve_node
from ..proto import saved_model_pb2

__all__ = [
    "SAVED_MODEL_FILENAMES",
    "SERVING_TAGS",
    "is_saved_model",
    "variables_prefix",
    "read_saved_model",
    "select_meta_graph",
    "check_graphs_correspond",
    "resolve_saved_object",
    "build",
    "simple_save",
]

PathLike = Union[str, "os.PathLike[str]"]

#: Files whose presence makes a directory a SavedModel (SM-2); only the first is decoded here.
SAVED_MODEL_FILENAMES = ("saved_model.pb", "saved_model.pbtxt", "saved_model.cpb")
#: The tags of the meta graph ``tf.saved_model.save`` and ``Builder`` export by default.
SERVING_TAGS = ("serve",)


def is_saved_model(directory: PathLike) -> bool:
    """Whether ``directory`` contains one of :data:`SAVED_MODEL_FILENAMES` (SM-2)."""
    directory = os.fspath(directory)
    return storage.isdir(directory) and any(storage.isfile(storage.join(directory, n)) for n in SAVED_MODEL_FILENAMES)


def variables_prefix(directory: PathLike) -> str:
    """The checkpoint prefix of a SavedModel's variables: ``S/variables/variables`` (SM-1)."""
    return storage.join(os.fspath(directory), "variables", "variables")


def read_saved_model(directory: PathLike) -> "saved_model_pb2.SavedModel":
    """Decode ``saved_model.pb`` of a SavedModel directory (SM-4)."""
    directory = os.fspath(directory)
    path = storage.join(directory, SAVED_MODEL_FILENAMES[0])
    if not storage.isfile(path):
        for other in SAVED_MODEL_FILENAMES[1:]:
            if storage.isfile(storage.join(directory, other)):
                raise errors.UnimplementedError(f"{other} is not supported, only {SAVED_MODEL_FILENAMES[0]}",
                                                file=storage.join(directory, other))
        raise errors.NotFoundError(f"not a SavedModel: no {SAVED_MODEL_FILENAMES[0]}", file=directory)
    return read_message(path, saved_model_pb2.SavedModel())


def select_meta_graph(saved_model, tags: Sequence[str] = SERVING_TAGS):
    """The meta graph whose tag set is ``tags``; a SavedModel with a single meta graph yields it whatever its tags."""
    graphs = list(saved_model.meta_graphs)
    if len(graphs) == 1:
        return graphs[0]
    for graph in graphs:
        if set(graph.meta_info_def.tags) == set(tags):
            return graph
    available = [sorted(g.meta_info_def.tags) for g in graphs]
    raise errors.NotFoundError(f"no meta graph tagged {sorted(tags)} (the SavedModel has {available})")


def _references(node) -> tuple:
    children = tuple((c.node_id, c.local_name) for c in node.children)
    slots = tuple((s.original_variable_node_id, s.slot_name, s.slot_variable_node_id) for s in node.slot_variables)
    return children, slots


def check_graphs_correspond(saved_object_graph, checkpoint_graph) -> None:
    """Require node *i* of both graphs to have the same children and slot references for every
    node of the checkpoint's graph (SM-5); a disagreement is :class:`DataLossError`."""
    count = len(checkpoint_graph.nodes)
    if count == 0:
        raise errors.DataLossError("the checkpoint's object graph has no nodes, not even the root")
    if len(saved_object_graph.nodes) < count:
        raise errors.DataLossError(
            f"the SavedObjectGraph has {len(saved_object_graph.nodes)} nodes, fewer than the checkpoint's {count}"
        )
    for node_id in range(count):
        if _references(saved_object_graph.nodes[node_id]) != _references(checkpoint_graph.nodes[node_id]):
            raise errors.DataLossError(
                f"node {node_id} of the SavedObjectGraph and of the checkpoint's object graph differ "
                "(children or slot variables)"
            )


def resolve_saved_object(saved_object_graph, checkpoint_graph, path: Iterable[str],
                         attribute: str = VARIABLE_VALUE_KEY) -> str:
    """The bundle key of ``attribute`` of the saved object at ``path`` (unescaped local names), SM-6.

    The path is followed through the ``SavedObjectGraph``; asking for a variable's
    value of an object that is no variable, or of a node the checkpoint does not
    describe (a function), is :class:`NotFoundError`.
    """
    check_graphs_correspond(saved_object_graph, checkpoint_graph)
    # Once the graphs correspond, every route from the root stays among the checkpoint's
    # nodes, whose child references the checkpoint's graph has checked (OBJ-4).
    path = list(path)
    node_id = resolve_node(saved_object_graph, path, key=None)
    kind = saved_object_graph.nodes[node_id].WhichOneof("kind")
    if attribute == VARIABLE_VALUE_KEY and kind != "variable":
        raise errors.NotFoundError(f"saved object {'/'.join(path) or 'root'} (node {node_id}) is a {kind}, not a variable")
    return attribute_key(checkpoint_graph, node_id, attribute)


def __getattr__(name: str):
    """``build`` and ``simple_save`` (writing a SavedModel) live in :mod:`.saved_model_build`, loaded on first use."""
    if name in ("build", "simple_save"):
        from . import saved_model_build

        return getattr(saved_model_build, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
