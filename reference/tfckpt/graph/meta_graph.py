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
from typing import Optional, Union

from google.protobuf.message import DecodeError

from .. import errors
from ..proto import graph_pb2, meta_graph_pb2, saver_pb2, variable_pb2

__all__ = [
    "read_meta_graph",
    "read_graph_def",
    "read_message",
    "variable_defs",
    "VARIABLE_COLLECTIONS",
    "node_name",
    "variable_key",
    "VARIABLE_DEF_COLLECTIONS",
    "find_variable",
    "saver_version_name",
    "meta_graph_filename",
    "tensor_proto_to_array",
    "graph_constants",
]

PathLike = Union[str, "os.PathLike[str]"]
_SHARD_SUFFIX = re.compile(r"-[\d\?]+-of-\d+$")


def meta_graph_filename(checkpoint_path: str) -> str:
    """``<prefix>.meta`` for a checkpoint path, with a V1 shard suffix ``-?????-of-NNNNN`` removed."""
    return _SHARD_SUFFIX.sub("", checkpoint_path) + ".meta"


def read_file_bytes(path: str) -> bytes:
    """The whole file ``path`` (local or an fsspec URL); a missing file is :class:`NotFoundError` naming it."""
    from .. import storage

    try:
        return storage.read_bytes(path)
    except FileNotFoundError:
        raise errors.FileNotFound("file not found", file=path) from None


def read_message(path: PathLike, message):
    """Parse the file ``path``, one binary protobuf message and nothing else, into ``message``.

    A missing file is :class:`NotFoundError`, bytes that are not the message :class:`DataLossError`.
    """
    path = os.fspath(path)
    data = read_file_bytes(path)
    try:
        message.ParseFromString(data)
    except DecodeError as exc:
        raise errors.DataLossError(f"not a {message.DESCRIPTOR.name}: {exc}", file=path) from None
    return message


def read_meta_graph(path: PathLike) -> "meta_graph_pb2.MetaGraphDef":
    """Parse a ``.meta`` file (a checkpoint prefix is accepted: ``.meta`` is appended)."""
    path = os.fspath(path)
    if not path.endswith(".meta"):
        path = meta_graph_filename(path)
    return read_message(path, meta_graph_pb2.MetaGraphDef())


def read_graph_def(path: PathLike) -> "graph_pb2.GraphDef":
    """Parse a binary GraphDef, e.g. a frozen model's ``.pb``."""
    return read_message(path, graph_pb2.GraphDef())


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


#: Collections whose items are serialized ``VariableDef`` messages (META-7), searched in this order.
VARIABLE_COLLECTIONS = ("variables", "trainable_variables", "global_step", "local_variables", "model_variables")
#: The collections whose bytes are VariableDefs: those TensorFlow registers a VariableDef codec for
#: (``ops.register_proto_function`` in ``tensorflow/python/ops/ref_variable.py``; GRAPH-6).
VARIABLE_DEF_COLLECTIONS = ("variables", "trainable_variables", "moving_average_variables", "local_variables",
                            "model_variables", "global_step", "metric_variables")


def saver_version_name(version: int) -> str:
    """A ``SaverDef.version`` value as its enum name (``LEGACY``, ``V1``, ``V2``), or the number if unknown."""
    try:
        return saver_pb2.SaverDef.CheckpointFormatVersion.Name(version)
    except ValueError:
        return str(version)


# -- from a graph variable to its checkpoint key (spec/meta-graph.md §6) -----------------------------------
#
#   VariableDef{variable_name: "dense/kernel:0"}                     -> key "dense/kernel"
#   VariableDef{variable_name: "emb/part_1:0",
#               save_slice_info_def{full_name: "emb", full_shape: [10, 4],
#                                   var_offset: [5, 0], var_shape: [5, 4]}}
#                                                                    -> key "emb", slice "10 4 5,5:0,4"


def node_name(tensor_name: str) -> str:
    """The node of a tensor name: ``dense/kernel:0`` -> ``dense/kernel`` (split at the last ``:``, META-8).

    A name without ``:`` is already a node name.  A suffix that is not a decimal
    output index raises :class:`DataLossError`.
    """
    node, colon, index = tensor_name.rpartition(":")
    if not colon:
        return tensor_name
    if not index.isdigit() or not index.isascii() or not node:
        raise errors.DataLossError(f"{tensor_name!r} is not a tensor name <node>:<output index>")
    return node


def variable_key(definition) -> tuple[str, Optional[str]]:
    """``(checkpoint key, shape-and-slice string or None)`` of a ``VariableDef`` (META-9, META-10).

    A piece of a partitioned variable is stored as a slice of the full
    variable's entry; every other variable under its node name.  (A ``Saver``
    given a dict of new names stores under those names, which the ``.meta``
    does not record: the caller must then find the key missing, not guess.)
    """
    if definition.HasField("save_slice_info_def"):
        info = definition.save_slice_info_def
        if not (len(info.full_shape) == len(info.var_offset) == len(info.var_shape)) or not info.full_name:
            raise errors.DataLossError(
                f"variable {definition.variable_name!r}: save_slice_info_def has {len(info.full_shape)} dims, "
                f"{len(info.var_offset)} offsets, {len(info.var_shape)} lengths and full_name {info.full_name!r}"
            )
        shape = " ".join(str(d) for d in info.full_shape)
        pairs = ":".join(f"{o},{n}" for o, n in zip(info.var_offset, info.var_shape))
        return info.full_name, f"{shape} {pairs}"
    return node_name(definition.variable_name), None


