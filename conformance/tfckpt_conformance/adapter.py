"""The interface every implementation under test is driven through (spec/conformance.md, CONF-3..CONF-9).

Strategy
--------
An *adapter* wraps one implementation of the checkpoint format and answers
its operations, on canonical descriptions (``description.py``)::

    read(prefix, verify)            checkpoint -> Description
    write(description, prefix)      Description -> checkpoint files at prefix
    validate(prefix)                full checksum verification -> None or error
    list(prefix)                    -> [TensorInfo(key, dtype, shape)]
    read_slice(prefix, key, spec)   one slice of one tensor -> TensorDescription
    read_state(directory)           the ``checkpoint`` state file -> CheckpointState
    write_state(directory, state)   CheckpointState -> the ``checkpoint`` file
    latest_checkpoint(directory)    the prefix the state file resolves to, or None
    merge(prefixes, prefix)         merge bundles into one sharded checkpoint (MergeV2Checkpoints)
    update_state(directory, ...)    record a new checkpoint in the state file, TensorFlow's way
                                    (update_checkpoint_state), unlike write_state's verbatim fields
    resolve(location, query)        the bundle key of an object path, an optimizer slot or a TF1
                                    variable name, in a checkpoint or a SavedModel -> ResolvedKey
    read_meta_graph(location)       the SaverDef and collections of a checkpoint's .meta, or of a
                                    SavedModel's meta graph -> MetaGraphInfo
    write_v1(description, path)     Description -> a legacy V1 checkpoint file (TensorFlow's Save op)
    manage(directory, series)       run a checkpoint series (CheckpointManager / TF1 Saver rotation) with
                                    given numbers and clock values -> the checkpoints after each save
    rewrite(src, dst, request)      a subset / renamed / EMA / optimizer-stripped copy (spec/rewrite.md)
    freeze(graph, checkpoint, dst, request)
                                    a .meta + checkpoint frozen into one GraphDef .pb (spec/freeze.md)
    build_saved_model(graph, checkpoint, dst, request)
                                    a .meta + checkpoint (or a frozen GraphDef) built into a TF1
                                    SavedModel directory, as SavedModelBuilder does (spec/savedmodel.md §7)
    graph(path)                     a .meta's (or text GraphDef's) nodes, tensors, collections, variables'
                                    checkpoint keys and text format, as TensorFlow sees them (spec/graph.md) -> dict

It declares which operations it offers and which *feature tags* it supports
(``dtype:bfloat16``, ``string``, ``sliced``, ``multi_shard``, ``v1`` ...; the
vocabulary of the fixture manifest).  The suite skips a test whose operation or
features the adapter does not declare -- an unsupported feature is never a
failure -- and an adapter may also refuse at run time by raising
:class:`Unsupported`.

Answers are of three kinds and the distinction is the point of the interface:

* a value (the operation succeeded);
* :class:`ImplementationError` -- a *clean rejection*, naming a category
  (``DATA_LOSS``, ``NOT_FOUND``, ``INVALID_ARGUMENT`` ...; the names of
  ``tfckpt.errors.CATEGORIES``, which are TensorFlow's status codes);
* anything else -- :class:`AdapterCrash`, :class:`AdapterTimeout`, or any other
  exception escaping an in-process adapter -- is a *crash*.  A crash is never
  an acceptable answer, not even to a corrupt file.

The adapter only translates between its implementation and these types; it
never compares.
"""

from __future__ import annotations

import abc
import fnmatch
from dataclasses import dataclass, field
from typing import Iterable, Optional

from .description import DTYPES, STRING, Description, TensorDescription

__all__ = [
    "OPERATIONS",
    "CATEGORIES",
    "GATING_FEATURES",
    "ALL_DTYPE_FEATURES",
    "Adapter",
    "TensorInfo",
    "CheckpointState",
    "KeyQuery",
    "ResolvedKey",
    "MetaGraphInfo",
    "SAVER_DEF_DEFAULTS",
    "ImplementationError",
    "Unsupported",
    "AdapterCrash",
    "AdapterTimeout",
    "dtype_feature",
]

