"""The reference implementation (``tfckpt``) as an in-process adapter.

Strategy
--------
A thin translation: public ``tfckpt`` calls in, descriptions out.  Arrays come
back from ``tfckpt`` in TensorFlow's NumPy dtypes (ml_dtypes, structured
quantized dtypes, object arrays of bytes) and are turned into bit patterns by
``description.tensor_from_array``; on the way in, bit patterns are viewed as
the reference's NumPy dtype.  Every ``tfckpt.errors.CheckpointError`` becomes a
clean rejection with the error's category; any other exception escapes and is
counted as a crash.

``python -m tfckpt_conformance.adapters.reference_server`` serves this adapter
over the out-of-process protocol.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

import tfckpt
from tfckpt import errors as tf_errors
from tfckpt import state_file
from tfckpt.graph import meta_graph, saved_model
from tfckpt.objects import keys

from ..adapter import Adapter, CheckpointState, ImplementationError, KeyQuery, MetaGraphInfo, ResolvedKey, TensorInfo
from ..description import STRING, c_order, Description, TensorDescription, parse_slice, tensor_from_array

__all__ = ["ReferenceAdapter", "to_native"]


@contextlib.contextmanager
def _rejections():
    """Turn the reference's own errors into clean rejections."""
    try:
        yield
    except tf_errors.CheckpointError as exc:
        raise ImplementationError(exc.category, str(exc)) from exc


def to_native(tensor: TensorDescription) -> np.ndarray:
    """The tensor as the NumPy array ``tfckpt`` writes (its own dtype for the TensorFlow type)."""
    if tensor.dtype == STRING:
        arr = np.empty(len(tensor.strings or []), dtype=object)
        arr[:] = tensor.strings or []
        return arr.reshape(tensor.shape)
    native = tfckpt.as_dtype(tensor.dtype).numpy_dtype
    return c_order(tensor.data).view(native).reshape(tensor.shape)


def _slice_text(tensor_slice) -> str:
    return str(tensor_slice)


