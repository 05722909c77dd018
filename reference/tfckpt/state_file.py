"""The ``checkpoint`` state file: which checkpoints a directory holds (spec: ``spec/state-file.md``).

TensorFlow's counterpart: ``tensorflow/python/checkpoint/checkpoint_management.py``.

Strategy
--------
The state file is a ``CheckpointState`` message in protobuf *text* format,
written with the protobuf library's own printer -- the same one TensorFlow
uses -- so our output is byte-identical::

    model_checkpoint_path: "ckpt-3"
    all_model_checkpoint_paths: "ckpt-2"
    all_model_checkpoint_paths: "ckpt-3"
    all_model_checkpoint_timestamps: 1763790000.1234
    all_model_checkpoint_timestamps: 1763790060.5678
    last_preserved_timestamp: 1763789990.0

The functions follow TensorFlow's semantics step for step (relative-path
rewriting, the "manually adding" of the newest path, the conflict check,
atomic replacement through ``<file>.tmp<hex>`` and a rename), with one
documented addition: :func:`latest_checkpoint` recovers from a directory that
was moved after saving.  When the state file holds an absolute path that no
longer exists, and a checkpoint with the same base name exists inside the
given directory, that one is returned -- TensorFlow returns ``None`` there.
"""

from __future__ import annotations

import glob
import logging
import os
from typing import Optional, Sequence, Union

from . import errors, storage
from .files import atomic_output, directory_lock
from .proto import checkpoint_state_pb2

__all__ = [
    "CheckpointState",
    "get_checkpoint_state",
    "latest_checkpoint",
    "update_checkpoint_state",
    "generate_checkpoint_state_proto",
    "parse_checkpoint_state",
    "format_checkpoint_state",
    "checkpoint_exists",
    "STATE_FILENAME",
]

_log = logging.getLogger("tfckpt")

CheckpointState = checkpoint_state_pb2.CheckpointState
#: Default name of the state file inside a checkpoint directory.
STATE_FILENAME = "checkpoint"
PathLike = Union[str, "os.PathLike[str]"]


def _state_path(directory: str, latest_filename: Optional[str]) -> str:
    return storage.join(directory, latest_filename or STATE_FILENAME)


def parse_checkpoint_state(text: Union[str, bytes], *, file: Optional[str] = None) -> CheckpointState:
    """Parse state-file text; raises :class:`DataLossError` when it is not valid text format."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise errors.DataLossError(f"state file is not UTF-8 text: {exc}", file=file, offset=exc.start) from None
    from google.protobuf import text_format  # imported here: listing a prefix never needs it

    state = CheckpointState()
    try:
        text_format.Merge(text, state)
    except text_format.ParseError as exc:
        raise errors.DataLossError(f"state file is not a CheckpointState in text format: {exc}", file=file) from None
    return state


def format_checkpoint_state(state: CheckpointState) -> str:
    """The state file's text, exactly as TensorFlow writes it."""
    from google.protobuf import text_format

    return text_format.MessageToString(state)


def get_checkpoint_state(checkpoint_dir: PathLike, latest_filename: Optional[str] = None, *,
                         filesystem=None) -> Optional[CheckpointState]:
    """The directory's ``CheckpointState`` with relative paths joined to ``checkpoint_dir``.

    As in TensorFlow: ``None`` when there is no state file or it cannot be
    parsed (a warning is logged); :class:`InvalidArgumentError` (a ``ValueError``)
    when it parses but names no checkpoint.
    """
    checkpoint_dir = os.fspath(storage.on_filesystem(checkpoint_dir, filesystem))
    path = _state_path(checkpoint_dir, latest_filename)
    if not storage.isfile(path):
        return None
    try:
        state = parse_checkpoint_state(storage.read_bytes(path), file=path)
    except (OSError, errors.DataLossError) as exc:
        _log.warning("%s: %s", path, exc)
        return None
    if not state.model_checkpoint_path:
        raise errors.InvalidArgumentError("invalid checkpoint state: no model_checkpoint_path", file=path)
    if not storage.isabs(state.model_checkpoint_path):
        state.model_checkpoint_path = storage.join(checkpoint_dir, state.model_checkpoint_path)
    for i, entry in enumerate(state.all_model_checkpoint_paths):
        if not storage.isabs(entry):
            state.all_model_checkpoint_paths[i] = storage.join(checkpoint_dir, entry)
    return state


def checkpoint_exists(prefix: PathLike) -> bool:
    """True when a V2 checkpoint (``prefix.index``) or a V1 file/pattern matches ``prefix``."""
    prefix = os.fspath(prefix)
    if "\0" in prefix:  # a state file can name anything; no file system holds such a path
        return False
    if storage.is_url(prefix):
        return storage.isfile(prefix + ".index") or storage.isfile(prefix)
    prefix = storage.local_path(prefix)
    return bool(glob.glob(glob.escape(prefix) + ".index")) or bool(glob.glob(prefix))