#: The operations an adapter may offer.
OPERATIONS = ("read", "write", "validate", "list", "read_slice", "read_state", "write_state", "latest_checkpoint",
              "merge", "update_state", "resolve", "read_meta_graph", "write_v1", "manage", "rewrite",
              "freeze", "write_objects", "restore_objects", "build_saved_model", "graph")

#: Error categories an implementation may answer with (TensorFlow's status code names).
CATEGORIES = (
    "NOT_FOUND",
    "DATA_LOSS",
    "INVALID_ARGUMENT",
    "UNIMPLEMENTED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ALREADY_EXISTS",
    "OUT_OF_RANGE",
    "PERMISSION_DENIED",
    "UNAVAILABLE",
    "ABORTED",
    "INTERNAL",
    "UNKNOWN",
)


def dtype_feature(name: str) -> str:
    """The feature tag of a dtype: ``dtype:bfloat16``; strings are ``string``."""
    return STRING if name == STRING else f"dtype:{name}"


#: Feature tag of every dtype the description format knows.
ALL_DTYPE_FEATURES = frozenset([dtype_feature(n) for n in DTYPES] + [STRING])

#: Tags that gate tests: a test needing one of these is skipped unless the
#: adapter declares it.  Other manifest tags are descriptive only.
GATING_FEATURES = ALL_DTYPE_FEATURES | frozenset(
    {
        "sliced",  # partitioned variables: slice entries in the index
        "multi_shard",  # more than one .data file
        "object_graph",  # the _CHECKPOINTABLE_OBJECT_GRAPH entry as an ordinary string tensor
        "v1",  # the old single-file TensorSliceReader format
        "state_file",  # the `checkpoint` state file
        "big_endian",  # bundles whose header says BIG endianness
        "snappy",  # snappy-compressed SSTable blocks
        "zero_size",  # tensors with a zero-size dimension
        "scalar",  # rank-0 tensors
        "variant",  # DT_VARIANT entries
    }
)


@dataclass(frozen=True)
class TensorInfo:
    """One line of ``list``: what ``tf.train.list_variables`` plus the dtype tells."""

    key: str
    dtype: str
    shape: tuple[int, ...]


@dataclass
class CheckpointState:
    """The fields of a ``checkpoint`` state file (``CheckpointState`` protocol buffer), as stored."""

    model_checkpoint_path: str = ""
    all_model_checkpoint_paths: list[str] = field(default_factory=list)
    all_model_checkpoint_timestamps: list[float] = field(default_factory=list)
    last_preserved_timestamp: float = 0.0

    def to_json(self) -> dict:
        return {
            "model_checkpoint_path": self.model_checkpoint_path,
            "all_model_checkpoint_paths": list(self.all_model_checkpoint_paths),
            "all_model_checkpoint_timestamps": list(self.all_model_checkpoint_timestamps),
            "last_preserved_timestamp": self.last_preserved_timestamp,
        }

    @classmethod
    def from_json(cls, obj: dict) -> "CheckpointState":
        return cls(
            model_checkpoint_path=str(obj.get("model_checkpoint_path", "")),
            all_model_checkpoint_paths=[str(p) for p in obj.get("all_model_checkpoint_paths", [])],
            all_model_checkpoint_timestamps=[float(t) for t in obj.get("all_model_checkpoint_timestamps", [])],
            last_preserved_timestamp=float(obj.get("last_preserved_timestamp", 0.0)),
        )

    @classmethod
    def from_message(cls, message) -> "CheckpointState":
        """From any parsed ``CheckpointState`` protobuf message (TensorFlow's, tfckpt's, ...)."""
        return cls(
            model_checkpoint_path=message.model_checkpoint_path,
            all_model_checkpoint_paths=list(message.all_model_checkpoint_paths),
            all_model_checkpoint_timestamps=list(message.all_model_checkpoint_timestamps),
            last_preserved_timestamp=message.last_preserved_timestamp,
        )


