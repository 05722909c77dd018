"""Building a TF1 SavedModel from a checkpoint and its graph, as ``SavedModelBuilder`` does
(spec: ``spec/savedmodel.md`` §7, SMB-*).

TensorFlow's counterparts: ``tensorflow/python/saved_model/builder_impl.py``
(``SavedModelBuilder.add_meta_graph_and_variables`` + ``save``), ``simple_save.py``,
and the sharded V2 ``Saver`` it creates (``tensorflow/python/training/saver.py``,
``saving/saveable_object_util.py``).

Strategy
--------
TensorFlow imports the ``.meta``, restores the checkpoint into a session, adds a
sharded V2 ``Saver`` to the graph, saves the variables with it and exports the
graph.  Without a session we produce the same two results directly::

    E/saved_model.pb                   SavedModel{ saved_model_schema_version: 1, meta_graphs: [
                                         MetaGraphDef{ meta_info_def{ stripped_op_list, tags, tensorflow_version,
                                                                      tensorflow_git_version },
                                                       graph_def{ source nodes, then the saver's nodes },
                                                       saver_def (sharded V2), collection_def (the source's),
                                                       signature_def } ] }
    E/variables/variables.index        every variable of the ``variables`` collection, read from the
    E/variables/variables.data-00000-of-00001   checkpoint, in the saver's order (sorted by key)
    E/assets/<basename>                only when the graph names asset files

1. *The graph as TensorFlow re-exports it* (SMB-3): nodes in the order
   TensorFlow's importer creates them (a topological order that keeps the
   file's order where it can), default-valued attrs the node lacks added from
   the op registry, ``_output_shapes`` kept (or, for the few ops a frozen graph
   strips them from, inferred).
2. *The saver's nodes* (SMB-4..6), named by a replay of ``Graph.unique_name``
   over the imported names (case-insensitive counters, scopes reused).
3. ``stripped_op_list`` (SMB-7): the ``OpDef`` of every op of the final graph,
   sorted, from TensorFlow 2.21's registry shipped as data
   (``data/op_defs-2.21.0.pb.z``, written by ``fixtures/generate_op_defs.py``).
4. The variables bundle (SMB-8) through :class:`tfckpt.BundleWriter`.

Everything is written into a temporary sibling of ``export_dir`` and renamed
onto it at the end (SMB-10): a failure leaves ``export_dir`` as it was.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import shutil
import zlib
from typing import Iterable, Mapping, Optional, Sequence, Union

from .. import errors
from ..proto import attr_value_pb2, graph_pb2, meta_graph_pb2, op_def_pb2, saved_model_pb2, saver_pb2
from .freeze import _near_names, load_graph, make_tensor_proto
from .meta_graph import node_name, variable_defs

__all__ = ["build", "simple_save", "build_saved_model", "saved_model_message", "saved_model_bytes", "op_def", "METHOD_NAMES",
           "TENSORFLOW_VERSION", "TENSORFLOW_GIT_VERSION", "DEFAULT_SERVING_SIGNATURE_DEF_KEY"]

PathLike = Union[str, "os.PathLike[str]"]

#: The TensorFlow release whose builder this module reproduces and whose op registry it ships.
TENSORFLOW_VERSION = "2.21.0"
#: What TensorFlow 2.21.0's own builder writes as ``tensorflow_git_version`` (SMB-7); tfckpt writes
#: :data:`TFCKPT_GIT_VERSION` unless told otherwise.
TENSORFLOW_GIT_VERSION = "v2.21.0-rc1-5-ga481b10260d"
TFCKPT_GIT_VERSION = "tfckpt-0.1.0"
DEFAULT_SERVING_SIGNATURE_DEF_KEY = "serving_default"
#: Short method names and the ``SignatureDef.method_name`` strings they stand for.
METHOD_NAMES = {
    "predict": "tensorflow/serving/predict",
    "classify": "tensorflow/serving/classify",
    "regress": "tensorflow/serving/regress",
}
_ASSETS_KEY = "saved_model_assets"
_ASSET_FILEPATHS = "asset_filepaths"
_MAIN_OP_KEY = "saved_model_main_op"
_LEGACY_INIT_OP_KEY = "legacy_init_op"
_ASSET_TYPE_URL = "type.googleapis.com/tensorflow.AssetFileDef"
_REF_VARIABLE_OPS = ("VariableV2", "Variable")
#: Collections TensorFlow holds as variable objects and re-serialises as ``VariableDef`` on export
#: (``ref_variable.py``'s ``register_proto_function`` calls).
_VARIABLE_DEF_COLLECTIONS = ("variables", "trainable_variables", "global_step", "local_variables",
                             "model_variables", "moving_average_variables", "metric_variables")
_STRING, _INT32, _RESOURCE = 7, 3, 20
_REF_OFFSET = 100

# -- the op registry (data file) ------------------------------------------------------------------------------

_REGISTRY: dict = {}


def _registry() -> dict:
    if not _REGISTRY:
        path = os.path.join(os.path.dirname(__file__), "data", f"op_defs-{TENSORFLOW_VERSION}.pb.z")
        with open(path, "rb") as handle:
            ops = op_def_pb2.OpList.FromString(zlib.decompress(handle.read()))
        _REGISTRY.update((op.name, op) for op in ops.op)
    return _REGISTRY


def op_def(name: str):
    """TensorFlow 2.21's ``OpDef`` of op ``name`` as its registry holds it, or None for an unknown op."""
    return _registry().get(name)


