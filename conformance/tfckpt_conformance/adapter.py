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
    "ImplementationError",
    "Unsupported",
    "AdapterCrash",
    "AdapterTimeout",
    "dtype_feature",
]

#: The operations an adapter may offer.
OPERATIONS = ("read", "write", "validate", "list", "read_slice", "read_state", "write_state", "latest_checkpoint",
              "merge", "update_state")

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

    def close(self) -> None:
        """Release resources (stop a server process)."""