@dataclass(frozen=True)
class KeyQuery:
    """What ``resolve`` looks up -- exactly one of:

    * ``object``: a path of *unescaped* local names from the root object, and the
      ``attribute`` wanted (spec/object-graph.md OBJ-14; SavedModel SM-6);
    * ``slot_variable`` + ``slot_optimizer`` (paths) + ``slot_name``: an optimizer slot (OBJ-15);
    * ``variable``: a TF1 graph variable's name, ``dense/kernel:0`` (META-9, META-10, SM-8).
    """

    object: Optional[tuple] = None
    attribute: str = "VARIABLE_VALUE"
    slot_variable: Optional[tuple] = None
    slot_optimizer: Optional[tuple] = None
    slot_name: Optional[str] = None
    variable: Optional[str] = None

    def __post_init__(self) -> None:
        forms = [self.object is not None, self.slot_name is not None, self.variable is not None]
        if sum(forms) != 1:
            raise ValueError("a KeyQuery names exactly one of object, slot, variable")

    @property
    def kind(self) -> str:
        return "object" if self.object is not None else "slot" if self.slot_name is not None else "variable"

    def to_json(self) -> dict:
        if self.kind == "object":
            return {"object": list(self.object), "attribute": self.attribute}
        if self.kind == "slot":
            return {"slot": {"variable": list(self.slot_variable or ()), "optimizer": list(self.slot_optimizer or ()),
                             "name": self.slot_name}}
        return {"variable": self.variable}

    @classmethod
    def from_json(cls, obj: dict) -> "KeyQuery":
        if "object" in obj:
            return cls(object=tuple(str(n) for n in obj["object"]), attribute=str(obj.get("attribute", "VARIABLE_VALUE")))
        if "slot" in obj:
            slot = obj["slot"]
            return cls(slot_variable=tuple(str(n) for n in slot["variable"]),
                       slot_optimizer=tuple(str(n) for n in slot["optimizer"]), slot_name=str(slot["name"]))
        return cls(variable=str(obj["variable"]))

    def __str__(self) -> str:
        if self.kind == "object":
            return f"object {list(self.object)} attribute {self.attribute!r}"
        if self.kind == "slot":
            return f"slot {self.slot_name!r} of {list(self.slot_variable)} in optimizer {list(self.slot_optimizer)}"
        return f"variable {self.variable!r}"


@dataclass(frozen=True)
class ResolvedKey:
    """The answer of ``resolve``: a bundle key, and for a piece of a partitioned TF1 variable the
    shape-and-slice string of the piece (``"10 4 5,5:0,4"``), else None."""

    key: str
    slice: Optional[str] = None


#: SaverDef fields as reported by ``read_meta_graph``, with protobuf's default for an absent field.
SAVER_DEF_DEFAULTS = {
    "filename_tensor_name": "",
    "save_tensor_name": "",
    "restore_op_name": "",
    "max_to_keep": 0,
    "sharded": False,
    "keep_checkpoint_every_n_hours": 0.0,
    "version": "LEGACY",
}


