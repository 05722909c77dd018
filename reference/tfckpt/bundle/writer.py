"""Writing a V2 checkpoint byte-for-byte as TensorFlow's ``SaveV2`` does.

Spec: ``spec/index-file.md``, ``spec/data-file.md``, ``spec/partitioned.md``.
TensorFlow's counterpart: ``BundleWriter`` in
``tensorflow/core/util/tensor_bundle/tensor_bundle.cc``.

Strategy
--------
Tensors are appended to the data file in the order they are added (that is
``SaveV2``'s ``tensor_names`` order, and what makes our ``.data`` file
identical to TensorFlow's); their entries are kept in memory and written to
the ``.index`` at :meth:`BundleWriter.finish`, sorted bytewise by key with the
header first under the empty key.  The SSTable uses TensorFlow's bundle
options: no compression, 256 KiB blocks, a restart point every 16 keys.

Exactness details that matter for identical bytes:

* the header is ``{num_shards: 1, version: {producer: 1}}`` -- ``endianness``
  LITTLE and ``min_consumer`` 0 are proto3 defaults and therefore absent;
* an entry always carries its ``shape`` message, even for a scalar (``12 00``),
  while zero ``shard_id``/``offset``/``size`` are omitted;
* a zero-element tensor still gets ``crc32c = mask(crc32c(b""))``.

Crash safety: the data file and the index are written completely under
temporary names (``<final>.tempstate<random decimal>``), then published in the
package's one order (:mod:`.publish`: an existing index retired, the data file
renamed, the index renamed last) -- a checkpoint exists for readers exactly
when its ``.index`` does, and an index never stands beside another save's
data.  :meth:`abort` (and leaving a ``with`` block by an exception) deletes
the temporary files.
"""

from __future__ import annotations

import os
from typing import Iterable, Mapping, Optional, Sequence, Union

import numpy as np

from .. import checksums, errors
from ..dtypes import DT_STRING, DType, as_dtype
from ..files import tempstate_name
from ..proto import tensor_bundle_pb2
from ..table import TableWriter
from . import data_layout
from .entry_fields import encode_entry_fields
from .naming import data_filename, index_filename
from .publish import publish
from .reader import key_bytes, key_text
from .slices import TensorSlice, encode_slice_key

__all__ = ["BundleWriter", "save", "to_array", "PRODUCER_VERSION"]

#: ``kTensorBundleVersion``: the version every bundle we write declares.
PRODUCER_VERSION = 1

ArrayLike = Union[np.ndarray, Sequence, bytes, str, int, float, bool]


def to_array(value: ArrayLike, dtype: Optional[Union[str, DType]] = None) -> tuple[np.ndarray, DType]:
    """Normalise a user value to ``(array, DType)``.

    * strings: ``bytes``/``str`` scalars and object arrays of them (``str`` is
      stored as UTF-8, as TensorFlow does); numpy ``S`` arrays are accepted but
      cannot hold trailing NUL bytes -- prefer object arrays.
    * ``dtype`` may name a TensorFlow type to reinterpret an array's bits, e.g.
      ``to_array(np.zeros(3, np.uint16), "bfloat16")`` or an ``int8`` array as
      ``"qint8"``; the element width must match.
    """
    target = as_dtype(dtype) if dtype is not None else None
    if isinstance(value, (bytes, str)) or (target is not None and target.as_datatype_enum == DT_STRING):
        array = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value
        return _string_array(array), as_dtype(DT_STRING)
    array = value if isinstance(value, np.ndarray) else np.asarray(value)
    if array.dtype.kind in ("O", "S", "U"):
        return _string_array(array), as_dtype(DT_STRING)
    if target is None:
        return array, as_dtype(array.dtype)
    if target.numpy_dtype is None:
        raise errors.UnimplementedError(f"cannot write tensors of dtype {target.name}")
    if array.dtype.names is None and array.dtype.byteorder == (">" if np.little_endian else "<"):
        array = array.astype(array.dtype.newbyteorder("="))  # the view below reinterprets native bytes
    if array.dtype == target.numpy_dtype:
        return array, target
    if array.dtype.itemsize != target.itemsize:
        raise errors.InvalidArgumentError(
            f"cannot store a {array.dtype} array as {target.name}: element sizes differ"
        )
    # ascontiguousarray would turn a 0-d array into a 1-d one; keep the shape.
    return np.require(array, requirements="C").view(target.numpy_dtype).reshape(array.shape), target