# -- names: a replay of Graph.unique_name ---------------------------------------------------------------------

class _Names:
    """``Graph.unique_name`` over a graph whose imported node names are registered with count 1."""

    def __init__(self, nodes) -> None:
        self._used: dict = {}
        for node in nodes:
            self._used.setdefault(node.name.lower(), 1)

    def unique(self, name: str) -> str:
        key = name.lower()
        count = self._used.get(key, 0)
        self._used[key] = count + 1
        if count == 0:
            return name
        base = key
        while key in self._used:
            key = f"{base}_{count}"
            count += 1
        self._used[key] = 1
        return f"{name}_{count - 1}"


# -- shapes ---------------------------------------------------------------------------------------------------

def _shape(dims: Optional[Sequence[int]]):
    """A ``TensorShapeProto``; None is unknown rank."""
    from ..proto import tensor_shape_pb2

    shape = tensor_shape_pb2.TensorShapeProto()
    if dims is None:
        shape.unknown_rank = True
    else:
        for size in dims:
            shape.dim.add(size=size)
    return shape


def _dims(shape) -> Optional[list]:
    return None if shape.unknown_rank else [d.size for d in shape.dim]


def _output_count(node, definition) -> int:
    count = 0
    for arg in definition.output_arg:
        if arg.number_attr:
            count += node.attr[arg.number_attr].i
        elif arg.type_list_attr:
            count += len(node.attr[arg.type_list_attr].list.type)
        else:
            count += 1
    return count


class _Shapes:
    """The static shapes TensorFlow records in ``_output_shapes`` (SMB-3): the node's own attr when it has
    one; otherwise inferred for the ops a frozen graph leaves without it."""

    _PASS = ("Identity", "Enter", "Exit", "NextIteration", "StopGradient", "Snapshot")

    def __init__(self, by_name: dict) -> None:
        self._by_name = by_name
        self._memo: dict = {}

    def of(self, tensor: str) -> Optional[list]:
        """Dims of tensor ``node:i`` (-1 unknown), None for unknown rank; ``False`` when not inferable."""
        name, _, index = tensor.partition(":")
        node = self._by_name[name]
        index = int(index or 0)
        shapes = self.node_shapes(node)
        if shapes is False or index >= len(shapes):
            return False
        return shapes[index]

    def node_shapes(self, node):
        if node.name in self._memo:
            return self._memo[node.name]
        self._memo[node.name] = False  # a cycle (a loop's back edge) is not inferable
        if "_output_shapes" in node.attr:
            out = [_dims(s) for s in node.attr["_output_shapes"].list.shape]
        else:
            out = self._infer(node)
        self._memo[node.name] = out
        return out

    def _infer(self, node):
        op = node.op
        if op == "Const":
            return [[d.size for d in node.attr["value"].tensor.tensor_shape.dim]]
        if op in ("Placeholder", "PlaceholderWithDefault") and "shape" in node.attr:
            return [_dims(node.attr["shape"].shape)]
        if op in self._PASS and node.input:
            shape = self.of(node.input[0])
            return False if shape is False else [shape]
        if op == "GatherV2" and len(node.input) == 3:
            params, indices = self.of(node.input[0]), self.of(node.input[1])
            axis = self._by_name.get(node.input[2].split(":")[0])
            if params is False or indices is False or axis is None or axis.op != "Const":
                return False
            from .meta_graph import tensor_proto_to_array

            a = int(tensor_proto_to_array(axis.attr["value"].tensor))
            if params is None or indices is None:
                return [None]
            return [params[:a] + indices + params[a + 1:]]
        return False


# -- step 1: the source graph as TensorFlow re-exports it -----------------------------------------------------

