"""Keras 3 weight files (``.weights.h5``, and the weights inside a ``.keras`` archive) as a checkpoint reader.

Strategy
--------
Keras 3 -- what TensorFlow 2.21 ships -- writes ``model.save_weights()`` only as
an HDF5 file.  :class:`KerasWeightsReader` reads one with h5py (the optional extra
``tfckpt[keras]``) behind the interface of a checkpoint reader
(``get_variable_to_shape_map``, ``get_variable_to_dtype_map``, ``get_tensor``,
``has_tensor``), its keys being the HDF5 dataset paths.  The layout, as Keras
3.15.1 writes it (spec/keras.md, KH5-1..KH5-7)::

    /vars                         group; attribute name = the model's name; the model's own variables
    /layers/<snake_case class>    one group per layer of model.layers: dense, dense_1, conv2d, input_layer ...
         /vars                    attribute name = the layer's name (dense_2); datasets 0, 1, ... in
                                  layer.weights order (Dense: kernel, bias)
         /cell/vars               an RNN layer's cell (lstm/cell/vars/0..2: kernel, recurrent_kernel, bias)
    /<attribute>/vars             a subclassed model: one group per layer attribute (d1/vars/0)
    /optimizer/vars               in a .keras archive after compile: optimizer.variables in order
                                  (iteration, learning_rate, then each trainable variable's slots)

A ``.keras`` file is a zip archive of ``metadata.json``, ``config.json`` and
``model.weights.h5``; the member is read into memory (its size checked against
the zip directory and deflate's largest expansion first) and opened from there.

The file comes from outside TensorFlow, so it is held to the readers' contract
(spec ERR-1, SEC-12): every malformed file raises a :mod:`tfckpt.errors` error
naming the file and the dataset, never h5py's or the HDF5 library's exception;
nothing is allocated that the file's bytes do not justify; the file is opened
read-only.  Before a dataset is read this reader checks (KH5-8):

- the object tree is walked by hard links only (a soft or external link, which
  could point into another file, is refused), each object once;
- the dtype is a plain number or bool (no strings, compounds, references, objects);
- the dataset has no filters (compression), no external storage, is not virtual;
- its allocated storage equals shape x item size, and that is no more than the
  file's size (an unwritten dataset would read as a fill value of any size).

The conversion between a TF2 checkpoint of a Keras model and a ``.weights.h5``
is in :mod:`tfckpt.objects.keras_convert`.
"""

from __future__ import annotations

import io
import math
import os
import zipfile
from typing import Any, Optional, Union

import numpy as np

from .. import errors

__all__ = ["KerasWeightsReader", "load_keras_weights", "require_h5py", "DEFLATE_MAX_RATIO"]

#: Deflate's largest expansion (as in :mod:`tfckpt.jobs.foreign`).
DEFLATE_MAX_RATIO = 1032
#: The member of a ``.keras`` archive holding the weights.
WEIGHTS_MEMBER = "model.weights.h5"
#: Deepest group nesting walked (nested models nest ``layers/...``; Keras never comes near this).
MAX_DEPTH = 64
#: Largest ``name`` attribute read (bytes); Keras writes a layer's name.
MAX_NAME = 4096


def require_h5py():
    """The h5py module, or an error that says what to install."""
    try:
        import h5py
    except ImportError:
        raise errors.UnimplementedError(
            "reading or writing Keras .weights.h5/.keras files needs h5py: pip install 'tfckpt[keras]'") from None
    return h5py


def _damaged(exc: BaseException, file: str, key: Optional[str] = None) -> errors.DataLossError:
    return errors.DataLossError(f"not a readable Keras weights file: {type(exc).__name__}: {exc}", file=file, key=key)


