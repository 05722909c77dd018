"""TensorFlow 2.21 itself as an implementation under test (``tox -e tensorflow``).

Strategy
--------
Only TensorFlow's own public entry points, so that what the suite measures is
TensorFlow's behaviour and not ours:

* read / list / validate: ``tf.train.load_checkpoint`` (the C++ ``CheckpointReader``,
  which verifies every tensor's CRC32C as it reads);
* write: ``tf.raw_ops.SaveV2`` straight at the prefix -- the kernel every saver
  ends in -- with ``shape_and_slices`` of ``"<full shape> <slice>"`` for partitions;
  written into a temporary prefix and renamed with ``tf.raw_ops.MergeV2Checkpoints``
  when ``TFCKPT_TF_WRITE_VIA_MERGE=1`` (the path of sharded saves);
* read_slice: ``tf.raw_ops.RestoreV2`` with a ``"<full shape> <slice>"`` spec;
* merge: ``tf.raw_ops.MergeV2Checkpoints`` with ``delete_old_dirs=False``;
* write_v1: ``tf.raw_ops.Save`` (the kernel of the TF1 ``Saver`` with ``write_version=V1``);
* read_meta_graph: ``checkpoint_management.meta_graph_filename`` and
  ``meta_graph.read_meta_graph_file``, or ``SavedModelLoader`` for a SavedModel;
* resolve, TF1 variable names only: the meta graph imported into a fresh graph and
  named by ``saveable_object_util.op_list_to_dict``, the function the ``Saver`` uses.
  TensorFlow has no public lookup from an object path to a key (its restore does
  it internally), so object and slot queries are answered ``unsupported``;
* write_objects / restore_objects: the object tree built as TensorFlow objects -- an
  ``AutoTrackable`` per object (children set in order), a ``tf.Variable`` per variable
  (named by its ``full_name``), ``_serialize_to_tensors`` for an object's own tensors,
  ``get_slot_names``/``get_slot``/``_create_or_restore_slot_variable`` for an optimizer's
  slots -- then ``tf.train.Checkpoint(**kwargs).write`` or ``.read(...).assert_consumed()``;
* state file: TensorFlow's ``CheckpointState`` text format as
  ``checkpoint_management`` reads it, and ``update_checkpoint_state_internal`` to write
  (``write_state``, fields verbatim, and ``update_state``, with its own rules).

Data crosses as bit patterns: an array of the bit-pattern dtype is bit-cast
into the TensorFlow dtype (``tf.bitcast``), and values read are viewed back as
bits.  ``tf.errors.OpError`` codes become categories (the Python
``CheckpointReader`` reports most C++ failures with code ``UNKNOWN``: its
error translator keeps only the message); any other exception TensorFlow's
Python layer raises on a bad file (a bare ``ValueError``, ``IndexError:
Read less bytes than requested``, ``TypeError: 99 does not correspond to a
valid DataType``) is TensorFlow refusing the file too, without a status code:
it is answered as a rejection of category ``UNKNOWN`` whose message names the
exception type, so it passes the Required "rejects" tests and fails the
Recommended category tests -- a finding, not a crash.  Run it
out of process (``python -m tfckpt_conformance.server
tfckpt_conformance.adapters.tensorflow:TensorFlowAdapter``): some corrupt files
make TensorFlow abort the whole process.
"""

from __future__ import annotations

import os
import tempfile
import time
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from google.protobuf import text_format  # noqa: E402
from tensorflow.core.protobuf import saver_pb2  # noqa: E402
from tensorflow.python.checkpoint import checkpoint_management  # noqa: E402
from tensorflow.python.framework import meta_graph as tf_meta_graph  # noqa: E402
from tensorflow.python.saved_model import loader_impl  # noqa: E402
from tensorflow.python.training import checkpoint_state_pb2  # noqa: E402
from tensorflow.python.trackable import autotrackable  # noqa: E402
from tensorflow.python.training.saving import saveable_object_util  # noqa: E402

from ..adapter import (  # noqa: E402
    Adapter,
    CheckpointState,
    ImplementationError,
    KeyQuery,
    MetaGraphInfo,
    ResolvedKey,
    TensorInfo,
    Unsupported,
)
from ..description import STRING, c_order, Description, TensorDescription, parse_slice, tensor_from_array  # noqa: E402

