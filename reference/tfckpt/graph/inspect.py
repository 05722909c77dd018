"""A readable view of a graph file: nodes, tensors, collections, signatures (spec: ``spec/graph.md``).

TensorFlow's counterparts: ``tf.compat.v1.train.import_meta_graph`` and
``Graph.get_tensor_by_name`` / ``get_operations`` / ``get_collection``
(``tensorflow/python/framework/ops.py``, ``meta_graph.py``).

Strategy
--------
:func:`load` accepts what sits beside checkpoints -- a binary ``.meta``
MetaGraphDef, a binary ``.pb`` GraphDef, a text ``.pbtxt`` of either
(:mod:`.text_format`), or a SavedModel directory (one meta graph, by tags) --
and returns a :class:`Graph` that decodes on demand, without TensorFlow:

- nodes: name, op, inputs, device and attributes in Python form (dtype names,
  shapes as lists with ``None`` for unknown dims, tensors summarised);
- tensors ``node:N``: dtype from the op's OpDef in ``stripped_op_list`` (output
  args: ``type``, ``type_attr``, ``number_attr``, ``type_list_attr``; ``is_ref``
  adds 100, giving ``DT_FLOAT_REF`` for a ``VariableV2``, GRAPH-5), shape
  from the ``_output_shapes`` attribute when the producer recorded it;
- collections by kind (``node_list``, ``bytes_list``, ``int64_list``,
  ``float_list``, ``any_list``); the variable collections' bytes decoded as
  ``VariableDef`` and joined to their checkpoint keys (META-9, META-10);
- ``saver_def``, ``meta_info_def`` and signature defs with dtype names.

Malformed files raise :mod:`tfckpt.errors` naming the file (and the node).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Union

from .. import errors

__all__ = ["load", "load_graph", "Graph", "Node", "TensorInfo", "attr_value"]

PathLike = Union[str, "os.PathLike[str]"]


def _dtype_name(value: int) -> str:
    from ..proto import types_pb2

    try:
        return types_pb2.DataType.Name(value)
    except ValueError:
        return f"DT_UNKNOWN_{value}"


def _shape(proto) -> Optional[list]:
    """A TensorShapeProto as a list (``None`` for an unknown dim), or ``None`` for unknown rank."""
    if proto.unknown_rank:
        return None
    return [None if d.size < 0 else d.size for d in proto.dim]


def attr_value(value) -> Any:
    """An ``AttrValue`` in Python form: str/int/float/bool, dtype names, shape lists, tensor summaries."""
    kind = value.WhichOneof("value")
    if kind == "s":
        return value.s.decode("utf-8", "backslashreplace")
    if kind in ("i", "f", "b"):
        return getattr(value, kind)
    if kind == "type":
        return _dtype_name(value.type)
    if kind == "shape":
        return _shape(value.shape)
    if kind == "tensor":
        return f"Tensor<{_dtype_name(value.tensor.dtype)} {_shape(value.tensor.tensor_shape)}>"
    if kind == "func":
        return {"func": value.func.name}
    if kind == "placeholder":
        return {"placeholder": value.placeholder}
    if kind == "list":
        items = value.list
        return ([s.decode("utf-8", "backslashreplace") for s in items.s] + list(items.i) + list(items.f)
                + list(items.b) + [_dtype_name(t) for t in items.type] + [_shape(s) for s in items.shape]
                + [f"Tensor<{_dtype_name(t.dtype)} {_shape(t.tensor_shape)}>" for t in items.tensor]
                + [{"func": f.name} for f in items.func])
    return None


@dataclass
class TensorInfo:
    """One output of a node: ``name`` is ``node:N``; dtype name and shape when the graph records them."""

    name: str
    dtype: Optional[str]
    shape: Optional[list]


@dataclass
class Node:
    name: str
    op: str
    inputs: List[str]
    device: str
    attrs: Dict[str, Any] = field(default_factory=dict)


class Graph:
    """A decoded graph file; ``meta_graph`` is ``None`` for a bare GraphDef."""

    def __init__(self, graph_def, meta_graph=None, path: str = ""):
        self.graph_def = graph_def
        self.meta_graph = meta_graph
        self.path = path
        self._by_name = {}
        for index, node in enumerate(graph_def.node):
            if not node.name:
                raise errors.DataLossError(f"node {index} of the GraphDef has no name", file=path or None)
            self._by_name.setdefault(node.name, node)
        ops = meta_graph.meta_info_def.stripped_op_list.op if meta_graph is not None else ()
        self._op_defs = {op.name: op for op in ops}

    # -- nodes --------------------------------------------------------------------------------
    @property
    def nodes(self) -> List[Node]:
        return [self._node(n) for n in self.graph_def.node]

    def _node(self, n) -> Node:
        return Node(n.name, n.op, list(n.input), n.device, {k: attr_value(v) for k, v in sorted(n.attr.items())})

    def node(self, name: str) -> Node:
        """The node ``name`` (like ``Graph.get_operation_by_name``)."""
        if name not in self._by_name:
            raise errors.NotFoundError(self._missing("node", name), file=self.path or None)
        return self._node(self._by_name[name])

    def _missing(self, what: str, name: str) -> str:
        import difflib

        near = difflib.get_close_matches(name, list(self._by_name), n=5)
        return f"no {what} {name!r} in the graph" + (f"; near names: {', '.join(near)}" if near else "")

    # -- tensors ------------------------------------------------------------------------------
    def _output_dtypes(self, node) -> Optional[List[Optional[str]]]:
        op = self._op_defs.get(node.op)
        if op is None:
            return None
        out: List[Optional[str]] = []
        for arg in op.output_arg:
            ref = 100 if arg.is_ref else 0  # DT_X_REF = DT_X + 100 (types.proto)
            if arg.type_list_attr:
                out += [_dtype_name(t + ref) for t in node.attr[arg.type_list_attr].list.type]
                continue
            dtype = _dtype_name(arg.type + ref) if arg.type else (
                _dtype_name(node.attr[arg.type_attr].type + ref) if arg.type_attr in node.attr else None)
            count = node.attr[arg.number_attr].i if arg.number_attr else 1
            out += [dtype] * max(count, 0)
        return out

    def _tensors_of(self, node) -> List[TensorInfo]:
        dtypes = self._output_dtypes(node)
        shapes = [_shape(s) for s in node.attr["_output_shapes"].list.shape] if "_output_shapes" in node.attr else None
        count = len(dtypes) if dtypes is not None else (len(shapes) if shapes is not None else 0)
        return [TensorInfo(f"{node.name}:{i}", dtypes[i] if dtypes and i < len(dtypes) else None,
                           shapes[i] if shapes and i < len(shapes) else None) for i in range(count)]

    def tensors(self) -> List[TensorInfo]:
        """Every output the graph records (OpDefs or ``_output_shapes``), in node order."""
        return [t for n in self.graph_def.node for t in self._tensors_of(n)]

    def tensor(self, name: str) -> TensorInfo:
        """The tensor ``node:N`` (like ``Graph.get_tensor_by_name``); a bare node name is refused, as TF does."""
        node_part, sep, index = name.rpartition(":")
        if not sep or not index.isdigit():
            raise errors.InvalidArgumentError(f"{name!r} is not a tensor name 'node:N'", file=self.path or None)
        if node_part not in self._by_name:
            raise errors.NotFoundError(self._missing("node", node_part), file=self.path or None)
        outputs = self._tensors_of(self._by_name[node_part])
        i = int(index)
        if i < len(outputs):
            return outputs[i]
        if not outputs and node_part not in self._op_defs:
            return TensorInfo(name, None, None)  # nothing recorded about its outputs
        raise errors.NotFoundError(f"node {node_part!r} has {len(outputs)} outputs, no {name!r}",
                                   file=self.path or None)

    # -- meta graph parts ---------------------------------------------------------------------
    @property
    def collections(self) -> Dict[str, Dict[str, Any]]:
        """``{name: {"kind": ..., "value": [...]}}``; variable collections' bytes as VariableDef dicts."""
        from .meta_graph import VARIABLE_DEF_COLLECTIONS, variable_key
        from ..proto import variable_pb2

        out: Dict[str, Dict[str, Any]] = {}
        if self.meta_graph is None:
            return out
        for name, collection in sorted(self.meta_graph.collection_def.items()):
            kind = collection.WhichOneof("kind")
            if kind is None:
                out[name] = {"kind": None, "value": []}
                continue
            values = list(getattr(collection, kind).value)
            if kind == "bytes_list" and name in VARIABLE_DEF_COLLECTIONS + ("trainable_resource_variables",):
                decoded = []
                for i, raw in enumerate(values):
                    try:
                        definition = variable_pb2.VariableDef.FromString(raw)
                    except Exception:  # noqa: BLE001 -- protobuf's DecodeError and friends
                        raise errors.DataLossError(f"collection {name!r} item {i} is not a VariableDef",
                                                   file=self.path or None) from None
                    key, slice_spec = variable_key(definition)
                    decoded.append({"variable_name": definition.variable_name,
                                    "snapshot_name": definition.snapshot_name,
                                    "initializer_name": definition.initializer_name,
                                    "trainable": definition.trainable,
                                    "checkpoint_key": key, "slice": slice_spec})
                values = decoded
            elif kind == "bytes_list":
                values = [v.decode("utf-8", "backslashreplace") if v.isascii() else v for v in values]
            elif kind == "any_list":
                values = [v.type_url for v in values]
            out[name] = {"kind": kind, "value": values}
        return out

    def get_collection(self, name: str) -> list:
        return self.collections.get(name, {}).get("value", [])

    def variables(self) -> List[Dict[str, Any]]:
        """The graph's variables joined to their checkpoint keys (``variables`` collection, else ops)."""
        for_vars = self.get_collection("variables")
        if for_vars:
            return for_vars
        found = []
        for n in self.graph_def.node:
            if n.op in ("VariableV2", "Variable", "VarHandleOp"):
                found.append({"variable_name": n.name + ":0", "checkpoint_key": n.name, "slice": None})
        return found

    @property
    def saver_def(self) -> Optional[Dict[str, Any]]:
        if self.meta_graph is None or not self.meta_graph.HasField("saver_def"):
            return None
        from .meta_graph import saver_version_name

        s = self.meta_graph.saver_def
        return {"filename_tensor_name": s.filename_tensor_name, "save_tensor_name": s.save_tensor_name,
                "restore_op_name": s.restore_op_name, "max_to_keep": s.max_to_keep, "sharded": s.sharded,
                "keep_checkpoint_every_n_hours": s.keep_checkpoint_every_n_hours,
                "version": saver_version_name(s.version)}

    @property
    def meta_info_def(self) -> Optional[Dict[str, Any]]:
        if self.meta_graph is None:
            return None
        m = self.meta_graph.meta_info_def
        return {"tensorflow_version": m.tensorflow_version, "tensorflow_git_version": m.tensorflow_git_version,
                "tags": list(m.tags), "stripped_default_attrs": m.stripped_default_attrs,
                "ops": sorted(op.name for op in m.stripped_op_list.op),
                "producer": self.graph_def.versions.producer}

    @property
    def signatures(self) -> Dict[str, Dict[str, Any]]:
        if self.meta_graph is None:
            return {}

        def info(t):
            return {"name": t.name, "dtype": _dtype_name(t.dtype), "shape": _shape(t.tensor_shape)}

        return {key: {"method_name": s.method_name,
                      "inputs": {k: info(v) for k, v in sorted(s.inputs.items())},
                      "outputs": {k: info(v) for k, v in sorted(s.outputs.items())}}
                for key, s in sorted(self.meta_graph.signature_def.items())}

    def as_text(self) -> str:
        """The MetaGraphDef (else GraphDef) as ``export_meta_graph(as_text=True)`` writes it (GRAPH-1)."""
        from .text_format import message_to_text

        return message_to_text(self.meta_graph if self.meta_graph is not None else self.graph_def)