@dataclass
class MetaGraphInfo:
    """The parts of a ``MetaGraphDef`` that concern checkpoints (spec/meta-graph.md): its ``SaverDef``
    (every field of SAVER_DEF_DEFAULTS; ``version`` as the enum name ``LEGACY``/``V1``/``V2``), the
    keys of its ``collection_def`` (sorted), ``meta_info_def.tensorflow_version`` and ``tags``."""

    saver_def: dict
    collection_keys: list[str] = field(default_factory=list)
    tensorflow_version: str = ""
    tags: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"saver_def": dict(self.saver_def), "collection_keys": list(self.collection_keys),
                "tensorflow_version": self.tensorflow_version, "tags": list(self.tags)}

    @classmethod
    def from_json(cls, obj: dict) -> "MetaGraphInfo":
        saver = obj.get("saver_def") or {}
        merged = {name: saver.get(name, default) for name, default in SAVER_DEF_DEFAULTS.items()}
        merged["max_to_keep"] = int(merged["max_to_keep"])
        merged["sharded"] = bool(merged["sharded"])
        merged["keep_checkpoint_every_n_hours"] = float(merged["keep_checkpoint_every_n_hours"])
        merged["version"] = str(merged["version"])
        return cls(saver_def=merged, collection_keys=sorted(str(k) for k in obj.get("collection_keys", [])),
                   tensorflow_version=str(obj.get("tensorflow_version", "")), tags=[str(t) for t in obj.get("tags", [])])

    @classmethod
    def from_message(cls, meta_graph, version_name) -> "MetaGraphInfo":
        """From any parsed ``MetaGraphDef`` (TensorFlow's, tfckpt's, ...); ``version_name`` maps the enum."""
        saver = meta_graph.saver_def
        return cls.from_json({
            "saver_def": {
                "filename_tensor_name": saver.filename_tensor_name,
                "save_tensor_name": saver.save_tensor_name,
                "restore_op_name": saver.restore_op_name,
                "max_to_keep": saver.max_to_keep,
                "sharded": saver.sharded,
                "keep_checkpoint_every_n_hours": saver.keep_checkpoint_every_n_hours,
                "version": version_name(saver.version),
            },
            "collection_keys": list(meta_graph.collection_def.keys()),
            "tensorflow_version": meta_graph.meta_info_def.tensorflow_version,
            "tags": list(meta_graph.meta_info_def.tags),
        })


class ImplementationError(Exception):
    """A clean rejection: the implementation refused the input and said why, by category."""

    def __init__(self, category: str, message: str = "") -> None:
        self.category = category if category in CATEGORIES else "UNKNOWN"
        self.reported_category = category
        self.message = message
        super().__init__(f"{category}: {message}")


class Unsupported(Exception):
    """The implementation does not support this operation or this feature (a skip, not a failure)."""


class AdapterCrash(Exception):
    """The implementation crashed: an uncaught exception, a dead process, or a protocol violation."""


class AdapterTimeout(AdapterCrash):
    """The implementation did not answer within the per-request timeout."""