def find_variable(meta_graph, name: str):
    """The ``VariableDef`` of the variable ``name`` (tensor name ``dense/kernel:0`` or node name
    ``dense/kernel``) in the first collection of :data:`VARIABLE_COLLECTIONS` that lists it."""
    wanted = node_name(name)
    for collection in VARIABLE_COLLECTIONS:
        for definition in variable_defs(meta_graph, collection):
            if node_name(definition.variable_name) == wanted:
                return definition
    raise errors.NotFoundError(f"no variable {name!r} in the meta graph's variable collections")


#: How many bytes :func:`tensor_proto_to_array` may build from a typed value list shorter than
#: its tensor (SEC-11).  A proto of a few hundred bytes can claim ``[3, 2**40]`` float32 by
#: repeating its last value; one repeated value comes back as a zero-copy read-only view at any
#: size, but a longer list must be materialised, and this bounds that.
MAX_EXPANDED_BYTES = 256 << 20


def tensor_proto_to_array(proto, *, name: str = "", max_expanded_bytes: Optional[int] = None) -> "np.ndarray":
    """The value of a ``TensorProto`` (as in a frozen graph's ``Const`` nodes).

    Values are in ``tensor_content`` (raw little-endian element bytes) or in the
    dtype's typed field (``float_val``, ``int_val``, ...; ``spec/v1.md`` lists
    them); a typed field shorter than the tensor repeats its last value, as
    TensorFlow's ``MakeNdarray`` does (``tf.constant(0.0, shape=[3])`` stores one value).

    Allocation is bounded by the proto's own bytes (SEC-11): a tensor filled
    with one repeated value is returned as a read-only ``np.broadcast_to``
    view, whatever its shape; building more than ``max_expanded_bytes``
    (default :data:`MAX_EXPANDED_BYTES`) from a shorter list of several values
    is refused with :class:`~tfckpt.errors.ResourceExhaustedError`.
    """
    import numpy as np

    from ..bundle.reader import check_stored_shape
    from ..dtypes import DT_STRING, as_dtype
    from ..v1.reader import VALUE_FIELDS

    dtype = as_dtype(proto.dtype)
    shape, count = check_stored_shape(proto.tensor_shape, dict(key=name))
    if proto.tensor_content:
        if dtype.as_datatype_enum == DT_STRING or len(proto.tensor_content) != count * dtype.itemsize:
            raise errors.DataLossError(
                f"tensor_content holds {len(proto.tensor_content)} bytes, not {count} x {dtype.name}", key=name
            )
        return np.frombuffer(proto.tensor_content, dtype=dtype.numpy_dtype).reshape(shape).copy()
    field = VALUE_FIELDS.get(dtype.name)
    if field is None:
        raise errors.UnimplementedError(f"constants of dtype {dtype.name} are not supported", key=name)
    values = list(getattr(proto, field))
    per_element = 2 if field in ("scomplex_val", "dcomplex_val") else 1
    if len(values) > count * per_element:
        raise errors.DataLossError(f"{len(values)} values for {count} elements", key=name)
    limit = MAX_EXPANDED_BYTES if max_expanded_bytes is None else max_expanded_bytes
    itemsize = 8 if dtype.as_datatype_enum == DT_STRING else dtype.itemsize
    repeated = len(values) < count * per_element
    if repeated and len(values) > per_element and count * itemsize > limit:
        raise errors.ResourceExhaustedError(
            f"constant of shape {list(shape)} repeats the last of {len(values)} values to {count} elements "
            f"({count * itemsize} bytes), more than the {limit} bytes allowed; pass max_expanded_bytes= "
            f"(or set tfckpt.graph.meta_graph.MAX_EXPANDED_BYTES) to allow it", key=name)
    if dtype.as_datatype_enum == DT_STRING:
        if repeated and len(values) <= 1:
            one = np.empty((), dtype=object)
            one[()] = values[-1] if values else b""
            return np.broadcast_to(one, shape)
        out = np.empty(count, dtype=object)
        out[:] = (values + [values[-1] if values else b""] * (count - len(values)))[:count]
        return out.reshape(shape)
    if field == "half_val":
        bits = np.array(values or [0], dtype=np.int64).astype(np.uint16).view(np.float16)
        flat = bits
    elif per_element == 2:
        if len(values) % 2:
            raise errors.DataLossError(f"{field} holds {len(values)} numbers: complex values come in pairs",
                                       key=name)
        parts = np.array(values or [0, 0], dtype=np.float32 if field == "scomplex_val" else np.float64)
        flat = parts.view(dtype.numpy_dtype)
    else:
        flat = np.array(values or [0]).astype(dtype.numpy_dtype)
    if len(flat) == 1 and count != 1:
        return np.broadcast_to(flat.reshape(()), shape)  # one value, repeated: no allocation
    if len(flat) < count:
        flat = np.concatenate([flat, np.repeat(flat[-1:], count - len(flat))])
    return flat[:count].reshape(shape)


def graph_constants(graph_def) -> dict:
    """``{node name: value}`` of every ``Const`` node, in graph order (a frozen model's weights)."""
    out = {}
    for node in graph_def.node:
        if node.op == "Const" and "value" in node.attr:
            out[node.name] = tensor_proto_to_array(node.attr["value"].tensor, name=node.name)
    return out
