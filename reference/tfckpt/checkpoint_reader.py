"""``load_checkpoint`` and ``list_variables``: TensorFlow's reading API, without TensorFlow.

TensorFlow's counterparts: ``tf.train.load_checkpoint`` / ``tf.train.list_variables``
(``tensorflow/python/training/py_checkpoint_reader.py``,
``tensorflow/c/checkpoint_reader.cc``).

Strategy
--------
A :class:`CheckpointReader` answers the questions users put to TensorFlow's
``CheckpointReader`` -- the same method names, the same keys, dtypes, shapes
and values -- on top of the format layers below it:

* a path is resolved the way TensorFlow resolves it: a directory goes through
  its ``checkpoint`` state file (see :func:`tfckpt.latest_checkpoint`), a prefix
  with a ``.index`` is a V2 bundle, anything else is tried as a legacy V1
  file (or file pattern).  As kindnesses TensorFlow does not offer, a path to
  the ``.index`` or a ``.data-*`` file itself is taken as its prefix, and a
  SavedModel directory (no state file, but ``variables/variables.index``)
  means its variables;
* the variable maps list every key except the header and the slice-data keys
  of partitioned tensors, as ``BuildV2VarMaps`` does;
* ``get_tensor`` returns numpy arrays as TensorFlow's Python wrapper does:
  strings as object arrays of ``bytes``, bfloat16 and float8 as ml_dtypes
  arrays, quantized types as one-field structured arrays.
"""

from __future__ import annotations

import os
from typing import Iterator, Union

from ._lazy import numpy as np  # imported on first use: listing needs no numpy

from . import errors, storage
from .accel import gc_paused
from .bundle.naming import prefix_of
from .bundle.reader import BundleReader, key_text
from .dtypes import DType
from .state_file import get_checkpoint_state, latest_checkpoint

__all__ = ["CheckpointReader", "load_checkpoint", "list_variables", "resolve_checkpoint_path"]

PathLike = Union[str, "os.PathLike[str]"]


def resolve_checkpoint_path(path: PathLike) -> str:
    """The checkpoint prefix (or V1 file) that ``path`` designates.

    Raises :class:`NotFoundError` with a hint when nothing matches.
    """
    path = os.fspath(path)
    if storage.is_url(path) and path.endswith("/"):
        path = path.rstrip("/")
    if storage.isdir(path):
        latest = latest_checkpoint(path)
        saved_model_variables = storage.join(path, "variables", "variables")
        if latest is None and storage.isfile(saved_model_variables + ".index"):
            return saved_model_variables  # a SavedModel directory
        if latest is None:
            raise _no_checkpoint_in(path)
        return latest
    prefix = prefix_of(path)
    if storage.isfile(prefix + ".index"):
        return prefix
    if storage.isfile(path) or (any(c in path for c in "*?[") and storage.glob(path)):
        return path  # a legacy V1 checkpoint: a single file, or a pattern matching its shards
    raise errors.FileNotFound(
        "no checkpoint found: expected a prefix P with a file P.index (V2), a V1 checkpoint file, "
        "or a directory with a 'checkpoint' state file",
        file=path,
    )


def _closest_keys(name: str, keys) -> str:
    """``"; did you mean 'a', 'b'?"`` -- the keys most like ``name`` (difflib), or ``""``."""
    import difflib

    close = difflib.get_close_matches(str(name), list(keys), n=3, cutoff=0.6)
    return f"; did you mean {', '.join(repr(k) for k in close)}?" if close else ""


def _no_checkpoint_in(directory: str) -> errors.FileNotFound:
    """The error for a directory with no usable state file: what is wrong, and what exists."""
    state_path = storage.join(directory, "checkpoint")
    found = sorted(name[: -len(".index")] for name in storage.listdir(directory) if name.endswith(".index"))
    existing = (
        f"; checkpoints that exist there: {', '.join(found)} (pass one as the prefix, e.g. "
        f"{storage.join(directory, found[-1])!r})"
        if found
        else "; no .index file is there either"
    )
    if storage.isfile(state_path):
        state = get_checkpoint_state(directory)
        named = f" names {state.model_checkpoint_path!r}, which does not exist" if state is not None else " is unreadable"
        return errors.FileNotFound(f"the state file {state_path!r}{named}" + existing, file=state_path)
    return errors.FileNotFound("directory has no 'checkpoint' state file" + existing, file=directory)


