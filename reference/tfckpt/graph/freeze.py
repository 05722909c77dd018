"""Freezing: a graph plus a checkpoint becomes one GraphDef with the variables as constants
(spec: ``spec/freeze.md``).

TensorFlow's counterparts: ``tf.compat.v1.graph_util.convert_variables_to_constants``
(``tensorflow/python/framework/convert_to_constants.py``, session path) and
``extract_sub_graph`` (``tensorflow/python/framework/graph_util_impl.py``);
``tensorflow/python/tools/freeze_graph.py`` for ``clear_devices``.

Strategy
--------
TensorFlow freezes in three steps, and so do we, with the session replaced by
the checkpoint:

1. *Keep what the outputs need* (FREEZE-2).  Breadth-first from the output
   nodes over every input -- data and ``^control`` -- and over the
   ``loc:@name`` colocation entries of ``_class`` attributes; the kept nodes
   stay in their original order, and ``library`` and ``versions`` are copied
   (present even when empty)::

       GraphDef{ node: [kept nodes in graph order], library: <copied>, versions: <copied> }

2. *Find the variables* (FREEZE-3): every kept node whose op is ``VariableV2``,
   ``Variable`` or ``VarHandleOp``, minus the caller's whitelist/blacklist (node
   names).  Each one's value is read from the checkpoint under the key its
   ``VariableDef`` names (a slice of the full variable for a partitioned
   piece), or under its node name when the graph carries no ``VariableDef``.

3. *Rewrite* each variable and follow its data edges (FREEZE-4..8)::

       VariableV2 / VarHandleOp  ->  Const{ attr dtype, value = TensorProto } (device, _class dropped)
       Identity/Switch/Enter/... ->  same node, T of that input = the value's dtype, _output_shapes dropped;
                                     its own consumers are followed in turn
       ReadVariableOp            ->  Identity{ input[0], T = dtype, _class kept }
       ResourceGather            ->  GatherV2{ input0, input1, "<name>/axis" } + a new Const "<name>/axis"
                                     (0 in Tindices) appended at the end of the graph
       ResourceGatherNd          ->  GatherNd{ input0, input1 }

   The ``TensorProto`` is encoded as ``tensor_util.make_tensor_proto`` does
   (FREEZE-5): ``tensor_content`` for the fixed-width numeric dtypes when the
   tensor has more than one element, otherwise the dtype's typed value field.

Where TensorFlow would write a graph that fails at import or, worse, reads an
uninitialised variable when run, we refuse instead (FREEZE-9): a variable
consumed by an op we cannot rewrite (an ``Assign``, a ``VarIsInitializedOp``,
a function call such as ``If``/``PartitionedCall`` carrying a resource handle).
The old ``Variable`` op, which TensorFlow's converter reads but never rewrites,
is rewritten like ``VariableV2``.

The result is compared with TensorFlow's as a message and as its deterministic
serialisation: TensorFlow's own ``SerializeToString()`` orders ``attr`` map
entries by a hash that changes from run to run (FREEZE-1), so
:func:`frozen_graph_bytes` writes the deterministic form.
"""

from __future__ import annotations

import difflib
import os
from typing import Iterable, Optional, Union

import numpy as np

from .. import errors
from ..proto import attr_value_pb2, graph_pb2, meta_graph_pb2, tensor_pb2
from .meta_graph import VARIABLE_COLLECTIONS, node_name, read_message, variable_defs, variable_key

__all__ = ["freeze", "write_frozen", "frozen_graph_bytes", "write_frozen_graph", "extract_sub_graph", "make_tensor_proto",
           "load_graph", "PROTOBUF_LIMIT"]

PathLike = Union[str, "os.PathLike[str]"]

#: Protobuf refuses to parse or serialise a message of 2 GiB or more (FREEZE-10).
PROTOBUF_LIMIT = (1 << 31) - 1