class KerasWeightsReader:
    """The datasets of a Keras 3 weights file, by HDF5 path (``layers/dense/vars/0``).

    Use :func:`load_keras_weights`.  ``path`` names the file in messages; ``size`` is
    the byte count that bounds every dataset.
    """

    def __init__(self, source: Union[str, io.BytesIO], *, path: str, size: int):
        h5py = require_h5py()
        self._h5py = h5py
        self.path = path
        self.size = size
        self._source = source
        try:
            self._file = h5py.File(source, "r", locking=False) if isinstance(source, str) else h5py.File(source, "r")
        except OSError as exc:
            if isinstance(source, str) and not os.path.exists(source):
                raise errors.from_os_error(exc, "opening", file=path) from exc
            raise _damaged(exc, path) from None
        except Exception as exc:  # h5py raises assorted types on a damaged superblock
            raise _damaged(exc, path) from None
        try:
            self._datasets = self._walk()
        except BaseException:
            self.close()
            raise

    # -- the walk -------------------------------------------------------------------------------
    def _walk(self) -> dict[str, Any]:
        h5py = self._h5py
        found: dict[str, Any] = {}
        seen: set = set()
        stack = [("", self._file, 0)]
        while stack:
            prefix, group, depth = stack.pop()
            if depth > MAX_DEPTH:
                raise errors.DataLossError(f"groups nest deeper than {MAX_DEPTH}", file=self.path, key=prefix)
            try:
                names = list(group.keys())
            except Exception as exc:
                raise _damaged(exc, self.path, prefix or "/") from None
            for name in names:
                key = f"{prefix}/{name}" if prefix else name
                try:
                    link = group.get(name, getlink=True)
                    if not isinstance(link, h5py.HardLink):
                        raise errors.InvalidArgumentError(
                            f"{type(link).__name__} links are not followed (Keras writes hard links only)",
                            file=self.path, key=key)
                    obj = group[name]
                    address = obj.id.fileno, self._h5py.h5o.get_info(obj.id).addr
                except errors.CheckpointError:
                    raise
                except Exception as exc:
                    raise _damaged(exc, self.path, key) from None
                if address in seen:
                    continue  # a second hard link to an object already visited
                seen.add(address)
                if isinstance(obj, h5py.Dataset):
                    found[key] = self._check(key, obj)
                elif isinstance(obj, h5py.Group):
                    stack.append((key, obj, depth + 1))
                else:
                    raise errors.DataLossError(f"an HDF5 object of kind {type(obj).__name__}", file=self.path, key=key)
        return dict(sorted(found.items(), key=lambda item: _natural(item[0])))

    def _check(self, key: str, ds):
        """``(dataset, shape, dtype)`` once its bytes are known to be in the file."""
        h5py = self._h5py
        try:
            dtype = ds.dtype
            shape = tuple(int(d) for d in ds.shape) if ds.shape is not None else None
            plist = ds.id.get_create_plist()
            filters = plist.get_nfilters()
            layout = plist.get_layout()
            external = plist.get_external_count()
            storage = ds.id.get_storage_size()
        except Exception as exc:
            raise _damaged(exc, self.path, key) from None
        if shape is None:
            raise errors.DataLossError("a dataset with a null dataspace", file=self.path, key=key)
        if dtype.hasobject or dtype.kind not in "biufc" or dtype.fields is not None or dtype.subdtype is not None:
            raise errors.InvalidArgumentError(f"dataset of HDF5 type {dtype} is not a numeric tensor",
                                              file=self.path, key=key)
        if filters:
            raise errors.InvalidArgumentError(f"dataset has {filters} filter(s) (compression); Keras writes none",
                                              file=self.path, key=key)
        if external or layout == h5py.h5d.VIRTUAL:
            raise errors.InvalidArgumentError("dataset stored outside the file (external or virtual)",
                                              file=self.path, key=key)
        need = math.prod(shape) * dtype.itemsize
        if need > self.size or storage != need:
            raise errors.DataLossError(f"shape {list(shape)} of {dtype} needs {need} bytes; the dataset has "
                                       f"{storage} stored in a file of {self.size}", file=self.path, key=key)
        return ds, shape, dtype

    # -- the checkpoint-reader interface ---------------------------------------------------------
    def keys(self) -> list[str]:
        return list(self._datasets)

    def has_tensor(self, key: str) -> bool:
        return key in self._datasets

    def get_variable_to_shape_map(self) -> dict[str, list[int]]:
        return {key: list(shape) for key, (_, shape, _) in self._datasets.items()}

    def get_variable_to_dtype_map(self):
        from ..dtypes import as_dtype

        out = {}
        for key, (_, _, dtype) in self._datasets.items():
            try:
                out[key] = as_dtype(dtype.newbyteorder("="))
            except errors.CheckpointError as exc:
                raise exc.with_location(file=self.path, key=key)
        return out

    def get_tensor(self, key: str) -> np.ndarray:
        if key not in self._datasets:
            import difflib

            close = difflib.get_close_matches(str(key), list(self._datasets), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise errors.NotFoundError(f"no dataset {key!r} in the weights file{hint}", file=self.path, key=key)
        ds, shape, dtype = self._datasets[key]
        out = np.empty(shape, dtype=dtype.newbyteorder("="))
        try:
            if out.size:
                ds.read_direct(out)
        except Exception as exc:
            raise _damaged(exc, self.path, key) from None
        return out

    def group_name(self, group: str) -> Optional[str]:
        """The ``name`` attribute of ``group`` (``layers/dense/vars`` -> the layer's name), or None.

        None when there is no such attribute or it is not what Keras writes (a scalar string of
        at most :data:`MAX_NAME` stored bytes; an attribute's dataspace, like a dataset's, may
        claim any size).  A variable-length string's heap ID and global heap collection are
        checked in the file's bytes before the HDF5 library follows them
        (:mod:`tfckpt.objects.h5_heap`: the library loops forever on some damaged collections);
        damage there, or any failure of the read, is a :class:`~tfckpt.errors.DataLossError`."""
        h5py = self._h5py
        try:
            if group not in self._file or not isinstance(self._file.get(group, getlink=True), h5py.HardLink):
                return None
            target = self._file[group]
            if not h5py.h5a.exists(target.id, b"name"):
                return None
            attr = h5py.h5a.open(target.id, b"name")
            if attr.shape != () or attr.get_storage_size() > MAX_NAME or attr.dtype.kind not in "OSU":
                return None
            if attr.get_type().is_variable_str():
                if self._vlen_length(target, group) is None:
                    return None  # not in the object header (dense storage): not followed
            value = target.attrs["name"]
        except errors.CheckpointError:
            raise
        except Exception as exc:
            raise _damaged(exc, self.path, f"{group}@name") from None
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        return value if isinstance(value, str) and len(value) <= MAX_NAME else None

    def _vlen_length(self, target, group: str) -> Optional[int]:
        from .h5_heap import check_vlen_attribute

        plist = self._file.id.get_create_plist()
        sizeof_addr, sizeof_size = plist.get_sizes()
        source = self._source
        if isinstance(source, str):
            def read(offset: int, n: int) -> bytes:
                with open(source, "rb") as handle:
                    handle.seek(offset)
                    return handle.read(n)
        else:
            def read(offset: int, n: int) -> bytes:
                return bytes(source.getbuffer()[offset : offset + n])
        return check_vlen_attribute(read, size=self.size, base=plist.get_userblock(), sizeof_addr=sizeof_addr,
                                    sizeof_size=sizeof_size, header=self._h5py.h5o.get_info(target.id).addr,
                                    name=b"name", file=self.path, key=f"{group}@name", limit=MAX_NAME)

    def close(self) -> None:
        file = getattr(self, "_file", None)
        if file is not None:
            try:
                file.close()
            except Exception:
                pass
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _natural(key: str) -> list:
    """Sort key putting ``vars/2`` before ``vars/10``."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in key.split("/")]


def _archive_member(path: str) -> tuple[io.BytesIO, int]:
    """The bytes of ``model.weights.h5`` in the ``.keras`` archive ``path``, bounded before reading."""
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                info = archive.getinfo(WEIGHTS_MEMBER)
            except KeyError:
                names = [i.filename for i in archive.infolist()][:20]
                raise errors.NotFoundError(f"the archive has no {WEIGHTS_MEMBER} (members: {names})",
                                           file=path, key=WEIGHTS_MEMBER) from None
            if info.compress_type != zipfile.ZIP_STORED and info.file_size > info.compress_size * DEFLATE_MAX_RATIO + 1024:
                raise errors.DataLossError(f"{info.compress_size} compressed bytes cannot expand to {info.file_size}",
                                           file=path, key=WEIGHTS_MEMBER)
            if info.compress_type == zipfile.ZIP_STORED and info.file_size > os.path.getsize(path):
                raise errors.DataLossError(f"member claims {info.file_size} bytes, more than the archive",
                                           file=path, key=WEIGHTS_MEMBER)
            with archive.open(info) as member:
                data = member.read(info.file_size + 1)
    except errors.CheckpointError:
        raise
    except OSError as exc:
        if not os.path.exists(path):
            raise errors.from_os_error(exc, "reading", file=path) from exc
        raise errors.DataLossError(f"damaged .keras archive: {exc}", file=path, key=WEIGHTS_MEMBER) from None
    except Exception as exc:  # BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError (encrypted)
        raise errors.DataLossError(f"damaged .keras archive: {type(exc).__name__}: {exc}",
                                   file=path, key=WEIGHTS_MEMBER) from None
    if len(data) != info.file_size:
        raise errors.DataLossError(f"member holds {len(data)} bytes, the directory says {info.file_size}",
                                   file=path, key=WEIGHTS_MEMBER)
    return io.BytesIO(data), len(data)


def load_keras_weights(path: Union[str, "os.PathLike[str]"]) -> KerasWeightsReader:
    """A reader of a Keras ``.weights.h5`` file, or of the weights in a ``.keras`` archive (by its first bytes)."""
    path = os.fspath(path)
    require_h5py()
    try:
        with open(path, "rb") as f:
            head = f.read(8)
        size = os.path.getsize(path)
    except OSError as exc:
        raise errors.from_os_error(exc, "opening", file=path) from exc
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        member, member_size = _archive_member(path)
        return KerasWeightsReader(member, path=f"{path}:{WEIGHTS_MEMBER}", size=member_size)
    return KerasWeightsReader(path, path=path, size=size)