def _import_order(nodes) -> list:
    """The order TensorFlow's importer creates the nodes in: ready nodes, lowest file position first
    (``graph_constructor.cc``); a ``Merge`` waits only for inputs that are not ``NextIteration``s."""
    index = {n.name: i for i, n in enumerate(nodes)}
    pending = [0] * len(nodes)
    outputs: list = [[] for _ in nodes]
    for i, node in enumerate(nodes):
        for name in node.input:
            source = index.get(node_name(name.lstrip("^")))
            if source is None:
                raise errors.DataLossError(f"node {node.name!r} has input {name!r}, which is not in the graph",
                                           key=node.name)
            if node.op in ("Merge", "RefMerge") and nodes[source].op in ("NextIteration", "RefNextIteration"):
                continue
            pending[i] += 1
            outputs[source].append(i)
    ready = [i for i, p in enumerate(pending) if p == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for j in outputs[i]:
            pending[j] -= 1
            if pending[j] == 0:
                heapq.heappush(ready, j)
    if len(order) != len(nodes):
        stuck = [nodes[i].name for i, p in enumerate(pending) if p > 0][:5]
        raise errors.DataLossError(f"the graph has a cycle through {stuck} (not a loop TensorFlow can import)")
    return [nodes[i] for i in order]


def _add_default_attrs(node) -> None:
    definition = op_def(node.op)
    if definition is None:
        return
    for attr in definition.attr:
        if attr.name not in node.attr and attr.HasField("default_value"):
            node.attr[attr.name].CopyFrom(attr.default_value)


def _sort_control_inputs(node) -> None:
    """TensorFlow's ``ToGraphDef`` lists a node's data inputs first, then its control inputs sorted by name."""
    data = [i for i in node.input if not i.startswith("^")]
    control = sorted(i for i in node.input if i.startswith("^"))
    if list(node.input) != data + control:
        del node.input[:]
        node.input.extend(data + control)


def _variable_collections(meta, out) -> None:
    """The source's collections, with each ``VariableDef`` as TensorFlow re-serialises it from the variable
    it imported: ``trainable`` true exactly for the variables of ``trainable_variables`` (a TF <= 1.4
    ``.meta`` has no such field)."""
    from ..proto import variable_pb2

    trainable = {d.variable_name for d in variable_defs(meta, "trainable_variables")}
    for name, collection in meta.collection_def.items():
        target = out.collection_def[name]
        target.CopyFrom(collection)
        if name not in _VARIABLE_DEF_COLLECTIONS:
            continue
        values = target.bytes_list.value
        for index, raw in enumerate(values):
            definition = variable_pb2.VariableDef.FromString(raw)
            if definition.variable_name in trainable and not definition.trainable:
                definition.trainable = True
                values[index] = definition.SerializeToString(deterministic=True)


def _source_graph(graph_def):
    """The source nodes as TensorFlow's import + ``as_graph_def(add_shapes=True)`` gives them back."""
    out = graph_pb2.GraphDef()
    for node in _import_order(list(graph_def.node)):
        out.node.add().CopyFrom(node)
    for node in out.node:
        _add_default_attrs(node)
        _sort_control_inputs(node)
    by_name = {n.name: n for n in out.node}
    shapes = _Shapes(by_name)
    for node in out.node:
        definition = op_def(node.op)
        if "_output_shapes" in node.attr or definition is None or _output_count(node, definition) == 0:
            continue
        inferred = shapes.node_shapes(node)
        if inferred is not False and len(inferred) == _output_count(node, definition):
            node.attr["_output_shapes"].list.shape.extend(_shape(d) for d in inferred)
    if graph_def.library.ByteSize():  # TensorFlow writes no library when it has no functions
        out.library.CopyFrom(graph_def.library)
    if graph_def.HasField("versions"):
        out.versions.CopyFrom(graph_def.versions)
    return out, shapes


# -- step 2: the saver's nodes --------------------------------------------------------------------------------

class _Saveable:
    """One SaveSpec: what SaveV2 writes under ``key`` (a slice of it when ``slice_spec``) and its variable."""

    def __init__(self, key, slice_spec, variable_node, tensor, dtype, dims, partitioned):
        self.key, self.slice_spec = key, slice_spec
        self.variable, self.tensor = variable_node, tensor
        self.dtype, self.dims, self.partitioned = dtype, dims, partitioned
        self.resource = variable_node.op == "VarHandleOp"

    @property
    def restored_dims(self) -> Optional[list]:
        """The shape RestoreV2's shape function gives this tensor: the slice's, unknown for a whole tensor."""
        if not self.slice_spec:
            return None
        return [int(p.split(",")[1]) if p != "-" else int(d)
                for p, d in zip(self.slice_spec.split(" ")[-1].split(":"), self.slice_spec.split(" ")[:-1])]


def _saveables(meta, by_name) -> list:
    """The saver's specs in its order: grouped by key, keys sorted, pieces in collection order (SMB-4)."""
    if meta is None:
        return []
    saveables = meta.collection_def.get("saveable_objects")
    if saveables is not None and (saveables.node_list.value or saveables.bytes_list.value):
        raise errors.UnimplementedError("the graph has a saveable_objects collection (tables or other saveables); "
                                        "only variables can be saved without TensorFlow")
    groups: dict = {}
    for definition in variable_defs(meta, "variables"):
        name = node_name(definition.variable_name)
        node = by_name.get(name)
        if node is None:
            raise errors.DataLossError(f"the variables collection names {definition.variable_name!r}, "
                                       "which the graph does not have", key=name)
        if node.op not in _REF_VARIABLE_OPS + ("VarHandleOp",):
            raise errors.UnimplementedError(f"variable {name!r} is a {node.op}, not a variable op", key=name)
        dtype = node.attr["dtype"].type
        dims = _dims(node.attr["shape"].shape)
        if definition.HasField("save_slice_info_def"):
            info = definition.save_slice_info_def
            key = info.full_name
            spec = " ".join(str(d) for d in info.full_shape) + " " + ":".join(
                f"{o},{n}" for o, n in zip(info.var_offset, info.var_shape))
            tensor = None if node.op == "VarHandleOp" else node_name(definition.snapshot_name)
            groups.setdefault(key, []).append(_Saveable(key, spec, node, tensor, dtype, dims, True))
        else:
            tensor = node_name(definition.snapshot_name) if node.op == "VarHandleOp" else name
            if name in groups:
                raise errors.DataLossError(f"variable {name!r} is listed twice in the variables collection", key=name)
            groups[name] = [_Saveable(name, "", node, tensor, dtype, dims, False)]
    return [spec for key in sorted(groups) for spec in groups[key]]


def _attr(node, key, **value) -> None:
    field, content = next(iter(value.items()))
    target = node.attr[key]
    if field == "shapes":
        target.list.shape.extend(_shape(d) for d in content)
    elif field == "types":
        target.list.type.extend(content)
    elif field == "strings":
        target.list.s.extend(content)
    elif field == "tensor":
        target.tensor.CopyFrom(content)
    elif field == "shape":
        target.shape.CopyFrom(_shape(content))
    else:
        setattr(target, field, content)


class _SaverBuilder:
    """The nodes of ``Saver(sharded=True, write_version=V2)`` for one device, in creation order (SMB-5)."""

    def __init__(self, graph, names: _Names, specs: list, device: str) -> None:
        self.graph, self.names, self.specs = graph, names, specs
        self.device = device
        self.cpu0 = _cpu0(device)

    def node(self, name, op, inputs=(), device="", control=(), **attrs):
        node = self.graph.node.add(name=name, op=op, device=device)
        node.input.extend(inputs)
        node.input.extend(sorted("^" + c for c in control))
        for key in sorted(attrs):
            _attr(node, key, **attrs[key])
        return name

    def const(self, name, dtype, values, dims, device=""):
        import numpy as np

        array = np.array(values, dtype=object if dtype == _STRING else np.int32).reshape(dims)
        return self.node(name, "Const", device=device, _output_shapes=dict(shapes=[list(dims)]),
                         dtype=dict(type=dtype), value=dict(tensor=make_tensor_proto(array, dtype)))

    def build(self):
        n, s = self.names, self.names.unique("save")
        scalar = dict(shapes=[[]])
        manual = dict(b=True)
        scope = n.unique(f"{s}/filename")
        default = self.const(n.unique(f"{scope}/input"), _STRING, [b"model"], [])
        self.node(scope, "PlaceholderWithDefault", [default], _output_shapes=scalar, dtype=dict(type=_STRING),
                  shape=dict(shape=[]))
        prefix = self.node(n.unique(f"{s}/Const"), "PlaceholderWithDefault", [scope], _output_shapes=scalar,
                           dtype=dict(type=_STRING), shape=dict(shape=[]))
        # _AddShardedSaveOpsForV2
        cpu = "/device:CPU:*"
        regex = self.node(n.unique(f"{s}/StaticRegexFullMatch"), "StaticRegexFullMatch", [prefix], cpu,
                          _output_shapes=scalar, pattern=dict(s=b"^s3://.*"))
        part = self.const(n.unique(f"{s}/Const"), _STRING, [b".part"], [], cpu)
        temp = self.const(n.unique(f"{s}/Const"), _STRING, [b"_temp/part"], [], cpu)
        select = self.node(n.unique(f"{s}/Select"), "Select", [regex, part, temp], cpu, T=dict(type=_STRING),
                           _output_shapes=scalar)
        join = self.node(n.unique(f"{s}/StringJoin"), "StringJoin", [prefix, select], cpu, N=dict(i=2),
                         _output_shapes=scalar, separator=dict(s=b""))
        shards = self.const(n.unique(f"{s}/num_shards"), _INT32, [1], [])
        scope = n.unique(f"{s}/ShardedFilename")
        shard = self.const(n.unique(f"{scope}/shard"), _INT32, [0], [], self.cpu0)
        sharded = self.node(scope, "ShardedFilename", [join, shard, shards], self.cpu0, _output_shapes=scalar)
        tensors = [self.read(spec) if spec.tensor is None else spec.tensor for spec in self.specs]
        save = self.save_or_restore("SaveV2", sharded, tensors)
        dependency = self.node(n.unique(f"{s}/control_dependency"), "Identity", [sharded], self.cpu0,
                               control=[save], T=dict(type=_STRING), _class=dict(strings=[f"loc:@{sharded}".encode()]),
                               _has_manual_control_dependencies=manual, _output_shapes=scalar)
        scope = n.unique(f"{s}/MergeV2Checkpoints")
        pack = self.node(n.unique(f"{scope}/checkpoint_prefixes"), "Pack", [sharded], self.cpu0, control=[dependency],
                         N=dict(i=1), T=dict(type=_STRING), _output_shapes=dict(shapes=[[1]]), axis=dict(i=0))
        merge = self.node(scope, "MergeV2Checkpoints", [pack, prefix], self.cpu0,
                          _has_manual_control_dependencies=manual, allow_missing_files=dict(b=False),
                          delete_old_dirs=dict(b=True))
        save_tensor = self.node(n.unique(f"{s}/Identity"), "Identity", [prefix], self.cpu0,
                                control=[merge, dependency], T=dict(type=_STRING), _output_shapes=scalar)
        # _AddShardedRestoreOps
        restore = self.save_or_restore("RestoreV2", prefix, None)
        assigns = []
        for i, spec in enumerate(self.specs):
            value = restore if i == 0 else f"{restore}:{i}"
            if spec.resource:
                value = self.node(n.unique(f"{s}/Identity"), "Identity", [value], self.device,
                                  T=dict(type=spec.dtype), _output_shapes=dict(shapes=[spec.restored_dims]))
                assigns.append(self.node(n.unique(f"{s}/AssignVariableOp"), "AssignVariableOp",
                                         [spec.variable.name, value], self.device,
                                         _has_manual_control_dependencies=manual, dtype=dict(type=spec.dtype),
                                         validate_shape=dict(b=False)))
            else:
                assigns.append(self.node(n.unique(f"{s}/Assign"), "Assign", [spec.variable.name, value], self.device,
                                         T=dict(type=spec.dtype),
                                         _class=dict(strings=_colocation(spec.variable)),
                                         _has_manual_control_dependencies=manual,
                                         _output_shapes=dict(shapes=[spec.dims]), use_locking=dict(b=True),
                                         validate_shape=dict(b=spec.dims is not None and -1 not in spec.dims)))
        shard_op = self.node(n.unique(f"{s}/restore_shard"), "NoOp", device=self.device, control=assigns,
                             _has_manual_control_dependencies=manual)
        restore_all = self.node(n.unique(f"{s}/restore_all"), "NoOp", control=[shard_op])
        return saver_pb2.SaverDef(filename_tensor_name=prefix + ":0", save_tensor_name=save_tensor + ":0",
                                  restore_op_name=restore_all, max_to_keep=5, sharded=True,
                                  keep_checkpoint_every_n_hours=10000.0, version=saver_pb2.SaverDef.V2)

    def read(self, spec) -> str:
        """A partitioned resource piece is read afresh: ``Read/{DisableCopyOnRead,ReadVariableOp}`` and two
        ``Identity``s (``ResourceVariableSaveable``'s read closure)."""
        n, s = self.names, "save"
        scope = n.unique(f"{s}/Read")
        variable = spec.variable.name
        self.node(n.unique(f"{scope}/DisableCopyOnRead"), "DisableCopyOnRead", [variable], self.cpu0)
        read = self.node(n.unique(f"{scope}/ReadVariableOp"), "ReadVariableOp", [variable], self.cpu0,
                         _output_shapes=dict(shapes=[spec.dims]), dtype=dict(type=spec.dtype))
        first = self.node(n.unique(f"{s}/Identity"), "Identity", [read], self.cpu0, T=dict(type=spec.dtype),
                          _output_shapes=dict(shapes=[spec.dims]))
        return self.node(n.unique(f"{s}/Identity"), "Identity", [first], self.cpu0, T=dict(type=spec.dtype),
                         _output_shapes=dict(shapes=[spec.dims]))

    def save_or_restore(self, op, filename, tensors):
        n = self.names
        scope = n.unique(f"save/{op}")
        count = len(self.specs)
        names = self.const(n.unique(f"{scope}/tensor_names"), _STRING, [p.key.encode() for p in self.specs],
                           [count], self.cpu0)
        slices = self.const(n.unique(f"{scope}/shape_and_slices"), _STRING,
                            [p.slice_spec.encode() for p in self.specs], [count], self.cpu0)
        dtypes = dict(types=[p.dtype for p in self.specs])
        if tensors is not None:
            return self.node(scope, op, [filename, names, slices] + tensors, self.cpu0,
                             _has_manual_control_dependencies=dict(b=True), dtypes=dtypes)
        return self.node(scope, op, [filename, names, slices], self.cpu0,
                         _output_shapes=dict(shapes=[p.restored_dims for p in self.specs]), dtypes=dtypes)


def _colocation(variable) -> list:
    """A ref ``Assign`` is colocated with its variable: the variable's own ``_class`` (a slot colocated
    with its primary says ``loc:@<primary>``), else ``loc:@<variable>``."""
    if "_class" in variable.attr and variable.attr["_class"].list.s:
        return list(variable.attr["_class"].list.s)
    return [f"loc:@{variable.name}".encode()]


def _cpu0(device: str) -> str:
    """``saveable_object_util.set_cpu0``: the device with its type and index replaced by ``CPU:0``."""
    if not device:
        return "/device:CPU:0"
    parts = [p for p in device.split("/") if p and not p.startswith(("device:", "cpu:", "gpu:", "CPU:", "GPU:"))]
    return "/" + "/".join(parts + ["device:CPU:0"])


# -- signatures -----------------------------------------------------------------------------------------------

def _tensor_info(tensor: str, by_name: dict, shapes: _Shapes, what: str):
    from ..proto import tensor_shape_pb2

    name = tensor if ":" in tensor else tensor + ":0"
    node_part, _, index = name.rpartition(":")
    node = by_name.get(node_part)
    if node is None or not index.isdigit():
        raise errors.NotFoundError(f"{what}: tensor {tensor!r} is not in the graph"
                                   f"{_near_names(node_part, by_name)}", key=tensor)
    definition = op_def(node.op)
    count = _output_count(node, definition) if definition is not None else None
    if count is not None and int(index) >= count:
        raise errors.NotFoundError(f"{what}: tensor {tensor!r} does not exist: node {node_part!r} ({node.op}) has "
                                   f"{count} output(s)", key=tensor)
    info = meta_graph_pb2.TensorInfo(name=name, dtype=_output_dtype(node, definition, int(index)))
    dims = shapes.of(name)
    if dims is False or dims is None:
        info.tensor_shape.CopyFrom(tensor_shape_pb2.TensorShapeProto(unknown_rank=True))
    else:
        info.tensor_shape.CopyFrom(_shape(dims))
    return info


def _output_dtype(node, definition, index: int) -> int:
    if definition is None:
        if "dtype" in node.attr:
            return node.attr["dtype"].type
        if "T" in node.attr:
            return node.attr["T"].type
        raise errors.UnimplementedError(f"op {node.op!r} of node {node.name!r} is unknown to TensorFlow "
                                        f"{TENSORFLOW_VERSION}'s registry: its output dtype cannot be told",
                                        key=node.name)
    position = 0
    for arg in definition.output_arg:
        if arg.number_attr:
            size = node.attr[arg.number_attr].i
            types = [node.attr[arg.type_attr].type if arg.type_attr else arg.type] * size
        elif arg.type_list_attr:
            types = list(node.attr[arg.type_list_attr].list.type)
        else:
            types = [node.attr[arg.type_attr].type if arg.type_attr else arg.type]
        if index < position + len(types):
            dtype = types[index - position]
            return dtype + _REF_OFFSET if arg.is_ref else dtype
        position += len(types)
    raise errors.NotFoundError(f"node {node.name!r} has no output {index}", key=node.name)


def _signature(key, value, by_name, shapes):
    """A ``SignatureDef`` from a message, a mapping ``{inputs, outputs, method_name}`` or a tuple
    ``(inputs, outputs[, method])``; inputs/outputs map names to tensor names (``"x:0"``)."""
    if hasattr(value, "DESCRIPTOR"):
        signature = meta_graph_pb2.SignatureDef.FromString(value.SerializeToString())
        for group in (signature.inputs, signature.outputs):
            for name, info in group.items():
                _tensor_info(info.name, by_name, shapes, f"signature {key!r}")
        return signature
    if isinstance(value, Mapping):
        inputs, outputs = value.get("inputs", {}), value.get("outputs", {})
        method = value.get("method_name", "predict")
    else:
        inputs, outputs, *rest = value
        method = rest[0] if rest else "predict"
    method = METHOD_NAMES.get(method, method)
    signature = meta_graph_pb2.SignatureDef(method_name=method)
    for group, tensors, what in ((signature.inputs, inputs, "input"), (signature.outputs, outputs, "output")):
        for name, tensor in tensors.items():
            group[name].CopyFrom(_tensor_info(tensor, by_name, shapes, f"signature {key!r} {what} {name!r}"))
    return signature


# -- the whole SavedModel -------------------------------------------------------------------------------------

def saved_model_message(graph, signatures: Mapping, tags: Sequence[str] = ("serve",), *, checkpoint=None,
                      assets_collection: Optional[Iterable[str]] = None, main_op: Optional[str] = None,
                      clear_devices: bool = False, tensorflow_git_version: str = TFCKPT_GIT_VERSION):
    """``(SavedModel message, saver specs, asset files {basename: source path})`` without writing anything."""
    graph_def, meta = load_graph(graph, None if checkpoint is None else os.fspath(checkpoint))
    source, shapes = _source_graph(graph_def)
    by_name = {n.name: n for n in source.node}
    if meta is None and any(n.op in _REF_VARIABLE_OPS + ("VarHandleOp",) for n in source.node):
        first = next(n.name for n in source.node if n.op in _REF_VARIABLE_OPS + ("VarHandleOp",))
        raise errors.InvalidArgumentError(
            f"the GraphDef has variable {first!r} but no collections to say what to save: give the .meta "
            "(a MetaGraphDef), or freeze the graph first", key=first)
    specs = _saveables(meta, by_name)
    out = meta_graph_pb2.MetaGraphDef()
    if meta is not None:
        _variable_collections(meta, out)
    signature_defs = {key: _signature(key, value, by_name, shapes) for key, value in (signatures or {}).items()}
    assets = _assets(out, assets_collection, by_name)
    if main_op is not None:
        _main_op(out, main_op, by_name)
    graph_out = out.graph_def
    graph_out.CopyFrom(source)
    if specs:
        devices = sorted({spec.variable.device for spec in specs})
        if len(devices) > 1:
            raise errors.UnimplementedError(f"variables on several devices ({devices}) make a saver of several "
                                            "shards, which is not supported; pass clear_devices=True")
        names = _Names(source.node)
        out.saver_def.CopyFrom(_SaverBuilder(graph_out, names, specs, devices[0]).build())
    if clear_devices:  # export_scoped_meta_graph rebuilds the GraphDef: library then present, even empty
        for node in graph_out.node:
            node.device = ""
        graph_out.library.SetInParent()
    info = out.meta_info_def
    used = sorted({n.op for n in graph_out.node} | {n.op for f in graph_out.library.function for n in f.node_def})
    source_ops = {o.name: o for o in meta.meta_info_def.stripped_op_list.op} if meta is not None else {}
    for op in used:
        definition = op_def(op) or source_ops.get(op)
        if definition is not None:
            info.stripped_op_list.op.add().CopyFrom(definition)
    info.tags.extend(tags)
    info.tensorflow_version = TENSORFLOW_VERSION
    info.tensorflow_git_version = tensorflow_git_version
    for key in signature_defs:
        out.signature_def[key].CopyFrom(signature_defs[key])
    model = saved_model_pb2.SavedModel(saved_model_schema_version=1)
    model.meta_graphs.add().CopyFrom(out)
    return model, specs, assets


def _assets(meta, tensors, by_name) -> dict:
    """Add the ``saved_model_assets`` collection for the asset path tensors (string ``Const`` nodes) and
    return ``{basename: source path}`` of the files to copy into ``assets/`` (SMB-9)."""
    from google.protobuf import any_pb2

    files: dict = {}
    for tensor in tensors or ():
        name = node_name(tensor)
        node = by_name.get(name)
        if node is None:
            raise errors.NotFoundError(f"asset tensor {tensor!r} is not in the graph{_near_names(name, by_name)}",
                                       key=tensor)
        value = node.attr["value"].tensor if node.op == "Const" else None
        if value is None or value.dtype != _STRING or len(value.string_val) != 1:
            raise errors.InvalidArgumentError(f"asset tensor {tensor!r} must be a scalar string Const, "
                                              f"not a {node.op}", key=tensor)
        path = value.string_val[0].decode("utf-8", "surrogateescape")
        base = os.path.basename(path)
        if files.get(base, path) != path:
            raise errors.UnimplementedError(f"two asset files are both named {base!r}", key=tensor)
        files[base] = path
        asset = meta_graph_pb2.AssetFileDef(filename=base)
        asset.tensor_info.name = tensor if ":" in tensor else tensor + ":0"
        meta.collection_def[_ASSETS_KEY].any_list.value.append(
            any_pb2.Any(type_url=_ASSET_TYPE_URL, value=asset.SerializeToString()))
    return files


def _main_op(meta, name: str, by_name) -> None:
    """``saved_model_main_op``: the op the loader runs after restoring (``main_op=``/``legacy_init_op``)."""
    name = node_name(name)
    if name not in by_name:
        raise errors.NotFoundError(f"main op {name!r} is not in the graph{_near_names(name, by_name)}", key=name)
    for key in (_MAIN_OP_KEY, _LEGACY_INIT_OP_KEY):
        if key in meta.collection_def and meta.collection_def[key].node_list.value:
            raise errors.InvalidArgumentError(f"the graph already has a main op in collection {key!r}", key=key)
    meta.collection_def[_MAIN_OP_KEY].node_list.value.append(name)


def _read_values(reader, specs) -> None:
    """Check every spec against the checkpoint before anything is written (SMB-11)."""
    from ..dtypes import as_dtype

    shapes, dtypes = reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()
    for spec in specs:
        if spec.key not in shapes:
            raise errors.NotFoundError(
                f"variable {spec.variable.name!r} needs checkpoint key {spec.key!r}, which the checkpoint lacks"
                f"{_near_names(spec.key, shapes)}", file=reader.path, key=spec.key)
        if dtypes[spec.key].as_datatype_enum != spec.dtype:
            raise errors.InvalidArgumentError(
                f"variable {spec.variable.name!r} is {as_dtype(spec.dtype).name} in the graph but "
                f"{dtypes[spec.key].name} in the checkpoint", file=reader.path, key=spec.key)


def _write_variables(prefix: str, reader, specs, sync: bool) -> None:
    from ..bundle.writer import BundleWriter

    with BundleWriter(prefix, sync=sync) as writer:
        for spec in specs:
            if spec.slice_spec:
                full = [int(d) for d in spec.slice_spec.split(" ")[:-1]]
                part = spec.slice_spec.split(" ")[-1]
                value = reader.get_slice(spec.key, part)
                writer.add_slice(spec.key, full, part, value, dtype=reader.get_variable_to_dtype_map()[spec.key])
            else:
                value = reader.get_tensor(spec.key)
                if spec.dims is not None and (len(spec.dims) != value.ndim or any(
                        d >= 0 and d != v for d, v in zip(spec.dims, value.shape))):
                    raise errors.InvalidArgumentError(
                        f"variable {spec.variable.name!r} has shape {spec.dims} in the graph but "
                        f"{list(value.shape)} in the checkpoint", file=reader.path, key=spec.key)
                writer.add(spec.key, value, dtype=reader.get_variable_to_dtype_map()[spec.key])


def _check_export_dir(export_dir: str) -> None:
    if os.path.lexists(export_dir):
        if not os.path.isdir(export_dir):
            raise errors.AlreadyExistsError("the export directory exists and is not a directory", file=export_dir)
        entries = os.listdir(export_dir)
        if entries:
            raise errors.AlreadyExistsError(
                f"the export directory exists and isn't empty ({len(entries)} entries, e.g. {sorted(entries)[0]!r}); "
                "a SavedModel is written only into a new or empty directory, as TensorFlow's builder does",
                file=export_dir)


def build(export_dir: PathLike, checkpoint, graph=None, signatures: Optional[Mapping] = None,
          tags: Sequence[str] = ("serve",), *, assets_collection: Optional[Iterable[str]] = None,
          main_op: Optional[str] = None, clear_devices: bool = False,
          tensorflow_git_version: str = TFCKPT_GIT_VERSION, sync: bool = True) -> str:
    """Write a TF1 SavedModel to ``export_dir`` from a checkpoint and its graph, as
    ``SavedModelBuilder(export_dir).add_meta_graph_and_variables(sess, tags, signature_def_map)`` followed
    by ``save()`` does after restoring the checkpoint into ``sess`` (spec/savedmodel.md §7).

    ``checkpoint`` is a prefix, a directory with a state file, a :class:`tfckpt.CheckpointReader`, or
    None for a frozen graph (no variables); ``graph`` a ``.meta`` path, a MetaGraphDef, a GraphDef
    (e.g. from :func:`tfckpt.freeze`; written with an empty ``variables/``) or a binary GraphDef path,
    or None for ``<prefix>.meta``.  ``signatures`` maps a key to a ``SignatureDef``, to
    ``{"inputs": {name: "x:0"}, "outputs": {...}, "method_name": "predict"}`` or to a tuple
    ``(inputs, outputs[, method])``; dtypes and shapes come from the graph.  ``assets_collection``
    names string ``Const`` tensors holding file paths (copied into ``assets/``); ``main_op`` an op the
    loader runs after restoring.  Returns ``export_dir``.
    """
    from ..checkpoint_reader import CheckpointReader, load_checkpoint

    export_dir = os.fspath(export_dir)
    _check_export_dir(export_dir)
    if isinstance(checkpoint, (str, os.PathLike)) and os.path.isdir(checkpoint):
        from ..state_file import latest_checkpoint

        found = latest_checkpoint(os.fspath(checkpoint))
        if found is None:
            raise errors.NotFoundError("the directory has no checkpoint state file naming a checkpoint",
                                       file=os.fspath(checkpoint))
        checkpoint = found
    prefix = checkpoint.path if isinstance(checkpoint, CheckpointReader) else checkpoint
    model, specs, assets = saved_model_message(graph, signatures or {}, tags, checkpoint=prefix,
                                             assets_collection=assets_collection, main_op=main_op,
                                             clear_devices=clear_devices,
                                             tensorflow_git_version=tensorflow_git_version)
    data = saved_model_bytes(model)
    for base, path in assets.items():
        if not os.path.isfile(path):
            raise errors.NotFoundError(f"asset file {base!r} does not exist", file=path)
    reader = None
    if specs:
        if checkpoint is None:
            raise errors.InvalidArgumentError(f"the graph has {len(specs)} variable(s) to save but no checkpoint "
                                              "was given")
        reader = checkpoint if isinstance(checkpoint, CheckpointReader) else load_checkpoint(checkpoint)
    try:
        if reader is not None:
            _read_values(reader, specs)
        _publish_directory(export_dir, lambda temp: _write_all(temp, data, reader, specs, assets, sync))
    finally:
        if reader is not None and reader is not checkpoint:
            reader.close()
    return export_dir


def _write_all(temp: str, data: bytes, reader, specs, assets, sync: bool) -> None:
    from ..files import atomic_output, tempstate_name
    from .saved_model import variables_prefix

    os.makedirs(os.path.join(temp, "variables"))
    if specs:
        _write_variables(variables_prefix(temp), reader, specs, sync)
    if assets:
        os.makedirs(os.path.join(temp, "assets"))
        for base, path in sorted(assets.items()):
            shutil.copyfile(path, os.path.join(temp, "assets", base))
    final = os.path.join(temp, "saved_model.pb")
    with atomic_output(final, tempstate_name(final), sync=sync) as handle:
        handle.write(data)


def _publish_directory(export_dir: str, write) -> None:
    """Write the SavedModel into a temporary sibling, then rename it onto ``export_dir`` (SMB-10)."""
    import secrets

    parent = os.path.dirname(os.path.abspath(export_dir))
    temp = os.path.join(parent, f".{os.path.basename(os.path.abspath(export_dir))}.tempstate{secrets.randbits(64)}")
    try:
        with errors.os_errors("writing the SavedModel", file=export_dir):
            os.makedirs(parent, exist_ok=True)
            os.mkdir(temp)
            write(temp)
            _check_export_dir(export_dir)  # still new or empty: nobody wrote there meanwhile
            if os.path.isdir(export_dir):
                os.rmdir(export_dir)  # an empty directory is replaced
            os.rename(temp, export_dir)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(temp)
        raise


def simple_save(export_dir: PathLike, checkpoint, graph, inputs: Mapping[str, str], outputs: Mapping[str, str],
                *, legacy_init_op: Optional[str] = None, **options) -> str:
    """``tf.compat.v1.saved_model.simple_save``: one ``serving_default`` predict signature, tag ``serve``,
    the graph's ``asset_filepaths`` collection as assets and ``clear_devices=True``."""
    from .freeze import load_graph as _load

    _, meta = _load(graph, None if checkpoint is None or not isinstance(checkpoint, (str, os.PathLike))
                    else os.fspath(checkpoint))
    assets = None
    if meta is not None and _ASSET_FILEPATHS in meta.collection_def:
        assets = list(meta.collection_def[_ASSET_FILEPATHS].node_list.value)
    signatures = {DEFAULT_SERVING_SIGNATURE_DEF_KEY: {"inputs": dict(inputs), "outputs": dict(outputs),
                                                      "method_name": "predict"}}
    return build(export_dir, checkpoint, graph if meta is None else meta, signatures, ("serve",),
                 assets_collection=assets, main_op=legacy_init_op, clear_devices=True, **options)


#: ``tfckpt.build_saved_model``: the top-level name of :func:`build`.
build_saved_model = build


def saved_model_bytes(model) -> bytes:
    """``saved_model.pb`` as TensorFlow writes it: the deterministic serialisation (SMB-2)."""
    return model.SerializeToString(deterministic=True)