VARIABLE_OPS = ("VariableV2", "Variable", "VarHandleOp")
#: Ops that pass a value through unchanged; TensorFlow's converter retypes their ``T`` (FREEZE-6).
PASS_THROUGH_OPS = ("Enter", "Exit", "Identity", "NextIteration", "Switch", "_SwitchN")
#: Ops taking a reference-typed input: after freezing they would write into a constant.
_REF_MUTATING_PREFIXES = ("Assign", "Scatter", "Apply", "SparseApply", "ResourceApply", "CountUpTo",
                          "IsVariableInitialized", "DestroyTemporaryVariable", "Variable", "VarHandleOp",
                          "Ref")
#: ``DT_RESOURCE``: a ``Merge`` of handles cannot be frozen (FREEZE-9).
_DT_RESOURCE = 20
#: Ops calling functions: TensorFlow rewrites the function bodies; this freezer refuses them (FREEZE-9).
_FUNCTION_CALL_OPS = ("If", "StatelessIf", "While", "StatelessWhile", "Case", "PartitionedCall",
                      "StatefulPartitionedCall")
#: dtypes whose multi-element values go into ``tensor_content`` (``make_tensor_proto``).
_CONTENT_DTYPES = frozenset([
    "float16", "float32", "float64", "int32", "uint8", "int16", "int8", "int64", "qint8", "quint8",
    "qint16", "quint16", "qint32", "uint32", "uint64", "float8_e5m2", "float8_e4m3fn",
    "float8_e4m3fnuz", "float8_e4m3b11fnuz", "float8_e5m2fnuz",
])


# -- inputs ---------------------------------------------------------------------------------------------------

def _as_own(message, cls):
    """A message of our generated class ``cls``: TensorFlow's own messages are re-parsed from their bytes."""
    if isinstance(message, cls):
        return message
    return cls.FromString(message.SerializeToString())


def load_graph(graph, checkpoint: Optional[str] = None):
    """``(GraphDef, MetaGraphDef or None)`` from a path (``.meta``, binary ``.pb``), a message, or None
    (``<checkpoint>.meta``)."""
    if graph is None:
        if checkpoint is None:
            raise errors.InvalidArgumentError("no graph given and no checkpoint prefix to find a .meta beside")
        from .meta_graph import meta_graph_filename

        graph = meta_graph_filename(os.fspath(checkpoint))
    if isinstance(graph, (str, os.PathLike)):
        path = os.fspath(graph)
        if path.endswith(".meta"):
            meta = read_message(path, meta_graph_pb2.MetaGraphDef())
            return meta.graph_def, meta
        return read_message(path, graph_pb2.GraphDef()), None
    full_name = getattr(getattr(graph, "DESCRIPTOR", None), "full_name", "")
    if full_name.endswith("MetaGraphDef"):
        meta = _as_own(graph, meta_graph_pb2.MetaGraphDef)
        return meta.graph_def, meta
    if full_name.endswith("GraphDef"):
        return _as_own(graph, graph_pb2.GraphDef), None
    raise errors.InvalidArgumentError(f"graph must be a GraphDef, a MetaGraphDef or a path, not {type(graph).__name__}")


# -- step 1: the subgraph the outputs need (graph_util_impl.extract_sub_graph) --------------------------------

def _source(name: str) -> str:
    """The node an input or colocation entry names: ``^a`` / ``a:1`` / ``loc:@a`` -> ``a``."""
    if name.startswith("loc:@"):
        return name[5:]
    name = name[1:] if name.startswith("^") else name
    return name.split(":")[0]


def _near_names(name: str, names) -> str:
    near = difflib.get_close_matches(name, list(names), n=5, cutoff=0.6)
    return f"; near names: {', '.join(near)}" if near else ""


def output_node_names_of(names: Iterable[str], graph_def) -> list:
    """The output node names, each checked to exist (a tensor name ``y:0`` is taken as its node ``y``)."""
    if names is None:
        names = []
    elif isinstance(names, str):
        names = [names]
    present = {n.name for n in graph_def.node}
    out = []
    for name in names:
        node = node_name(name) if ":" in name else name
        if node not in present:
            raise errors.NotFoundError(f"output node {node!r} is not in the graph{_near_names(node, present)}",
                                       key=node)
        out.append(node)
    if not out:
        raise errors.InvalidArgumentError("no output node names given")
    return out