__all__ = ["TensorFlowAdapter"]

_CODES = {
    tf.errors.NOT_FOUND: "NOT_FOUND",
    tf.errors.DATA_LOSS: "DATA_LOSS",
    tf.errors.INVALID_ARGUMENT: "INVALID_ARGUMENT",
    tf.errors.UNIMPLEMENTED: "UNIMPLEMENTED",
    tf.errors.RESOURCE_EXHAUSTED: "RESOURCE_EXHAUSTED",
    tf.errors.FAILED_PRECONDITION: "FAILED_PRECONDITION",
    tf.errors.ALREADY_EXISTS: "ALREADY_EXISTS",
    tf.errors.OUT_OF_RANGE: "OUT_OF_RANGE",
    tf.errors.INTERNAL: "INTERNAL",
    tf.errors.UNKNOWN: "UNKNOWN",
    tf.errors.PERMISSION_DENIED: "UNKNOWN",
    tf.errors.ABORTED: "UNKNOWN",
    tf.errors.CANCELLED: "UNKNOWN",
    tf.errors.DEADLINE_EXCEEDED: "UNKNOWN",
    tf.errors.UNAVAILABLE: "UNKNOWN",
    tf.errors.UNAUTHENTICATED: "UNKNOWN",
    tf.errors.DATA_LOSS: "DATA_LOSS",
}


class _OpErrors:
    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is not None and isinstance(exc, tf.errors.OpError):
            raise ImplementationError(_CODES.get(exc.error_code, "UNKNOWN"), exc.message) from exc
        if exc is not None and isinstance(exc, Exception) and not isinstance(exc, ImplementationError):
            # TensorFlow's Python layer refuses some inputs with a plain Python exception
            # ("Dtype int2 not supported", "Read less bytes than requested", ...): a refusal
            # without a status code. The process survives, so it is not a crash.
            raise ImplementationError("UNKNOWN", f"{type(exc).__name__}: {exc}") from exc
        return False


def _tf_dtype(name: str) -> tf.DType:
    return tf.dtypes.as_dtype(name)


def _to_tensor(t: TensorDescription, value=None) -> tf.Tensor:
    """A TensorFlow tensor with exactly the description's bits (``value`` overrides the data)."""
    if t.dtype == STRING:
        arr = np.empty(len(t.strings or []), dtype=object)
        arr[:] = t.strings or []
        arr = arr.reshape(t.shape) if value is None else value
        return tf.constant(arr, dtype=tf.string)
    bits = c_order(t.data if value is None else value)
    target = _tf_dtype(t.dtype)
    if t.dtype == "bool":
        return tf.constant(bits.view(np.bool_))
    native = target.as_numpy_dtype
    if native is not None and np.dtype(native).names is None and np.dtype(native).itemsize == bits.dtype.itemsize \
            and t.dtype not in ("qint8", "quint8", "qint16", "quint16", "qint32"):
        return tf.constant(bits.view(native), dtype=target)
    # Quantized types: bit-cast from the integer of the same width.
    return tf.bitcast(tf.constant(bits), target)


def _from_value(key: str, dtype: str, value) -> TensorDescription:
    if dtype == STRING:
        return tensor_from_array(key, STRING, np.asarray(value, dtype=object))
    return tensor_from_array(key, dtype, np.asarray(value))