class CheckpointReader:
    """Reads one checkpoint; the interface of TensorFlow's ``CheckpointReader``.

    Use :func:`load_checkpoint` to make one.  ``verify_checksums=False`` skips
    the per-tensor CRC32C check (the SSTable block checksums are always checked).
    """

    def __init__(self, path: PathLike, *, verify_checksums: bool = True, filesystem=None) -> None:
        self.path = resolve_checkpoint_path(storage.on_filesystem(path, filesystem))
        if storage.isfile(self.path + ".index"):
            self._impl = BundleReader(self.path, verify_checksums=verify_checksums)
        else:
            from .v1 import V1Reader  # legacy format, loaded only when needed

            self._impl = V1Reader(self.path, verify_checksums=verify_checksums)
        self._variables = None

    # -- TensorFlow's methods ---------------------------------------------------

    def _variable_entries(self):
        if self._variables is None:
            variables = self._impl.variables()
            with gc_paused():
                self._variables = {key_text(entry.key): entry for entry in variables}
        return self._variables

    def _variable_shapes(self) -> list:
        """``(key bytes, dtype, shape)`` per tensor: from the entries when they are decoded already,
        else the bundle reader's cheaper listing (V1 readers have none)."""
        if self._variables is None and hasattr(self._impl, "variable_shapes"):
            return self._impl.variable_shapes()
        return [(entry.key, entry.dtype, entry.shape) for entry in self._variable_entries().values()]

    def get_variable_to_shape_map(self) -> dict[str, list[int]]:
        """``{key: shape as a list of ints}`` for every tensor."""
        shapes = self._variable_shapes()
        with gc_paused():
            return {key_text(key): list(shape) for key, _, shape in shapes}

    def get_variable_to_dtype_map(self) -> dict[str, DType]:
        """``{key: DType}`` for every tensor; ``DType.name`` is TensorFlow's name."""
        return {key_text(key): dtype for key, dtype, _ in self._variable_shapes()}

    def has_tensor(self, name: str) -> bool:
        return name in self._variable_entries() if self._variables is not None else self._has(name)

    def _has(self, name: str) -> bool:
        try:
            self._impl.entry(name)
        except errors.NotFoundError:
            return False
        return True

    def get_tensor(self, name: str) -> np.ndarray:
        """The tensor's value as a numpy array (a 0-d array for a scalar).

        A missing key raises :class:`tfckpt.errors.NotFoundError` naming the closest keys."""
        try:
            return self._impl.read(name)
        except errors.NotFoundError as exc:
            if isinstance(exc, errors.FileNotFound) or self.has_tensor(name):
                raise
            exc.message += _closest_keys(name, self._variable_entries())
            raise

    def get_tensors(self, names, *, threads=None) -> dict:
        """``{name: value}`` for ``names``; big tensors of several shards are read in parallel threads."""
        names = list(names)
        read_many = getattr(self._impl, "read_many", None)
        values = read_many(names, threads=threads) if read_many else [self._impl.read(n) for n in names]
        return dict(zip(names, values))

    def debug_string(self) -> str:
        """One line per tensor, ``name (DT_FLOAT) [2,3]``, like TensorFlow's debug output."""
        lines = []
        for key, entry in sorted(self._variable_entries().items(), key=lambda kv: kv[0].encode("utf-8", "surrogateescape")):
            lines.append(f"{key} ({entry.dtype.enum_name}) [{','.join(str(d) for d in entry.shape)}]")
        return "\n".join(lines) + ("\n" if lines else "")

    # -- additions ---------------------------------------------------------------

    def keys(self) -> list[str]:
        """Every tensor key, in the index's (bytewise) order."""
        return list(self._variable_entries())

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __contains__(self, name: str) -> bool:
        return self.has_tensor(name)

    def get_slice(self, name: str, slice_spec: str) -> np.ndarray:
        """One slice of a tensor in TensorFlow's syntax, e.g. ``"0,10:-"`` -- read without the rest."""
        return self._impl.read_slice(name, slice_spec)

    def entry(self, name: str):
        """The validated index entry of ``name`` (dtype, shape, shard, offset, size, crc, slices)."""
        return self._impl.entry(name)

    def close(self) -> None:
        self._impl.close()

    def __enter__(self) -> "CheckpointReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def load_checkpoint(ckpt_dir_or_file: PathLike, *, verify_checksums: bool = True, filesystem=None) -> CheckpointReader:
    """A reader for the checkpoint at a prefix, or the latest one in a directory.

    The path may be local, an fsspec URL (``gs://``, ``s3://``, ``https://``, ``memory://``;
    ``spec/storage.md``), or a path on ``filesystem``, an fsspec filesystem object.
    """
    return CheckpointReader(ckpt_dir_or_file, verify_checksums=verify_checksums, filesystem=filesystem)


def list_variables(ckpt_dir_or_file: PathLike, *, filesystem=None) -> list[tuple[str, list[int]]]:
    """``[(name, shape), ...]`` sorted by name, as ``tf.train.list_variables`` returns."""
    with load_checkpoint(ckpt_dir_or_file, filesystem=filesystem) as reader:
        shapes = reader.get_variable_to_shape_map()
    return [(name, shapes[name]) for name in sorted(shapes)]