def extract_sub_graph(graph_def, dest_nodes: Iterable[str]):
    """The nodes ``dest_nodes`` depend on (inputs, control inputs, colocation), in graph order (FREEZE-2)."""
    by_name = {}
    order = {}
    for index, node in enumerate(graph_def.node):
        by_name[node.name] = node
        order[node.name] = index
    keep = set()
    queue = list(output_node_names_of(dest_nodes, graph_def))
    while queue:
        name = queue.pop()
        if name in keep:
            continue
        node = by_name.get(name)
        if node is None:
            raise errors.DataLossError(f"the graph names node {name!r} as an input, but has no such node", key=name)
        keep.add(name)
        queue.extend(_source(i) for i in node.input)
        if "_class" in node.attr:
            queue.extend(_source(s.decode("utf-8", "replace")) for s in node.attr["_class"].list.s)
    out = graph_pb2.GraphDef()
    for name in sorted(keep, key=order.__getitem__):
        out.node.add().CopyFrom(by_name[name])
    out.library.CopyFrom(graph_def.library)
    out.versions.CopyFrom(graph_def.versions)
    return out


# -- the constant's TensorProto (tensor_util.make_tensor_proto) -----------------------------------------------

def make_tensor_proto(array: np.ndarray, dtype_enum: int):
    """``TensorProto`` of ``array`` encoded as TensorFlow's ``make_tensor_proto(array, dtype, shape)`` (FREEZE-5)."""
    from ..dtypes import as_dtype

    dtype = as_dtype(dtype_enum)
    proto = tensor_pb2.TensorProto(dtype=dtype.as_datatype_enum)
    proto.tensor_shape.SetInParent()  # present even for a scalar
    for size in array.shape:
        proto.tensor_shape.dim.add(size=size)
    if dtype.name != "string":
        array = np.ascontiguousarray(array, dtype=dtype.numpy_dtype)
    if dtype.name in _CONTENT_DTYPES and array.size > 1:
        proto.tensor_content = array.tobytes()
        return proto
    flat = array.reshape(-1)
    name = dtype.name
    if name == "string":
        proto.string_val.extend(v if isinstance(v, bytes) else str(v).encode() for v in flat)
    elif name in ("float16", "bfloat16"):
        proto.half_val.extend(int(v) for v in flat.view(np.uint16))
    elif name == "float32":
        proto.float_val.extend(float(v) for v in flat)
    elif name == "float64":
        proto.double_val.extend(float(v) for v in flat)
    elif name in ("int32", "int16", "int8", "uint8", "uint16", "qint8", "quint8", "qint16", "quint16", "qint32"):
        proto.int_val.extend(int(v) for v in flat.astype(np.int64))
    elif name == "int64":
        proto.int64_val.extend(int(v) for v in flat)
    elif name == "uint32":
        proto.uint32_val.extend(int(v) for v in flat)
    elif name == "uint64":
        proto.uint64_val.extend(int(v) for v in flat)
    elif name == "bool":
        proto.bool_val.extend(bool(v) for v in flat)
    elif name == "complex64":
        proto.scomplex_val.extend(float(x) for v in flat for x in (v.real, v.imag))
    elif name == "complex128":
        proto.dcomplex_val.extend(float(x) for v in flat for x in (v.real, v.imag))
    else:
        raise errors.UnimplementedError(f"constants of dtype {name} are not supported by the freezer")
    return proto


# -- step 2: variables and their checkpoint values ------------------------------------------------------------

def _variable_keys(meta_graph) -> dict:
    """``{variable node name: (checkpoint key, slice spec or None)}`` from the VariableDef collections."""
    keys = {}
    if meta_graph is None:
        return keys
    for collection in VARIABLE_COLLECTIONS:
        for definition in variable_defs(meta_graph, collection):
            keys.setdefault(node_name(definition.variable_name), variable_key(definition))
    return keys