class TensorFlowAdapter(Adapter):
    name = "tensorflow"
    version = tf.__version__
    operations = frozenset(
        {"read", "write", "validate", "list", "read_slice", "read_state", "write_state", "latest_checkpoint",
         "merge", "update_state", "resolve", "read_meta_graph", "write_v1", "manage",
         "freeze", "write_objects", "restore_objects", "build_saved_model", "graph"}
    )
    features = frozenset(
        {"dtype:*", "string", "sliced", "multi_shard", "object_graph", "v1", "state_file", "big_endian",
         "snappy", "zero_size", "scalar", "variant"}
    )

    def read(self, prefix: str, *, verify: bool = True) -> Description:
        # TensorFlow's reader always verifies checksums; `verify` cannot turn that off.
        with _OpErrors():
            reader = tf.train.load_checkpoint(prefix)
            dtypes = reader.get_variable_to_dtype_map()
            tensors = []
            for key in sorted(dtypes, key=lambda k: k.encode("utf-8", "surrogateescape")):
                if dtypes[key].name == "variant":
                    # Read (which verifies its checksums and parses each element), but a description
                    # cannot express variant tensors (spec/conformance.md CONF-7).
                    tf.raw_ops.RestoreV2(prefix=prefix, tensor_names=[key], shape_and_slices=[""],
                                         dtypes=[dtypes[key]])
                    continue
                try:
                    value = reader.get_tensor(key)
                except Exception:  # noqa: BLE001 - the Python reader refuses some dtypes and V1 layouts
                    # TensorFlow's restore op reads what CheckpointReader cannot (V1 complex and
                    # float16 tensors, sliced V1 tensors) and reports real status codes; a refusal
                    # here is TensorFlow's answer.
                    value = tf.raw_ops.RestoreV2(prefix=prefix, tensor_names=[key], shape_and_slices=[""],
                                                 dtypes=[dtypes[key]])[0].numpy()
                tensors.append(_from_value(key, dtypes[key].name, value))
        return Description(tensors)

    def validate(self, prefix: str) -> None:
        self.read(prefix)

    def list(self, prefix: str) -> list[TensorInfo]:
        with _OpErrors():
            reader = tf.train.load_checkpoint(prefix)
            shapes = reader.get_variable_to_shape_map()
            dtypes = reader.get_variable_to_dtype_map()
        return [TensorInfo(k, dtypes[k].name, tuple(shapes[k]))
                for k in sorted(shapes, key=lambda k: k.encode("utf-8", "surrogateescape"))]

    def write(self, description: Description, prefix: str) -> None:
        names, specs, values = [], [], []
        for t in description.tensors:
            if t.partitions:
                full = " ".join(str(d) for d in t.shape)
                whole = np.empty(len(t.strings), dtype=object) if t.dtype == STRING else None
                if whole is not None:
                    whole[:] = t.strings
                    whole = whole.reshape(t.shape)
                source = whole if whole is not None else np.asarray(t.data).reshape(t.shape)
                for spec in t.partitions:
                    names.append(t.key)
                    specs.append(f"{full} {spec}")
                    values.append(_to_tensor(t, c_order(source[parse_slice(spec, t.shape)])))
            else:
                names.append(t.key)
                specs.append("")
                values.append(_to_tensor(t))
        with _OpErrors():
            if os.environ.get("TFCKPT_TF_WRITE_VIA_MERGE") == "1":
                temp = prefix + "_temp/part-00000-of-00001"
                tf.raw_ops.SaveV2(prefix=temp, tensor_names=names, shape_and_slices=specs, tensors=values)
                tf.raw_ops.MergeV2Checkpoints(checkpoint_prefixes=[temp], destination_prefix=prefix,
                                              delete_old_dirs=True)
            else:
                tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=specs, tensors=values)

    def read_slice(self, prefix: str, key: str, slice_spec: str) -> TensorDescription:
        with _OpErrors():
            reader = tf.train.load_checkpoint(prefix)
            dtypes = reader.get_variable_to_dtype_map()
            if key not in dtypes:
                raise ImplementationError("NOT_FOUND", f"no tensor {key!r}")
            shape = reader.get_variable_to_shape_map()[key]
            spec = " ".join(str(d) for d in shape) + " " + slice_spec
            (value,) = tf.raw_ops.RestoreV2(prefix=prefix, tensor_names=[key], shape_and_slices=[spec],
                                            dtypes=[dtypes[key]])
        dtype = dtypes[key].name
        if dtype in ("qint8", "quint8", "qint16", "quint16", "qint32"):
            width = {"qint8": tf.int8, "quint8": tf.uint8, "qint16": tf.int16, "quint16": tf.uint16,
                     "qint32": tf.int32}[dtype]
            return tensor_from_array(key, dtype, tf.bitcast(value, width).numpy())
        return _from_value(key, dtype, value.numpy())

    def read_state(self, directory: str) -> CheckpointState:
        path = os.path.join(directory, "checkpoint")
        if not tf.io.gfile.exists(path):
            raise ImplementationError("NOT_FOUND", f"no state file {path}")
        # What checkpoint_management.get_checkpoint_state does, minus joining relative paths.
        proto = checkpoint_state_pb2.CheckpointState()
        try:
            text_format.Merge(tf.io.gfile.GFile(path, "r").read(), proto)
        except text_format.ParseError as exc:
            raise ImplementationError("DATA_LOSS", str(exc)) from exc
        return CheckpointState.from_message(proto)

    def write_state(self, directory: str, state: CheckpointState) -> None:
        with _OpErrors():
            checkpoint_management.update_checkpoint_state_internal(
                save_dir=directory,
                model_checkpoint_path=state.model_checkpoint_path,
                all_model_checkpoint_paths=state.all_model_checkpoint_paths,
                all_model_checkpoint_timestamps=state.all_model_checkpoint_timestamps or None,
                last_preserved_timestamp=state.last_preserved_timestamp or None,
            )

    def latest_checkpoint(self, directory: str):
        with _OpErrors():
            return tf.train.latest_checkpoint(directory)

    def merge(self, prefixes, prefix: str) -> None:
        with _OpErrors():
            tf.raw_ops.MergeV2Checkpoints(checkpoint_prefixes=list(prefixes), destination_prefix=prefix,
                                          delete_old_dirs=False)

    def update_state(self, directory, model_checkpoint_path, all_model_checkpoint_paths, *,
                     all_model_checkpoint_timestamps=None, last_preserved_timestamp=None,
                     save_relative_paths=False) -> None:
        # A ValueError (timestamp count) or RuntimeError (path collision) is TensorFlow refusing
        # the call without a status code: _OpErrors answers it as UNKNOWN.
        with _OpErrors():
            checkpoint_management.update_checkpoint_state_internal(
                save_dir=directory,
                model_checkpoint_path=model_checkpoint_path,
                all_model_checkpoint_paths=list(all_model_checkpoint_paths),
                all_model_checkpoint_timestamps=(None if all_model_checkpoint_timestamps is None
                                                 else list(all_model_checkpoint_timestamps)),
                last_preserved_timestamp=last_preserved_timestamp,
                save_relative_paths=save_relative_paths,
            )

    def manage(self, directory: str, series: dict) -> list[list[str]]:
        """TensorFlow's own CheckpointManager or TF1 Saver, on a clock the suite sets."""
        from tensorflow.python.training import saver as saver_module

        clock = {"now": series["start_clock"]}
        fake = types.ModuleType("time")
        fake.__dict__.update({k: v for k, v in vars(time).items() if not k.startswith("__")})
        fake.time = lambda: clock["now"]
        saved = checkpoint_management.time, saver_module.time
        checkpoint_management.time = saver_module.time = fake

        def prefixes():
            return sorted(n[: -len(".index")] for n in os.listdir(directory) if n.endswith(".index"))

        after = []
        try:
            with _OpErrors():
                if series["style"] == "manager":
                    ckpt = tf.train.Checkpoint(v=tf.Variable(np.zeros(3, np.float32)))
                    manager = tf.train.CheckpointManager(
                        ckpt, directory, max_to_keep=series["max_to_keep"],
                        keep_checkpoint_every_n_hours=series["keep_checkpoint_every_n_hours"],
                        checkpoint_name=series["checkpoint_name"])
                    for save in series["saves"]:
                        clock["now"] = save["clock"]
                        manager.save(checkpoint_number=save["number"])
                        after.append(prefixes())
                    return after
                os.makedirs(directory, exist_ok=True)
                with tf.Graph().as_default():
                    tf.compat.v1.Variable(np.zeros(3, np.float32), name="v")
                    kwargs = {"max_to_keep": series["max_to_keep"]}
                    if series["keep_checkpoint_every_n_hours"] is not None:
                        kwargs["keep_checkpoint_every_n_hours"] = series["keep_checkpoint_every_n_hours"]
                    saver = tf.compat.v1.train.Saver(**kwargs)
                    with tf.compat.v1.Session() as sess:
                        sess.run(tf.compat.v1.global_variables_initializer())
                        for save in series["saves"]:
                            clock["now"] = save["clock"]
                            saver.save(sess, os.path.join(directory, series["checkpoint_name"]),
                                       global_step=save["number"], write_meta_graph=False)
                            after.append(prefixes())
                return after
        finally:
            checkpoint_management.time, saver_module.time = saved

    def write_v1(self, description: Description, path: str) -> None:
        if any(t.partitions for t in description.tensors):
            raise Unsupported("write_v1 of partitioned tensors")
        with _OpErrors():
            tf.raw_ops.Save(filename=path, tensor_names=[t.key for t in description.tensors],
                            data=[_to_tensor(t) for t in description.tensors])

    def freeze(self, graph: str, checkpoint: str, dst: str, request: dict) -> None:
        """What freeze_graph.py does: the .meta's graph_def, the checkpoint restored by its saver, then
        convert_variables_to_constants; written in the deterministic serialisation (FREEZE-1)."""
        clear = bool(request.get("clear_devices"))
        with _OpErrors():
            meta = tf_meta_graph.read_meta_graph_file(graph)
            graph_def = meta.graph_def
            if clear:
                for node in graph_def.node:
                    node.device = ""
            with tf.Graph().as_default() as g:
                saver = tf.compat.v1.train.import_meta_graph(meta, clear_devices=clear)
                with tf.compat.v1.Session(graph=g) as sess:
                    saver.restore(sess, checkpoint)
                    frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
                        sess, graph_def, request["outputs"],
                        variable_names_whitelist=request.get("variable_names_whitelist"),
                        variable_names_blacklist=request.get("variable_names_blacklist"))
            with open(dst, "wb") as handle:
                handle.write(frozen.SerializeToString(deterministic=True))

    def build_saved_model(self, graph: str, checkpoint, dst: str, request: dict) -> None:
        """SavedModelBuilder after import_meta_graph + restore (or import_graph_def of a frozen .pb); its own
        tensorflow_git_version is what it writes."""
        from tensorflow.core.framework import graph_pb2 as tf_graph_pb2
        from tensorflow.python.saved_model import builder_impl

        with _OpErrors():
            with tf.Graph().as_default() as g:
                if checkpoint is None:
                    with open(graph, "rb") as handle:
                        tf.compat.v1.import_graph_def(tf_graph_pb2.GraphDef.FromString(handle.read()), name="")
                else:
                    saver = tf.compat.v1.train.import_meta_graph(graph)
                with tf.compat.v1.Session(graph=g) as sess:
                    if checkpoint is not None:
                        saver.restore(sess, checkpoint)
                    signatures = {}
                    for key, sig in request["signatures"].items():
                        signatures[key] = tf.compat.v1.saved_model.build_signature_def(
                            *[{name: tf.compat.v1.saved_model.build_tensor_info(g.get_tensor_by_name(t))
                               for name, t in sig[part].items()} for part in ("inputs", "outputs")],
                            sig["method_name"])
                    builder = builder_impl.SavedModelBuilder(dst)
                    builder.add_meta_graph_and_variables(sess, list(request.get("tags", ["serve"])),
                                                         signature_def_map=signatures,
                                                         clear_devices=bool(request.get("clear_devices")))
                    builder.save()

    @staticmethod
    def _meta_graph_def(location: str):
        """TensorFlow's MetaGraphDef of a SavedModel directory (tags ``serve``) or of a checkpoint's ``.meta``,
        with the checkpoint prefix whose variables it describes."""
        if loader_impl.contains_saved_model(location):
            loader = loader_impl.SavedModelLoader(location)
            return loader.get_meta_graph_def_from_tags(["serve"]), os.path.join(location, "variables", "variables")
        prefix = tf.train.latest_checkpoint(location) if os.path.isdir(location) else location
        if prefix is None:
            raise ImplementationError("NOT_FOUND", f"no checkpoint in {location}")
        path = checkpoint_management.meta_graph_filename(prefix)
        if not tf.io.gfile.exists(path):
            raise ImplementationError("NOT_FOUND", f"no meta graph file {path}")
        return tf_meta_graph.read_meta_graph_file(path), prefix

    def read_meta_graph(self, location: str) -> MetaGraphInfo:
        with _OpErrors():
            meta, _ = self._meta_graph_def(location)
        return MetaGraphInfo.from_message(meta, saver_pb2.SaverDef.CheckpointFormatVersion.Name)

    def graph(self, path: str) -> dict:
        """``import_meta_graph`` into a fresh graph; the Saver's own naming for the variables' keys."""
        from tensorflow.core.framework import types_pb2
        from tensorflow.core.protobuf import meta_graph_pb2

        # The collections TensorFlow registers a VariableDef codec for (ops/ref_variable.py).
        variable_collections = ("variables", "trainable_variables", "moving_average_variables", "local_variables",
                                "model_variables", "global_step", "metric_variables")
        from tensorflow.core.framework import graph_pb2
        from tensorflow.python.framework import graph_io

        with _OpErrors():
            with open(path, "rb") as handle:
                data = handle.read()
            if path.endswith(".pbtxt"):
                message = text_format.Parse(data.decode("utf-8"), graph_pb2.GraphDef())
                meta = meta_graph_pb2.MetaGraphDef(graph_def=message)
            else:
                message = meta = meta_graph_pb2.MetaGraphDef.FromString(data)
            with tempfile.TemporaryDirectory() as out:
                graph_io.write_graph(message, out, "text.pbtxt", as_text=True)
                with open(os.path.join(out, "text.pbtxt"), encoding="utf-8") as handle:
                    text = handle.read()
            with tf.Graph().as_default() as g:
                tf.compat.v1.train.import_meta_graph(meta, clear_devices=True)
                position = {n.name: i for i, n in enumerate(meta.graph_def.node)}  # the GraphDef's order
                ops = sorted(g.get_operations(), key=lambda op: position[op.name])
                collections = {}
                for key in sorted(meta.collection_def):
                    kind = meta.collection_def[key].WhichOneof("kind")
                    if kind == "node_list" or (kind == "bytes_list" and key in variable_collections):
                        collections[key] = [item.name for item in g.get_collection(key)]
                    elif kind in ("int64_list", "float_list"):
                        collections[key] = list(g.get_collection(key))
                var_list = g.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)
                saveables = saveable_object_util.validate_and_slice_inputs(
                    saveable_object_util.op_list_to_dict(list(var_list)))
                variables = []
                for var in var_list:
                    # A resource variable's saveable holds its handle, a reference variable's its ref tensor.
                    spec = [x for x in saveables if (x.handle_op is getattr(var, "handle", None) if hasattr(x, "handle_op")
                                                     else x.op is var or (hasattr(var, "_ref") and x.op is var._ref()))]
                    spec = spec[0].specs[0]
                    variables.append(dict({"name": var.name, "checkpoint_key": spec.name},
                                          **({"slice": spec.slice_spec} if spec.slice_spec else {})))
                return {"nodes": [[op.name, op.type] for op in ops],
                        "tensors": [[t.name, types_pb2.DataType.Name(t.dtype.as_datatype_enum)]
                                    for op in ops for t in op.outputs],
                        "collections": collections, "variables": variables, "text": text}

    def resolve(self, location: str, query: KeyQuery) -> ResolvedKey:
        if query.kind != "variable":
            raise Unsupported("TensorFlow has no public lookup of object paths or slots")
        with _OpErrors():
            meta, prefix = self._meta_graph_def(location)
            wanted = query.variable if ":" in query.variable else query.variable + ":0"
            with tf.Graph().as_default():
                tf.compat.v1.train.import_meta_graph(meta, clear_devices=True)
                found = [v for v in tf.compat.v1.global_variables() if v.name == wanted]
                # The Saver's own naming, asked about this one variable: {key: what it saves}.
                names = saveable_object_util.op_list_to_dict(found[:1]) if found else {}
                info = getattr(found[0], "_save_slice_info", None) if found else None
            for key in names:
                if not tf.train.load_checkpoint(prefix).has_tensor(key):
                    raise ImplementationError("NOT_FOUND", f"{wanted} is saved as {key!r}, not in {prefix}")
                return ResolvedKey(key, info.spec if info is not None else None)
        raise ImplementationError("NOT_FOUND", f"no variable {query.variable!r} in the meta graph")


    def write_objects(self, description: Description, objects: dict, prefix: str) -> None:
        with _OpErrors():
            kwargs, _ = _objects(description, objects, zeros=False)
            _checkpoint(kwargs, objects.get("save_counter")).write(prefix)

    def restore_objects(self, description: Description, objects: dict, prefix: str) -> Description:
        with _OpErrors():
            kwargs, holders = _objects(description, objects, zeros=True)
            counter = objects.get("save_counter")
            checkpoint = _checkpoint(kwargs, 0 if counter is not None else None)
            checkpoint.read(prefix).assert_consumed()
            if counter is not None and int(checkpoint.save_counter.numpy()) != counter:
                raise ImplementationError("DATA_LOSS", f"save_counter restored as {checkpoint.save_counter.numpy()}, not {counter}")
            return Description([_from_value(t.key, t.dtype, holders[t.key].numpy()) for t in description.tensors
                                if t.key in holders])