def load(path: PathLike, tags: Sequence[str] = ("serve",), *, filesystem=None) -> Graph:
    """Read ``path``: ``.meta`` / ``.pb`` / ``.pbtxt`` file or SavedModel directory, into a :class:`Graph`.

    ``path`` may be local, an fsspec URL, or a path on ``filesystem`` (an fsspec filesystem object).
    """
    from .. import storage
    from ..proto import graph_pb2, meta_graph_pb2
    from .meta_graph import read_message
    from .saved_model import is_saved_model, read_saved_model, select_meta_graph
    from .text_format import is_text_file, read_text

    path = os.fspath(storage.on_filesystem(path, filesystem))
    if storage.is_url(path) and path.endswith("/"):
        path = path.rstrip("/")
    if storage.isdir(path):
        if not is_saved_model(path):
            raise errors.NotFoundError("a directory, but not a SavedModel (no saved_model.pb)", file=path)
        meta = select_meta_graph(read_saved_model(path), tags)
        return Graph(meta.graph_def, meta, path)
    if not storage.isfile(path):
        raise errors.NotFoundError("file not found", file=path)
    if is_text_file(path):
        head = storage.read_head(path, 4096).lstrip()
        if head.startswith((b"meta_info_def", b"graph_def", b"saver_def", b"collection_def", b"signature_def")):
            meta = read_text(path, meta_graph_pb2.MetaGraphDef())
            return Graph(meta.graph_def, meta, path)
        return Graph(read_text(path, graph_pb2.GraphDef()), None, path)
    if path.endswith(".meta"):
        meta = read_message(path, meta_graph_pb2.MetaGraphDef())
        return Graph(meta.graph_def, meta, path)
    return Graph(read_message(path, graph_pb2.GraphDef()), None, path)


load_graph = load