def _check_key(reader, node, key: str) -> None:
    """Refuse a variable whose key the checkpoint lacks, or holds in another dtype."""
    from ..dtypes import as_dtype

    if not reader.has_tensor(key):
        raise errors.NotFoundError(
            f"variable {node.name!r} ({node.op}) needs checkpoint key {key!r}, which the checkpoint lacks"
            f"{_near_names(key, reader.get_variable_to_shape_map())}", file=reader.path, key=key)
    want = as_dtype(node.attr["dtype"].type)
    have = reader.get_variable_to_dtype_map()[key]
    if have.as_datatype_enum != want.as_datatype_enum:
        raise errors.InvalidArgumentError(
            f"variable {node.name!r} is {want.name} in the graph but {have.name} in the checkpoint",
            file=reader.path, key=key)


def _read_value(reader, node, key: str, slice_spec: Optional[str]) -> np.ndarray:
    """The value of ``key`` (``_check_key`` has passed), checked against the variable's ``shape``."""
    if slice_spec is None:
        value = reader.get_tensor(key)
    else:
        value = reader.get_slice(key, slice_spec.split(" ")[-1])
    shape = node.attr["shape"].shape if "shape" in node.attr else None
    if shape is not None and not shape.unknown_rank:
        dims = [d.size for d in shape.dim]
        if len(dims) != value.ndim or any(d >= 0 and d != v for d, v in zip(dims, value.shape)):
            raise errors.InvalidArgumentError(
                f"variable {node.name!r} has shape {dims} in the graph but {list(value.shape)} in the checkpoint",
                file=reader.path, key=key)
    return value


# -- step 3: rewriting along data edges (convert_to_constants._Node and subclasses) ---------------------------

def _consumers(graph_def) -> dict:
    """``{node name: [(consumer index, input position), ...]}`` over data inputs only."""
    out: dict = {}
    for index, node in enumerate(graph_def.node):
        for position, name in enumerate(node.input):
            if not name.startswith("^"):
                out.setdefault(_source(name), []).append((index, position))
    return out


def _retype(node, position: int, dtype: int) -> None:
    attr = node.attr["T"]
    if attr.HasField("list") and position < len(attr.list.type):
        attr.list.type[position] = dtype
    elif attr.HasField("type") and position == 0:
        attr.type = dtype
    else:
        raise errors.UnimplementedError(
            f"node {node.name!r} ({node.op}) takes a frozen variable at input {position}, which its T attr "
            "does not describe", key=node.name)


def _follow(graph, consumers, variable, dtype: int, axis_nodes: list, seen: set, resource: bool) -> None:
    """Rewrite the consumers of ``variable`` (a node name) as TensorFlow's converter does; refuse a
    consumer it would leave reading a constant where a reference or a resource handle was (FREEZE-9)."""
    for index, position in consumers.get(variable, ()):
        if (index, position) in seen:
            continue
        seen.add((index, position))
        node = graph.node[index]
        op = node.op
        if op in PASS_THROUGH_OPS:
            _retype(node, position, dtype)
            if "_output_shapes" in node.attr:
                del node.attr["_output_shapes"]
            _follow(graph, consumers, node.name, dtype, axis_nodes, seen, resource)
        elif op == "ReadVariableOp":
            _replace(node, "Identity", [node.input[0]], {"T": node.attr["dtype"]})
        elif op == "ResourceGather" and position == 0:
            if node.attr["batch_dims"].i != 0:
                raise errors.UnimplementedError(
                    f"ResourceGather {node.name!r} has batch_dims {node.attr['batch_dims'].i}; only 0 can be frozen",
                    key=node.name)
            indices = attr_value_pb2.AttrValue()
            indices.CopyFrom(node.attr["Tindices"])
            axis = graph_pb2.GraphDef().node.add()
            axis.name = node.name + "/axis"
            axis.op = "Const"
            axis.attr["dtype"].CopyFrom(indices)
            axis.attr["value"].tensor.CopyFrom(make_tensor_proto(np.array(0), indices.type))
            axis_nodes.append(axis)
            _replace(node, "GatherV2", [node.input[0], node.input[1], axis.name],
                     {"Tparams": node.attr["dtype"], "Tindices": indices, "Taxis": indices})
        elif op == "ResourceGatherNd" and position == 0:
            _replace(node, "GatherNd", [node.input[0], node.input[1]],
                     {"Tparams": node.attr["dtype"], "Tindices": node.attr["Tindices"]})
        elif op == "Merge" and node.attr["T"].type != _DT_RESOURCE:
            continue  # TensorFlow's converter stops here too; Merge's T is the value type already.
        elif resource or op.startswith(_REF_MUTATING_PREFIXES) or op in _FUNCTION_CALL_OPS:
            raise errors.UnimplementedError(
                f"node {node.name!r} ({op}) uses variable {variable!r} at input {position}; the freezer cannot "
                "rewrite it into a graph that reads the constant (leave the variable out with "
                "variable_names_blacklist, or choose outputs that do not need this node)", key=node.name)