class ReferenceAdapter(Adapter):
    name = "reference"
    version = getattr(tfckpt, "__version__", "")
    operations = frozenset(
        {"read", "write", "validate", "list", "read_slice", "read_state", "write_state", "latest_checkpoint",
         "merge", "update_state", "resolve", "read_meta_graph", "write_v1", "manage", "rewrite",
         "freeze", "write_objects", "build_saved_model", "graph"}
    )
    features = frozenset(
        {
            "dtype:*",
            "string",
            "sliced",
            "multi_shard",
            "object_graph",
            "v1",
            "state_file",
            "big_endian",
            "snappy",
            "zero_size",
            "scalar",
            "variant",
        }
    )

    def read(self, prefix: str, *, verify: bool = True) -> Description:
        with _rejections(), tfckpt.load_checkpoint(prefix, verify_checksums=verify) as reader:
            dtypes = reader.get_variable_to_dtype_map()
            tensors = []
            for key in reader.keys():
                value = reader.get_tensor(key)  # variants too: reading them verifies their checksums
                if dtypes[key].name == "variant":
                    continue  # a description cannot express variant tensors (spec/conformance.md CONF-7)
                entry = reader.entry(key)
                slices = getattr(entry, "slices", ())
                partitions = [_slice_text(s) for s in slices] or None
                tensors.append(tensor_from_array(key, dtypes[key].name, value, partitions=partitions))
            return Description(tensors)

    def write(self, description: Description, prefix: str) -> None:
        with _rejections(), tfckpt.BundleWriter(prefix) as writer:
            for tensor in description.tensors:
                value = to_native(tensor)
                if tensor.partitions:
                    for spec in tensor.partitions:
                        part = c_order(value[parse_slice(spec, tensor.shape)])
                        writer.add_slice(tensor.key, tensor.shape, spec, part, dtype=tensor.dtype)
                else:
                    writer.add(tensor.key, value, dtype=tensor.dtype)

    def validate(self, prefix: str) -> None:
        # Full verification: every tensor read with its checksum checked.
        with _rejections(), tfckpt.load_checkpoint(prefix, verify_checksums=True) as reader:
            for key in reader.keys():
                reader.get_tensor(key)

    def list(self, prefix: str) -> list[TensorInfo]:
        with _rejections(), tfckpt.load_checkpoint(prefix) as reader:
            shapes = reader.get_variable_to_shape_map()
            dtypes = reader.get_variable_to_dtype_map()
            return [TensorInfo(k, dtypes[k].name, tuple(shapes[k])) for k in reader.keys()]

    def read_slice(self, prefix: str, key: str, slice_spec: str) -> TensorDescription:
        with _rejections(), tfckpt.load_checkpoint(prefix) as reader:
            dtype = reader.get_variable_to_dtype_map().get(key)
            if dtype is None:
                raise ImplementationError("NOT_FOUND", f"no tensor {key!r}")
            value = reader.get_slice(key, slice_spec)
            return tensor_from_array(key, dtype.name, value)

    def read_state(self, directory: str) -> CheckpointState:
        path = os.path.join(directory, state_file.STATE_FILENAME)
        if not os.path.isfile(path):
            raise ImplementationError("NOT_FOUND", f"no state file {path}")
        with _rejections():
            with open(path, "rb") as f:
                proto = state_file.parse_checkpoint_state(f.read(), file=path)
        return CheckpointState.from_message(proto)

    def write_state(self, directory: str, state: CheckpointState) -> None:
        proto = state_file.CheckpointState()
        proto.model_checkpoint_path = state.model_checkpoint_path
        proto.all_model_checkpoint_paths.extend(state.all_model_checkpoint_paths)
        proto.all_model_checkpoint_timestamps.extend(state.all_model_checkpoint_timestamps)
        proto.last_preserved_timestamp = state.last_preserved_timestamp
        with _rejections():
            state_file.atomic_write_text(
                os.path.join(directory, state_file.STATE_FILENAME), state_file.format_checkpoint_state(proto)
            )

    def latest_checkpoint(self, directory: str):
        with _rejections():
            return tfckpt.latest_checkpoint(directory)

    def merge(self, prefixes, prefix: str) -> None:
        with _rejections():
            tfckpt.merge_bundles(list(prefixes), prefix)

    def update_state(self, directory, model_checkpoint_path, all_model_checkpoint_paths, *,
                     all_model_checkpoint_timestamps=None, last_preserved_timestamp=None,
                     save_relative_paths=False) -> None:
        with _rejections():
            tfckpt.update_checkpoint_state(
                directory,
                model_checkpoint_path,
                list(all_model_checkpoint_paths),
                all_model_checkpoint_timestamps=all_model_checkpoint_timestamps,
                last_preserved_timestamp=last_preserved_timestamp,
                save_relative_paths=save_relative_paths,
            )

    def manage(self, directory: str, series: dict) -> list[list[str]]:
        clock = _SeriesClock(series["start_clock"])
        with _rejections():
            manager = tfckpt.CheckpointManager(
                directory, max_to_keep=series["max_to_keep"],
                keep_checkpoint_every_n_hours=series["keep_checkpoint_every_n_hours"],
                checkpoint_name=series["checkpoint_name"], style=series["style"], clock=clock)
            after = []
            for save in series["saves"]:
                clock.now = save["clock"]
                manager.save({"v": np.zeros(3, np.float32)}, checkpoint_number=save["number"])
                after.append(sorted(n[: -len(".index")] for n in os.listdir(directory) if n.endswith(".index")))
        return after

    def rewrite(self, src: str, dst: str, request: dict) -> None:
        with _rejections():
            tfckpt.rewrite(src, dst, select=request.get("select"), drop=request.get("drop"),
                           rename=[tuple(r) for r in request["rename"]] if request.get("rename") else None,
                           ema=bool(request.get("ema")), strip_optimizer=bool(request.get("strip_optimizer")),
                           dtype=request.get("dtype"))

    def freeze(self, graph: str, checkpoint: str, dst: str, request: dict) -> None:
        from tfckpt.graph.freeze import write_frozen_graph

        with _rejections():
            frozen = tfckpt.freeze(checkpoint, graph, request["outputs"],
                                   variable_names_whitelist=request.get("variable_names_whitelist"),
                                   variable_names_blacklist=request.get("variable_names_blacklist"),
                                   clear_devices=bool(request.get("clear_devices")))
            write_frozen_graph(dst, frozen)

    def write_objects(self, description: Description, objects: dict, prefix: str) -> None:
        with _rejections():
            root, counter = objects_tree(objects, {t.key: to_native(t) for t in description.tensors})
            tfckpt.save_objects(prefix, root, save_counter=counter)

    def build_saved_model(self, graph: str, checkpoint, dst: str, request: dict) -> None:
        from tfckpt.graph import saved_model_build

        with _rejections():
            saved_model_build.build(
                dst, checkpoint, graph, request["signatures"], tuple(request.get("tags", ("serve",))),
                clear_devices=bool(request.get("clear_devices")),
                tensorflow_git_version=request.get("tensorflow_git_version", saved_model_build.TFCKPT_GIT_VERSION))

    def graph(self, path: str) -> dict:
        from tfckpt.graph import inspect as graph_inspect
        from tfckpt.graph.meta_graph import VARIABLE_DEF_COLLECTIONS

        with _rejections():
            g = graph_inspect.load(path)
            collections = {}
            for key, collection in g.collections.items():
                if collection["kind"] in ("node_list", "int64_list", "float_list"):
                    collections[key] = list(collection["value"])
                elif collection["kind"] == "bytes_list" and key in VARIABLE_DEF_COLLECTIONS:
                    collections[key] = [v["variable_name"] for v in collection["value"]]
            variables = []
            for v in g.get_collection("variables"):
                entry = {"name": v["variable_name"], "checkpoint_key": v["checkpoint_key"]}
                if v["slice"]:
                    entry["slice"] = v["slice"]
                variables.append(entry)
            return {"nodes": [[n.name, n.op] for n in g.nodes], "tensors": [[t.name, t.dtype] for t in g.tensors()],
                    "collections": collections, "variables": variables, "text": g.as_text()}

    def resolve(self, location: str, query: KeyQuery) -> ResolvedKey:
        with _rejections():
            if query.kind == "object":
                return ResolvedKey(keys.key_for_object(location, query.object, query.attribute))
            if query.kind == "slot":
                return ResolvedKey(keys.key_for_slot(location, query.slot_variable, query.slot_optimizer,
                                                     query.slot_name))
            return ResolvedKey(*keys.key_for_variable(location, query.variable))

    def read_meta_graph(self, location: str) -> MetaGraphInfo:
        with _rejections():
            if saved_model.is_saved_model(location):
                graph = saved_model.select_meta_graph(saved_model.read_saved_model(location))
            else:
                prefix = tfckpt.checkpoint_reader.resolve_checkpoint_path(location) if os.path.isdir(location) else location
                graph = meta_graph.read_meta_graph(meta_graph.meta_graph_filename(prefix))
        return MetaGraphInfo.from_message(graph, meta_graph.saver_version_name)

    def write_v1(self, description: Description, path: str) -> None:
        if any(t.partitions for t in description.tensors):
            raise ImplementationError("UNIMPLEMENTED", "write_v1 stores whole tensors only")
        with _rejections():
            tfckpt.write_v1(path, [(t.key, to_native(t)) for t in description.tensors],
                            dtypes={t.key: t.dtype for t in description.tensors})