class Adapter(abc.ABC):
    """Base class of in-process adapters.  Subclasses set the class attributes and override operations."""

    #: Short name of the implementation (``reference``, ``tensorflow``, ``netron``).
    name: str = "unnamed"
    #: Version of the implementation under test.
    version: str = ""
    #: Operations offered (a subset of OPERATIONS).
    operations: frozenset = frozenset()
    #: Feature tags supported; ``dtype:*`` stands for every dtype.
    features: frozenset = frozenset()

    # -- capabilities --------------------------------------------------------

    def supports(self, operation: str) -> bool:
        return operation in self.operations

    def has_feature(self, tag: str) -> bool:
        feats = self.features
        return tag in feats or any(("*" in f or "?" in f) and fnmatch.fnmatchcase(tag, f) for f in feats)

    def missing_features(self, tags: Iterable[str]) -> list[str]:
        """The gating tags among ``tags`` this adapter does not declare."""
        return sorted(t for t in set(tags) if t in GATING_FEATURES and not self.has_feature(t))

    def describe(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "operations": sorted(self.operations),
            "features": sorted(self.features),
        }

    # -- operations ------------------------------------------------------------

    def read(self, prefix: str, *, verify: bool = True) -> Description:
        raise Unsupported("read")

    def write(self, description: Description, prefix: str) -> None:
        raise Unsupported("write")

    def validate(self, prefix: str) -> None:
        raise Unsupported("validate")

    def list(self, prefix: str) -> list[TensorInfo]:
        raise Unsupported("list")

    def read_slice(self, prefix: str, key: str, slice_spec: str) -> TensorDescription:
        raise Unsupported("read_slice")

    def read_state(self, directory: str) -> CheckpointState:
        raise Unsupported("read_state")

    def write_state(self, directory: str, state: CheckpointState) -> None:
        raise Unsupported("write_state")

    def latest_checkpoint(self, directory: str) -> Optional[str]:
        raise Unsupported("latest_checkpoint")

    def merge(self, prefixes: list[str], prefix: str) -> None:
        """Merge the complete bundles ``prefixes``, in that order, into the checkpoint ``prefix``
        (spec/sharded.md SHARD-2..6): data files renamed, one index written, input indexes deleted."""
        raise Unsupported("merge")

    def update_state(
        self,
        directory: str,
        model_checkpoint_path: str,
        all_model_checkpoint_paths: list[str],
        *,
        all_model_checkpoint_timestamps: Optional[list[float]] = None,
        last_preserved_timestamp: Optional[float] = None,
        save_relative_paths: bool = False,
    ) -> None:
        """Record ``model_checkpoint_path`` in ``directory/checkpoint`` by the writer's rules of
        spec/state-file.md §5 (STATE-19..23): append, check, rewrite paths, replace atomically.
        Relative paths are relative to the current working directory."""
        raise Unsupported("update_state")

    def resolve(self, location: str, query: KeyQuery) -> ResolvedKey:
        """The bundle key ``query`` designates in the checkpoint or SavedModel directory ``location``
        (spec/object-graph.md §4.6, savedmodel.md §3-4, meta-graph.md §6); NOT_FOUND when there is none."""
        raise Unsupported("resolve")

    def read_meta_graph(self, location: str) -> MetaGraphInfo:
        """The meta graph of the checkpoint ``location`` (its ``.meta``, named by META-1) or of the
        SavedModel directory ``location`` (its ``saved_model.pb``, meta graph tagged ``serve``)."""
        raise Unsupported("read_meta_graph")

    def write_v1(self, description: Description, path: str) -> None:
        """Write ``description`` (no partitions) as the legacy V1 checkpoint file ``path``, as
        TensorFlow's ``Save`` op does (spec/v1.md §4)."""
        raise Unsupported("write_v1")

    def manage(self, directory: str, series: dict) -> list[list[str]]:
        """Run the checkpoint series ``series`` in ``directory`` (spec/state-file.md §9, STATE-25..33).

        ``series`` holds ``style`` (``"manager"``: TF2's ``CheckpointManager``; ``"saver"``: TF1's
        ``Saver``), ``max_to_keep``, ``keep_checkpoint_every_n_hours``, ``checkpoint_name``,
        ``start_clock`` (what the clock reads when the manager or saver is made) and ``saves``, a
        list of ``{"number", "clock"}`` (``number`` None: the manager's counter, or no step for a
        saver; ``clock``: what the clock reads during that save). Each save writes one float32
        tensor ``v`` of shape [3]. Returns the checkpoint prefixes (base names, sorted) present
        after each save; the state file left in ``directory`` is judged too."""
        raise Unsupported("manage")

    def rewrite(self, src: str, dst: str, request: dict) -> None:
        """Write at ``dst`` the rewrite of checkpoint ``src`` that ``request`` asks for (spec/rewrite.md):
        ``select``/``drop`` (exact keys, globs, ``re:<regex>``), ``rename`` (``[regex, replacement]``
        rules applied in turn), ``ema``, ``strip_optimizer``, ``dtype`` (``{"float32": "bfloat16"}``)."""
        raise Unsupported("rewrite")

    def freeze(self, graph: str, checkpoint: str, dst: str, request: dict) -> None:
        """Write at ``dst`` the GraphDef (deterministic serialisation, FREEZE-1) of the ``.meta`` file
        ``graph`` with the variables of checkpoint prefix ``checkpoint`` as constants (spec/freeze.md):
        ``outputs`` (node names), ``variable_names_whitelist``/``variable_names_blacklist``,
        ``clear_devices``, as TensorFlow's ``convert_variables_to_constants`` after a restore."""
        raise Unsupported("freeze")

    def write_objects(self, description: Description, objects: dict, prefix: str) -> None:
        """Write at ``prefix`` what ``tf.train.Checkpoint(**kwargs).write(prefix)`` writes for the object
        tree ``objects`` (spec/object-graph.md §11, OBJ-22..OBJ-28), the values being the tensors of
        ``description`` named by the tree::

            {"checkpoint": [[keyword, label], ...], "save_counter": null | N, "objects": {label: object}}
            object = {"children": [[name, label], ...], "tensors": [[name, tensor key], ...],
                      "slots": [[slot name, [[variable label, slot variable label], ...]], ...]}
                   | {"variable": tensor key, "full_name": name}

        ``children`` are in the order the object lists them; ``tensors`` (an object's own tensors)
        and ``slots`` (an optimizer's slot variables) are optional; ``save_counter`` N adds the
        int64 counter ``tf.train.Checkpoint`` keeps (its N-th ``save``)."""
        raise Unsupported("write_objects")

    def restore_objects(self, description: Description, objects: dict, prefix: str) -> Description:
        """Restore the checkpoint ``prefix`` into the object tree ``objects`` (as for
        :meth:`write_objects`; ``description`` gives each tensor's dtype and shape, its values are
        not used: the objects start at zeros) the way ``tf.train.Checkpoint(**kwargs).read(prefix)``
        does, requiring every object and every tensor of the checkpoint to be matched
        (``assert_consumed``); return the restored values under the tree's tensor keys."""
        raise Unsupported("restore_objects")

    def build_saved_model(self, graph: str, checkpoint: Optional[str], dst: str, request: dict) -> None:
        """Create the SavedModel directory ``dst`` (new) from the ``.meta`` file or frozen binary GraphDef
        ``graph`` and the checkpoint prefix ``checkpoint`` (None for a frozen graph), as TensorFlow's
        ``SavedModelBuilder.add_meta_graph_and_variables`` + ``save`` writes it after restoring the
        checkpoint (spec/savedmodel.md §7): ``signatures`` ({key: {inputs, outputs: {name: tensor name},
        method_name}}), ``tags``, ``clear_devices``, and ``tensorflow_git_version``, the string to
        record in ``meta_info_def`` (SMB-7).  A refused request leaves nothing at ``dst``."""
        raise Unsupported("build_saved_model")

    def graph(self, path: str) -> dict:
        """The graph of the binary ``.meta`` file ``path`` as ``import_meta_graph`` rebuilds it, or of the
        text GraphDef ``path`` (``*.pbtxt``, e.g. an Estimator's ``graph.pbtxt``) as ``import_graph_def``
        does (spec/graph.md): ``{"nodes": [[name, op], ...], "tensors": [[name, dtype enum name], ...],
        "collections": {key: [...]}, "variables": [{"name", "checkpoint_key"[, "slice"]}, ...],
        "text": the message in TensorFlow's text format (GRAPH-1..4)}``.  Nodes in the GraphDef's
        order (not the import's topological one), each node's tensors in output order (GRAPH-5); ``collections`` holds every collection
        whose items GRAPH-6 defines: a ``node_list``'s names, an ``int64_list``'s or ``float_list``'s
        numbers, a variable collection's ``VariableDef.variable_name``s, in stored order;
        ``variables`` is the ``variables`` collection joined to the keys a TF1 Saver gives it (GRAPH-7)."""
        raise Unsupported("graph")

    def close(self) -> None:
        """Release resources (stop a server process)."""