def _replace(node, op: str, inputs: list, attrs: dict) -> None:
    """``node`` cleared to ``op`` with ``inputs`` and ``attrs`` (``_class`` kept), as the converter rebuilds it."""
    saved = {k: _copy_attr(v) for k, v in attrs.items()}
    colocation = _copy_attr(node.attr["_class"]) if "_class" in node.attr else None
    name = node.name
    node.Clear()
    node.name = name
    node.op = op
    node.input.extend(inputs)
    for key, value in saved.items():
        node.attr[key].CopyFrom(value)
    if colocation is not None:
        node.attr["_class"].CopyFrom(colocation)


def _copy_attr(value):
    out = attr_value_pb2.AttrValue()
    out.CopyFrom(value)
    return out


def _prepare(checkpoint, graph, output_node_names, whitelist, blacklist, clear_devices, reader):
    """Steps 1-3 without the values: ``(graph, [(node index, key, slice spec, dtype)])``.

    Each variable is already a ``Const`` with its ``dtype`` and its consumers are
    rewritten; only ``attr["value"]`` is missing, for the caller to fill from
    ``reader`` -- in place (:func:`freeze`) or one node at a time as it writes
    (:func:`write_frozen`).  Every key and dtype is checked first (FREEZE-12).
    """
    prefix = getattr(checkpoint, "path", checkpoint)
    graph_def, meta = load_graph(graph, prefix)
    if clear_devices:
        graph_def = _as_own(graph_def, graph_pb2.GraphDef)
        copy = graph_pb2.GraphDef()
        copy.CopyFrom(graph_def)
        for node in copy.node:
            node.device = ""
        graph_def = copy
    whitelist = None if whitelist is None else set(whitelist)
    blacklist = set(blacklist or ())
    sub = extract_sub_graph(graph_def, output_node_names)
    variables = [i for i, n in enumerate(sub.node) if n.op in VARIABLE_OPS
                 and (whitelist is None or n.name in whitelist) and n.name not in blacklist]
    if not variables:
        return sub, []
    keys = _variable_keys(meta)
    reader = reader()
    _check_size(sub, [sub.node[i] for i in variables], keys, reader)
    for i in variables:
        node = sub.node[i]
        _check_key(reader, node, keys.get(node.name, (node.name, None))[0])
    consumers = _consumers(sub)
    axis_nodes: list = []
    pending = []
    for i in variables:
        node = sub.node[i]
        key, slice_spec = keys.get(node.name, (node.name, None))
        dtype = node.attr["dtype"].type
        is_resource = node.op == "VarHandleOp"
        pending.append((i, key, slice_spec, dtype, _shape_of(node)))
        name = node.name
        node.Clear()
        node.name = name
        node.op = "Const"
        node.attr["dtype"].type = dtype
        _follow(sub, consumers, name, dtype, axis_nodes, set(), is_resource)
    for axis in axis_nodes:
        if not any(n.name == axis.name for n in sub.node):
            sub.node.add().CopyFrom(axis)
    return sub, pending


