"""The ``.meta`` file of a TF1 checkpoint: a binary ``MetaGraphDef`` (spec: ``spec/meta-graph.md``).

TensorFlow's counterparts: ``tensorflow/python/training/saver.py``,
``tensorflow/python/framework/meta_graph.py``,
``tensorflow/core/protobuf/meta_graph.proto`` and ``saver.proto``.

Strategy
--------
Checkpoints depend on three parts of the MetaGraphDef: the ``saver_def``
(which op names save and restore, the checkpoint format version, whether the
save is sharded), the ``variables`` / ``trainable_variables`` collections
(``VariableDef`` messages in a ``bytes_list``: variable name, snapshot,
partitioning), and the graph itself for frozen models.  We parse the file
with our own generated classes (package ``tfckpt.proto``) -- the bytes are the
same as TensorFlow's -- and expose those parts.  Sizes are bounded by the
file: protobuf parses at most what is there.
"""

from __future__ import annotations

import os
import re
from typing import Union

from google.protobuf.message import DecodeError

from . import errors
from .proto import graph_pb2, meta_graph_pb2, variable_pb2

__all__ = ["read_meta_graph", "read_graph_def", "variable_defs", "meta_graph_filename"]

PathLike = Union[str, "os.PathLike[str]"]
_SHARD_SUFFIX = re.compile(r"-[\d\?]+-of-\d+$")


def meta_graph_filename(checkpoint_path: str) -> str:
    """``<prefix>.meta`` for a checkpoint path, with a V1 shard suffix ``-?????-of-NNNNN`` removed."""
    return _SHARD_SUFFIX.sub("", checkpoint_path) + ".meta"


def _parse(path: PathLike, message):
    path = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise errors.NotFoundError("file not found", file=path) from None
    try:
        message.ParseFromString(data)
    except DecodeError as exc:
        raise errors.DataLossError(f"not a {message.DESCRIPTOR.name}: {exc}", file=path) from None
    return message


def read_meta_graph(path: PathLike) -> "meta_graph_pb2.MetaGraphDef":
    """Parse a ``.meta`` file (a checkpoint prefix is accepted: ``.meta`` is appended)."""
    path = os.fspath(path)
    if not path.endswith(".meta") and not os.path.isfile(path):
        path = meta_graph_filename(path)
    return _parse(path, meta_graph_pb2.MetaGraphDef())


def read_graph_def(path: PathLike) -> "graph_pb2.GraphDef":
    """Parse a binary GraphDef, e.g. a frozen model's ``.pb``."""
    return _parse(path, graph_pb2.GraphDef())


def variable_defs(meta_graph, collection: str = "variables") -> list:
    """The ``VariableDef`` messages of a collection (``variables``, ``trainable_variables``, ...)."""
    if collection not in meta_graph.collection_def:
        return []
    out = []
    for index, raw in enumerate(meta_graph.collection_def[collection].bytes_list.value):
        definition = variable_pb2.VariableDef()
        try:
            definition.ParseFromString(raw)
        except DecodeError as exc:
            raise errors.DataLossError(f"collection {collection!r} item {index} is not a VariableDef: {exc}") from None
        out.append(definition)
    return out