class _SeriesClock:
    """The clock a series runs on: the value the suite sets before each save."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def objects_tree(request: dict, values: dict) -> tuple[dict, object]:
    """``(root mapping for tfckpt.save_objects, save_counter)`` of a ``write_objects`` request: every
    label becomes one Python object (a dict, a ``Variable``, a ``Tensors`` or a ``SlotOptimizer``),
    so that an object listed under several names stays one node."""
    from tfckpt.objects.writer import SlotOptimizer, Tensors, Variable

    specs = request.get("objects") or {}
    built: dict = {}

    def value(key):
        if key not in values:
            raise tf_errors.InvalidArgumentError(f"the object tree names the tensor {key!r}, which the description lacks")
        return values[key]

    def named(pairs, what) -> dict:
        out: dict = {}
        for name, item in pairs:
            if name in out:
                raise tf_errors.InvalidArgumentError(f"{what}: the name {name!r} appears twice")
            out[name] = item
        return out

    def build(label):
        if label in built:
            return built[label]
        if label not in specs:
            raise tf_errors.InvalidArgumentError(f"the object tree refers to {label!r}, which it does not define")
        spec = specs[label]
        if "variable" in spec:
            built[label] = Variable(value(spec["variable"]), spec.get("full_name", ""))
            return built[label]
        children: dict = {}
        if spec.get("slots"):
            obj = SlotOptimizer(children, {})
        elif spec.get("tensors"):
            obj = Tensors(named(((n, value(k)) for n, k in spec["tensors"]), f"object {label}'s tensors"), children)
        else:
            obj = children
        built[label] = obj
        children.update(named(((n, build(child)) for n, child in spec.get("children", [])), f"object {label}"))
        if isinstance(obj, SlotOptimizer):
            obj.slots = {name: [(build(v), build(s)) for v, s in pairs] for name, pairs in spec["slots"]}
        return obj

    root = named(((n, build(label)) for n, label in request.get("checkpoint", [])), "tf.train.Checkpoint")
    return root, request.get("save_counter")