def _shape_of(node):
    """The variable node's ``shape`` attribute (a copy), or None: checked against the checkpoint's value."""
    if "shape" not in node.attr:
        return None
    from ..proto import tensor_shape_pb2

    shape = tensor_shape_pb2.TensorShapeProto()
    shape.CopyFrom(node.attr["shape"].shape)
    return shape


def _value(reader, graph, entry):
    """The TensorProto of one pending variable (FREEZE-5), read now."""
    index, key, slice_spec, dtype, shape = entry
    node = _ShapedName(graph.node[index].name, shape)
    return make_tensor_proto(_read_value(reader, node, key, slice_spec), dtype)


class _ShapedName:
    """What :func:`_read_value` needs of a variable node once it is a ``Const``: its name and shape."""

    def __init__(self, name, shape):
        self.name = name
        self.attr = {} if shape is None else {"shape": attr_value_pb2.AttrValue(shape=shape)}


class _Reader:
    """Opens the checkpoint on first use (a graph without variables needs none) and closes what it opened."""

    def __init__(self, checkpoint):
        self.checkpoint, self.reader = checkpoint, None

    def __call__(self):
        from ..checkpoint_reader import CheckpointReader, load_checkpoint

        if self.reader is None:
            self.reader = self.checkpoint if isinstance(self.checkpoint, CheckpointReader) else load_checkpoint(self.checkpoint)
        return self.reader

    def close(self):
        if self.reader is not None and self.reader is not self.checkpoint:
            self.reader.close()


def freeze(checkpoint, graph, output_node_names: Iterable[str], *,
           variable_names_whitelist: Optional[Iterable[str]] = None,
           variable_names_blacklist: Optional[Iterable[str]] = None,
           clear_devices: bool = False, on_tensor=None):
    """The graph with every variable the outputs need replaced by a ``Const`` holding its checkpoint value.

    ``checkpoint`` is a prefix, a directory with a state file, or an open
    :class:`tfckpt.CheckpointReader`; ``graph`` a ``.meta`` path, a binary
    GraphDef path, a ``GraphDef``/``MetaGraphDef`` message, or None for
    ``<prefix>.meta``.  The result equals what TensorFlow's
    ``convert_variables_to_constants(sess, graph_def, output_node_names, ...)``
    returns after restoring the checkpoint into ``sess`` (spec/freeze.md).
    The result holds every value; to write a ``.pb`` with one value in memory
    at a time, use :func:`write_frozen`.  ``on_tensor(node name, value bytes)`` is
    called after each value is embedded (progress bars).
    """
    reader = _Reader(checkpoint)
    try:
        sub, pending = _prepare(checkpoint, graph, output_node_names, variable_names_whitelist,
                                variable_names_blacklist, clear_devices, reader)
        for entry in pending:  # one value at a time: read, copied into its Const, dropped
            tensor = _value(reader(), sub, entry)
            sub.node[entry[0]].attr["value"].tensor.CopyFrom(tensor)
            if on_tensor is not None:
                on_tensor(sub.node[entry[0]].name, _value_bytes(tensor))
            del tensor
        return sub
    finally:
        reader.close()


def write_frozen(path: PathLike, checkpoint, graph, output_node_names: Iterable[str], *,
                 variable_names_whitelist: Optional[Iterable[str]] = None,
                 variable_names_blacklist: Optional[Iterable[str]] = None,
                 clear_devices: bool = False, on_tensor=None) -> str:
    """Freeze as :func:`freeze` does and write the ``.pb`` as :func:`write_frozen_graph` would, streaming.

    The bytes are those of ``write_frozen_graph(path, freeze(...))``: a GraphDef's
    deterministic serialisation is its nodes, each as field 1 (tag ``0x0a``,
    length, the NodeDef's own deterministic bytes), then ``library`` and
    ``versions``.  So each frozen node is built with its value, written and
    dropped in turn: memory holds the graph without its constants and one value
    (benchmarks/freeze.py).  The file appears under ``path`` only when complete.
    ``on_tensor`` is :func:`freeze`'s.
    """
    return _write_frozen(path, checkpoint, graph, output_node_names, variable_names_whitelist,
                         variable_names_blacklist, clear_devices, on_tensor)[0]