class _Object(autotrackable.AutoTrackable):
    """One object of a ``write_objects`` tree: its children are its attributes, set in order."""


class _TensorsObject(_Object):
    """An object saving tensors of its own, each held in an (untracked) variable."""

    def __init__(self, tensors: dict):
        object.__setattr__(self, "_own", tensors)  # not a dependency: bypass attribute tracking

    def _serialize_to_tensors(self):
        return {name: var.read_value() for name, var in self._own.items()}

    def _restore_from_tensors(self, restored):
        return tf.group(*[self._own[name].assign(value) for name, value in restored.items()])


class _SlotsObject(_Object):
    """An optimizer keeping slot variables, as the saver and the restore ask for them."""

    def __init__(self):
        object.__setattr__(self, "_slot_table", {})  # {slot name: [(variable, slot variable)]}, untracked

    def get_slot_names(self):
        return list(self._slot_table)

    def get_slot(self, variable, name):
        return next((s for v, s in self._slot_table.get(name, ()) if v is variable), None)

    def _create_or_restore_slot_variable(self, slot_variable_position, slot_name, variable, **_):
        return self.get_slot(variable, slot_name)


def _objects(description: Description, request: dict, *, zeros: bool):
    """``(keyword arguments, {tensor key: tf.Variable})`` of a write_objects request."""
    values = {t.key: t for t in description.tensors}
    specs = request.get("objects") or {}
    built, holders = {}, {}

    def variable(key, name=None):
        if key not in values:
            raise ImplementationError("INVALID_ARGUMENT", f"the object tree names the tensor {key!r}, which the description lacks")
        value = _to_tensor(values[key])
        if zeros:
            value = tf.zeros_like(value) if values[key].dtype != STRING else tf.fill(tf.shape(value), b"")
        holders[key] = tf.Variable(value, name=name) if name else tf.Variable(value)
        return holders[key]

    def build(label):
        if label in built:
            return built[label]
        if label not in specs:
            raise ImplementationError("INVALID_ARGUMENT", f"the object tree refers to {label!r}, which it does not define")
        spec = specs[label]
        if "variable" in spec:
            built[label] = variable(spec["variable"], spec.get("full_name") or None)
            return built[label]
        if spec.get("tensors"):
            obj = _TensorsObject({n: variable(k) for n, k in spec["tensors"]})
        elif spec.get("slots"):
            obj = _SlotsObject()
        else:
            obj = _Object()
        built[label] = obj
        for name, child in spec.get("children", []):
            setattr(obj, name, build(child))
        for slot_name, pairs in spec.get("slots") or []:
            obj._slot_table[slot_name] = [(build(v), build(s)) for v, s in pairs]
        return obj

    kwargs = {name: build(label) for name, label in request.get("checkpoint", [])}
    return kwargs, holders


def _checkpoint(kwargs: dict, counter):
    checkpoint = tf.train.Checkpoint(**kwargs)
    if counter is not None:
        checkpoint.save_counter.assign(counter)
    return checkpoint