def latest_checkpoint(checkpoint_dir: PathLike, latest_filename: Optional[str] = None, *,
                      filesystem=None) -> Optional[str]:
    """The prefix of the newest checkpoint the directory's state file names, or ``None``.

    Recovery for moved directories: if the recorded path is absolute and
    missing, but ``<checkpoint_dir>/<its base name>`` exists, that is returned
    (TensorFlow would return ``None``).  ``filesystem``: an fsspec filesystem object
    ``checkpoint_dir`` is on (the result is then a URL of it, ``storage.fs_url``).
    """
    checkpoint_dir = os.fspath(storage.on_filesystem(checkpoint_dir, filesystem))
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    if state is None or not state.model_checkpoint_path:
        return None
    recorded = state.model_checkpoint_path
    if checkpoint_exists(recorded):
        return recorded
    relocated = storage.join(checkpoint_dir, os.path.basename(recorded))
    if storage.isabs(recorded) and relocated != recorded and checkpoint_exists(relocated):
        _log.info("checkpoint %s not found; using %s (the directory appears to have moved)", recorded, relocated)
        return relocated
    _log.error("couldn't match files for checkpoint %s", recorded)
    return None


def generate_checkpoint_state_proto(
    save_dir: PathLike,
    model_checkpoint_path: str,
    all_model_checkpoint_paths: Optional[Sequence[str]] = None,
    all_model_checkpoint_timestamps: Optional[Sequence[float]] = None,
    last_preserved_timestamp: Optional[float] = None,
) -> CheckpointState:
    """Build the state TensorFlow would record (``generate_checkpoint_state_proto``)."""
    save_dir = os.fspath(save_dir)
    paths = list(all_model_checkpoint_paths or [])
    if not paths or paths[-1] != model_checkpoint_path:
        paths.append(model_checkpoint_path)
    if all_model_checkpoint_timestamps and len(all_model_checkpoint_timestamps) != len(paths):
        raise errors.InvalidArgumentError(
            f"checkpoint timestamps ({len(all_model_checkpoint_timestamps)}) must match the "
            f"checkpoint paths ({len(paths)})"
        )
    if not os.path.isabs(save_dir):
        # TensorFlow assumes relative paths already include save_dir and strips it.
        if not os.path.isabs(model_checkpoint_path):
            model_checkpoint_path = os.path.relpath(model_checkpoint_path, save_dir)
        paths = [p if os.path.isabs(p) else os.path.relpath(p, save_dir) for p in paths]
    state = CheckpointState(model_checkpoint_path=model_checkpoint_path, all_model_checkpoint_paths=paths)
    if all_model_checkpoint_timestamps:
        state.all_model_checkpoint_timestamps.extend(all_model_checkpoint_timestamps)
    if last_preserved_timestamp is not None:
        state.last_preserved_timestamp = last_preserved_timestamp
    return state


def update_checkpoint_state(
    save_dir: PathLike,
    model_checkpoint_path: str,
    all_model_checkpoint_paths: Optional[Sequence[str]] = None,
    latest_filename: Optional[str] = None,
    all_model_checkpoint_timestamps: Optional[Sequence[float]] = None,
    last_preserved_timestamp: Optional[float] = None,
    save_relative_paths: bool = False,
) -> str:
    """Record a new checkpoint in the directory's state file, replacing it atomically.

    Mirrors ``update_checkpoint_state_internal``; returns the state file's path.
    """
    save_dir = os.fspath(save_dir)
    if storage.is_url(save_dir):
        storage.check_writable(save_dir, "writing a state file")  # STORE-5
    model_checkpoint_path = os.fspath(model_checkpoint_path)
    paths = [os.fspath(p) for p in (all_model_checkpoint_paths or [])]
    if save_relative_paths:
        model_checkpoint_path = _relative_if_absolute(model_checkpoint_path, save_dir)
        paths = [_relative_if_absolute(p, save_dir) for p in paths]
    state = generate_checkpoint_state_proto(
        save_dir, model_checkpoint_path, paths, all_model_checkpoint_timestamps, last_preserved_timestamp
    )
    path = _state_path(save_dir, latest_filename)
    if path == state.model_checkpoint_path:
        raise errors.InvalidArgumentError(
            f"save path {model_checkpoint_path!r} conflicts with the checkpoint state file", file=path
        )
    with state_lock(save_dir):
        atomic_write_text(path, format_checkpoint_state(state))
    return path


# -- serialising writers across processes (STATE-34, spec/state-file.md §9) ---------------------------

def state_lock(directory: PathLike):
    """Hold an exclusive lock on ``directory`` for a read-modify-write of its state file.

    The lock is ``flock`` on the directory itself (:func:`tfckpt.files.directory_lock`), so no
    lock file is left in it (TensorFlow never creates one, and a listing of the directory stays
    TensorFlow's). It serialises tfckpt processes -- ``update_checkpoint_state``,
    ``CheckpointManager.save`` and every checkpoint's publish step (PUB-8) take it -- and is
    reentrant within one process. Where ``fcntl`` is missing (Windows), it is a no-op.
    """
    return directory_lock(directory)


def _relative_if_absolute(path: str, save_dir: str) -> str:
    return os.path.relpath(path, save_dir) if os.path.isabs(path) else path


def atomic_write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` via ``<path>.tmp<hex>`` and a rename, as TensorFlow does."""
    import uuid

    with atomic_output(path, f"{path}.tmp{uuid.uuid4().hex}", "x", encoding="utf-8", newline="") as handle:
        handle.write(text)