def _value_bytes(tensor) -> int:
    """A value's size for ``on_tensor``: its packed bytes, or the TensorProto's size when not packed."""
    return len(tensor.tensor_content) or tensor.ByteSize()


def _write_frozen(path, checkpoint, graph, output_node_names, whitelist, blacklist, clear_devices, on_tensor=None):
    """:func:`write_frozen`, returning also the written graph without its values (for counts)."""
    from ..encoding import encode_varint
    from ..files import atomic_output, tempstate_name
    from ..proto import node_def_pb2

    path = os.fspath(path)
    reader = _Reader(checkpoint)
    try:
        sub, pending = _prepare(checkpoint, graph, output_node_names, whitelist, blacklist, clear_devices, reader)
        values = {entry[0]: entry for entry in pending}
        with atomic_output(path, tempstate_name(path), "xb") as handle:
            for index, node in enumerate(sub.node):
                if index in values:
                    full = node_def_pb2.NodeDef()
                    full.CopyFrom(node)
                    tensor = _value(reader(), sub, values[index])
                    full.attr["value"].tensor.CopyFrom(tensor)
                    nbytes = _value_bytes(tensor)
                    del tensor  # before serialising: one copy of the value at a time
                    data = full.SerializeToString(deterministic=True)
                    del full
                    if on_tensor is not None:
                        on_tensor(node.name, nbytes)
                else:
                    data = node.SerializeToString(deterministic=True)
                handle.write(b"\x0a" + encode_varint(len(data)) + data)
                del data
            rest = graph_pb2.GraphDef()  # library, versions, ...: every field after field 1
            rest.CopyFrom(sub)
            del rest.node[:]
            handle.write(rest.SerializeToString(deterministic=True))
        return path, sub
    finally:
        reader.close()


def _check_size(graph_def, variables, keys, reader) -> None:
    """Refuse before reading values when the frozen graph would reach protobuf's 2 GiB limit (FREEZE-10)."""
    from ..dtypes import as_dtype

    total = graph_def.ByteSize()
    largest = (0, "", "")
    shapes = reader.get_variable_to_shape_map()
    for node in variables:
        key, slice_spec = keys.get(node.name, (node.name, None))
        if key not in shapes:
            continue
        dims = shapes[key]
        if slice_spec is not None:
            dims = [int(p.split(",")[1]) if p != "-" else d
                    for p, d in zip(slice_spec.split(" ")[-1].split(":"), dims)]
        itemsize = as_dtype(node.attr["dtype"].type).itemsize or 0
        size = int(np.prod(dims, dtype=np.int64)) * itemsize
        total += size
        largest = max(largest, (size, node.name, key))
    if total > PROTOBUF_LIMIT:
        raise errors.ResourceExhaustedError(
            f"the frozen graph would be at least {total} bytes, over protobuf's 2 GiB message limit "
            f"({PROTOBUF_LIMIT} bytes; the largest constant, variable {largest[1]!r}, is {largest[0]} bytes); "
            "keep the variables outside the graph (a SavedModel) instead", file=reader.path, key=largest[2] or None)


def frozen_graph_bytes(graph_def) -> bytes:
    """The GraphDef's deterministic serialisation (``attr`` entries sorted by key), FREEZE-1."""
    size = graph_def.ByteSize()
    if size > PROTOBUF_LIMIT:
        raise errors.ResourceExhaustedError(f"the graph is {size} bytes, over protobuf's 2 GiB limit")
    return graph_def.SerializeToString(deterministic=True)


def write_frozen_graph(path: PathLike, graph_def) -> str:
    """Write ``graph_def`` to ``path`` (binary, deterministic), under a temporary name until complete."""
    from ..files import atomic_output, tempstate_name

    path = os.fspath(path)
    data = frozen_graph_bytes(graph_def)
    with atomic_output(path, tempstate_name(path), "xb") as handle:
        handle.write(data)
    return path