def _string_array(array: np.ndarray) -> np.ndarray:
    out = np.empty(array.shape, dtype=object)
    flat_in = array.reshape(-1)
    flat_out = out.reshape(-1)
    for i, element in enumerate(flat_in):
        if isinstance(element, (bytes, bytearray, memoryview, np.bytes_)):
            flat_out[i] = bytes(element)
        elif isinstance(element, (str, np.str_)):
            flat_out[i] = str(element).encode("utf-8")
        else:
            raise errors.InvalidArgumentError(
                f"string tensors hold bytes or str, not {type(element).__name__}"
            )
    return out


#: Payloads at least this big are written by ``BundleWriter._write_overlapping_sync`` when sync is on.
_OVERLAP_MIN = 64 << 20
_OVERLAP_CHUNK = 16 << 20


def _quiet_fdatasync(fd: int) -> None:
    """A head start for the final fsync; its errors are that fsync's to report."""
    try:
        (getattr(os, "fdatasync", None) or os.fsync)(fd)
    except OSError:
        pass


class _BackgroundFsync:
    """``os.fsync(fd)`` in a thread, so the disk flushes the data file while the index is built.

    :meth:`wait` returns when the fsync is done and raises its ``OSError``, if any.
    """

    def __init__(self, fd: int) -> None:
        import threading

        self._error: Optional[OSError] = None
        self._thread = threading.Thread(target=self._run, args=(fd,), daemon=True)
        self._thread.start()

    def _run(self, fd: int) -> None:
        try:
            os.fsync(fd)
        except OSError as exc:
            self._error = exc

    def wait(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


class BundleWriter:
    """Streaming writer of one V2 checkpoint: add tensors one at a time, then :meth:`finish`.

    >>> with BundleWriter("out/ckpt") as writer:          # doctest: +SKIP
    ...     writer.add("w", np.zeros((2, 3), np.float32))
    ...     writer.add_slice("emb", [10, 4], "0,5:-", np.ones((5, 4), np.float32))
    ...     writer.add_slice("emb", [10, 4], "5,5:-", np.ones((5, 4), np.float32))

    Leaving the ``with`` block normally finishes the checkpoint; an exception
    aborts it, leaving no files behind.
    """

    def __init__(
        self, prefix: Union[str, "os.PathLike[str]"], *, data_alignment: int = 1, sync: bool = True
    ) -> None:
        if data_alignment < 1:
            raise errors.InvalidArgumentError("data_alignment must be >= 1")
        from ..storage import staged

        #: For a URL prefix: the files are written in a private local directory and uploaded in
        #: the publish order by :meth:`finish` (STORE-5); for a local prefix this does nothing.
        self._staging = staged(prefix, "writing a checkpoint")
        self.prefix = self._staging.__enter__()
        self.data_alignment = data_alignment
        #: fsync each file before renaming it into place (TensorFlow does not; it costs time
        #: on big saves but keeps a power loss from leaving an empty file under a final name).
        self.sync = sync
        # key -> the entry's serialized bytes, or a BundleEntryProto for a partitioned tensor
        self._entries: dict[bytes, Union[bytes, tensor_bundle_pb2.BundleEntryProto]] = {}
        self._size = 0
        self._closed = False
        directory = os.path.dirname(self.prefix)
        self._data_path = data_filename(self.prefix, 0, 1)
        self._data_temp = tempstate_name(self._data_path)
        self._index_temp: Optional[str] = None
        self._syncing = None  # the background fdatasync of _write_overlapping_sync, if one ran
        with errors.os_errors("creating the data file", file=self._data_path):
            if directory:
                os.makedirs(directory, exist_ok=True)
            self._data = open(self._data_temp, "xb")

    # ------------------------------------------------------------------ adding

    def add(self, key: Union[str, bytes], value: ArrayLike, *, dtype: Optional[Union[str, DType]] = None) -> None:
        """Append one tensor; ``key`` must be new and non-empty."""
        self._check_open()
        raw_key = self._check_key(key)
        array, tf_dtype = to_array(value, dtype)
        self._add_array(raw_key, array, tf_dtype)

    def add_slice(
        self,
        full_key: Union[str, bytes],
        full_shape: Sequence[int],
        slice_spec: Union[str, TensorSlice],
        value: ArrayLike,
        *,
        dtype: Optional[Union[str, DType]] = None,
    ) -> None:
        """Append one slice of a partitioned tensor (``SaveV2`` with a ``shape_and_slices`` spec).

        As in TensorFlow, a slice that covers the whole tensor is stored as a
        plain tensor; otherwise the full tensor's entry records the slice and
        the slice's values go under the binary slice key.
        """
        self._check_open()
        raw_key = key_bytes(full_key)
        if raw_key == b"":
            raise errors.InvalidArgumentError("tensor key must not be empty (it is reserved for the header)")
        full_shape = tuple(int(d) for d in full_shape)
        if isinstance(slice_spec, str):
            try:
                slice_spec = TensorSlice.parse(slice_spec)
            except ValueError as exc:
                raise errors.InvalidArgumentError(str(exc), key=key_text(raw_key)) from None
        array, tf_dtype = to_array(value, dtype)
        if not slice_spec.fits(full_shape):
            raise errors.InvalidArgumentError(
                f"slice {slice_spec} does not fit shape {list(full_shape)}", key=key_text(raw_key)
            )
        if tuple(array.shape) != slice_spec.shape_in(full_shape):
            raise errors.InvalidArgumentError(
                f"value of shape {list(array.shape)} does not match slice {slice_spec} of {list(full_shape)}",
                key=key_text(raw_key),
            )
        if slice_spec.is_full() or slice_spec.covers_whole(full_shape):
            self._check_key(raw_key)
            self._add_array(raw_key, array, tf_dtype)
            return
        full_entry = self._entries.get(raw_key)
        if full_entry is None:
            full_entry = tensor_bundle_pb2.BundleEntryProto()
            full_entry.dtype = tf_dtype.as_datatype_enum
            _fill_shape(full_entry, full_shape)
        elif isinstance(full_entry, bytes) or not full_entry.slices:
            raise errors.InvalidArgumentError("adding a slice to a tensor stored whole", key=key_text(raw_key))
        else:
            stored_shape = tuple(d.size for d in full_entry.shape.dim)
            if full_entry.dtype != tf_dtype.as_datatype_enum or stored_shape != full_shape:
                raise errors.InvalidArgumentError(
                    "slices of one tensor must agree on dtype and full shape", key=key_text(raw_key)
                )
        slice_key = encode_slice_key(raw_key, slice_spec)
        if slice_key in self._entries:
            raise errors.InvalidArgumentError(f"slice {slice_spec} added twice", key=key_text(raw_key))
        slice_spec.fill_proto(full_entry.slices.add())
        self._entries[raw_key] = full_entry
        self._add_array(slice_key, array, tf_dtype)

    def _check_key(self, key: Union[str, bytes]) -> bytes:
        raw_key = key_bytes(key)
        if raw_key == b"":
            raise errors.InvalidArgumentError("tensor key must not be empty (it is reserved for the header)")
        if raw_key in self._entries:
            raise errors.InvalidArgumentError("adding duplicate key", key=key_text(raw_key))
        return raw_key

    def _add_array(self, raw_key: bytes, array: np.ndarray, tf_dtype: DType) -> None:
        offset = self._size
        if tf_dtype.as_datatype_enum == DT_STRING:
            payload, masked = data_layout.encode_strings(list(array.reshape(-1)))
        elif tf_dtype.is_memcpy:
            payload = data_layout.encode_fixed_width(array, tf_dtype)
            masked = None if self.sync and len(payload) >= _OVERLAP_MIN else checksums.masked_crc32c(payload)
        else:
            raise errors.UnimplementedError(f"cannot write tensors of dtype {tf_dtype.name}", key=key_text(raw_key))
        try:
            if masked is None:
                masked = self._write_overlapping_sync(payload)
            else:
                self._data.write(payload)
        except OSError as exc:
            self.abort()
            raise errors.from_os_error(exc, "writing the data file", file=self._data_path) from exc
        self._size += len(payload)
        padding = -self._size % self.data_alignment
        if padding:
            self._data.write(b"\x00" * padding)
            self._size += padding
        # the entry's bytes, as protobuf would serialize them (a message only for partitioned tensors)
        self._entries[raw_key] = encode_entry_fields(
            tf_dtype.as_datatype_enum, array.shape, 0, offset, len(payload), masked
        )

    def _write_overlapping_sync(self, payload: memoryview) -> int:
        """Write a big payload in chunks, CRC each as it goes, and let the disk catch up meanwhile.

        With ``sync`` on, :meth:`finish` fsyncs the data file; for a big tensor that is a
        wait for the whole file to reach the disk after the last byte is written.  Here
        an ``fdatasync`` runs in a thread after every :data:`_OVERLAP_CHUNK` bytes (one at a
        time), so the disk writes while the next chunks are copied and checksummed and the
        final fsync has only the tail left.  The bytes and the CRC are the same; only the
        order in which pages reach the disk changes (benchmarks/README.md, row "write one
        256 MiB float32").  Returns the payload's masked CRC32C.
        """
        import threading

        crc = 0
        fd = self._data.fileno()
        syncing = self._syncing
        for start in range(0, len(payload), _OVERLAP_CHUNK):
            chunk = payload[start : start + _OVERLAP_CHUNK]
            self._data.write(chunk)
            crc = checksums.extend(crc, chunk)
            if syncing is None or not syncing.is_alive():
                self._data.flush()
                syncing = threading.Thread(target=_quiet_fdatasync, args=(fd,), daemon=True)
                syncing.start()
        self._syncing = syncing
        return checksums.mask(crc)

    # --------------------------------------------------------------- finishing

    def finish(self) -> None:
        """Write the index and publish both files under their final names (:func:`.publish.publish`)."""
        self._check_open()
        self._closed = True
        try:
            data_sync = None
            with errors.os_errors("finishing the data file", file=self._data_path):
                if self._syncing is not None:
                    self._syncing.join()
                self._data.flush()
                if self.sync:  # flushed to disk while the index is written; waited for before publishing
                    data_sync = _BackgroundFsync(self._data.fileno())
            try:
                header = tensor_bundle_pb2.BundleHeaderProto()
                header.num_shards = 1
                header.version.producer = PRODUCER_VERSION
                self._index_temp = write_index_temp(
                    index_filename(self.prefix), header, self._entries, sync=self.sync
                )
            finally:
                with errors.os_errors("finishing the data file", file=self._data_path):
                    if data_sync is not None:
                        data_sync.wait()
                    self._data.close()
            publish(self.prefix, self._index_temp, [(self._data_temp, self._data_path)], sync=self.sync)
            self._staging.commit()
        except BaseException:
            self._cleanup()
            raise
        finally:
            self._staging.close()

    def abort(self) -> None:
        """Give up: close and delete the temporary files; nothing appears under final names."""
        self._closed = True
        self._cleanup()

    def _cleanup(self) -> None:
        if self._syncing is not None:
            self._syncing.join()  # before the descriptor it syncs is closed (and its number reused)
        try:
            self._data.close()
        except OSError:
            pass
        for path in (self._data_temp, self._index_temp):
            if path and os.path.exists(path):
                try:
                    os.remove(path)
                except OSError:
                    pass
        self._staging.close()

    def _check_open(self) -> None:
        if self._closed:
            raise errors.FailedPreconditionError("BundleWriter is closed", file=index_filename(self.prefix))

    def __enter__(self) -> "BundleWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._closed:
            return
        if exc_type is None:
            self.finish()
        else:
            self.abort()


def _fill_shape(entry, shape: Iterable[int]) -> None:
    entry.shape.SetInParent()  # present even when empty: a scalar's entry holds "12 00"
    for size in shape:
        entry.shape.dim.add().size = int(size)


def write_index_temp(
    path: str,
    header,
    entries: Mapping[bytes, Union[bytes, "tensor_bundle_pb2.BundleEntryProto"]],
    *,
    sync: bool = True,
) -> str:
    """Write an ``.index`` (header under ``""`` then entries sorted bytewise) under a temporary name.

    Returns that name; :func:`.publish.publish` moves it into place.  On
    failure nothing is left behind.
    """
    temp = tempstate_name(path)
    try:
        with errors.os_errors("writing the index", file=path):
            with open(temp, "xb") as handle:
                table = TableWriter(handle)
                table.add(b"", header.SerializeToString())
                for key in sorted(entries):
                    entry = entries[key]
                    table.add(key, entry if isinstance(entry, bytes) else entry.SerializeToString())
                table.finish()
                handle.flush()
                if sync:
                    os.fsync(handle.fileno())
    except BaseException:
        try:
            os.remove(temp)
        except OSError:
            pass
        raise
    return temp


def save(
    prefix: Union[str, "os.PathLike[str]"], tensors: Mapping[Union[str, bytes], ArrayLike], *, sync: bool = True,
    filesystem=None,
) -> str:
    """Write ``tensors`` (name -> array) as a checkpoint at ``prefix``, in the mapping's order.

    For the same tensors in the same order as ``SaveV2``'s ``tensor_names``, the
    ``.index`` and ``.data-00000-of-00001`` files are byte-identical to
    TensorFlow's.  Returns the prefix.  ``sync=False`` skips the fsync before
    each rename, as TensorFlow does (faster; less safe against power loss).

    ``prefix`` may be an fsspec URL or a path on ``filesystem`` (an fsspec filesystem
    object): the files are written locally, then uploaded in the publish order (STORE-5).
    """
    from ..storage import on_filesystem

    prefix = on_filesystem(prefix, filesystem)
    with BundleWriter(prefix, sync=sync) as writer:
        for name, value in tensors.items():
            writer.add(name, value)
    return os.fspath(prefix)
