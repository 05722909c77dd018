"""Reading a V2 checkpoint ("tensor bundle"): ``.index`` plus ``.data-*`` files.

Spec: ``spec/index-file.md``, ``spec/data-file.md``, ``spec/partitioned.md``.
TensorFlow's counterpart: ``BundleReader`` in
``tensorflow/core/util/tensor_bundle/tensor_bundle.cc``.

Strategy
--------
*Lazy and bounded.*  Opening a bundle reads the SSTable footer, its index
block and the header entry -- nothing else.  An entry is decoded only when its
key is asked for (one SSTable lookup), and a tensor's bytes are read with one
positioned read of exactly ``[offset, offset + size)`` of one data file, straight
into the array that is returned.  Before anything is allocated, every size
is checked against something the files on disk justify:

* fixed-width tensors: ``size == num_elements * itemsize`` and
  ``offset + size <= data file size``;
* strings: ``num_elements <= size`` (each length takes at least one byte) and
  the same bound on the file;
* partitioned tensors: the stored slices must lie inside the full shape, must
  not overlap, and must cover what is read; each slice entry passes the checks
  above before the result is allocated.

So a file that claims a 2**40-element tensor fails with a clear error instead
of exhausting memory.

*Strict where TensorFlow is lax.*  TensorFlow parses whatever entry comes
first as the header, never range-checks ``shard_id``, and aborts the process
on some malformed entries; we reject each with an error naming the file, the
key and the byte offset (the offset of the tensor's bytes in its data file for
data problems; index problems are located by key).  Every departure is listed
in ``spec/errors.md``.

Header layout (``BundleHeaderProto``, key ``""``)::

    num_shards: int32 = 1 | endianness: LITTLE=0 / BIG=1 = 2 | version: VersionDef = 3

Entry layout (``BundleEntryProto``, every other key)::

    dtype = 1 | shape = 2 | shard_id = 3 | offset = 4 | size = 5 | crc32c (fixed32, masked) = 6 | slices = 7
"""

from __future__ import annotations

import math
import os
from typing import Iterator, Optional, Union

from .._lazy import numpy as np  # imported on first use: listing needs no numpy
from google.protobuf.message import DecodeError

from .. import checksums, errors, storage
from ..accel import gc_paused
from ..dtypes import ALL_DTYPES, DT_STRING, DT_VARIANT, DType
from ..proto import tensor_bundle_pb2, tensor_pb2
from ..table import TableReader
from . import assembly, data_layout
from .entry_fields import decode_entry_fields
from .naming import data_filename, index_filename
from .slices import TensorSlice, decode_slice_key, encode_slice_key

__all__ = ["BundleReader", "TensorEntry", "CONSUMER_VERSION", "MAX_RANK", "check_stored_shape", "check_versions"]

#: The bundle format version this reader implements (``kTensorBundleVersion``).
CONSUMER_VERSION = 1
#: Oldest producer version accepted (``kTensorBundleMinProducer``).
MIN_PRODUCER = 0
#: TensorFlow's ``TensorShape::MaxDimensions()``.
MAX_RANK = 254
_INT64_MAX = (1 << 63) - 1
#: Tensors of at most this many bytes are read through a per-shard read-ahead window ...
_WINDOWED_MAX = 64 << 10
#: ... of this many bytes (one pread serves many adjacent small tensors).
_WINDOW = 1 << 20
#: read_many uses threads only when the tensors hold at least this many bytes in all.
_PARALLEL_MIN_BYTES = 16 << 20
_DTYPES_BY_ENUM = {dtype.as_datatype_enum: dtype for dtype in ALL_DTYPES}

KeyLike = Union[str, bytes]


def key_bytes(key: KeyLike) -> bytes:
    """Tensor names are UTF-8 in the index; bytes pass through unchanged."""
    if isinstance(key, bytes):
        return key
    return key.encode("utf-8", "surrogateescape")


def key_text(key: bytes) -> str:
    return key.decode("utf-8", "surrogateescape")


def _plain_entry(fields: tuple) -> Optional[tuple]:
    """``(dtype, num_elements)`` of decoded canonical fields that need no further check, else None.

    None sends the entry to :meth:`BundleReader._decode_entry_message`: an
    unknown dtype, a rank above MAX_RANK, an element count over int64, or no
    elements at rank 2 or more (each has its own error or handling there).
    """
    dtype = _DTYPES_BY_ENUM.get(fields[0])
    dims = fields[1]
    rank = len(dims)
    if dtype is None or rank > MAX_RANK:
        return None
    # each dim is at most int64's maximum, so rank 0 or 1 needs no checks
    num_elements = dims[0] if rank == 1 else math.prod(dims)
    if rank < 2 or (num_elements <= _INT64_MAX and num_elements):
        return dtype, num_elements
    return None


def _canonical_entry(key: bytes, value: bytes) -> Optional["TensorEntry"]:
    """The entry of ``value`` when it is in the canonical form and needs no further check, else None."""
    fields = decode_entry_fields(value)
    plain = None if fields is None else _plain_entry(fields)
    if plain is None:
        return None
    return TensorEntry(key, plain[0], fields[1], plain[1], None, (), raw=value, fields=fields[2:])


class TensorEntry:
    """A validated index entry: what is stored under one key.

    The location fields are plain attributes, decoded from the wire bytes
    (see :mod:`tfckpt.bundle.entry_fields`); ``proto`` parses the same bytes
    into a ``BundleEntryProto`` only when it is asked for.
    """

    __slots__ = ("key", "dtype", "shape", "num_elements", "slices", "shard_id", "offset", "size", "crc32c",
                 "_raw", "_proto")

    def __init__(self, key: bytes, dtype: DType, shape: tuple, num_elements: int, proto, slices, *,
                 raw: bytes = b"", fields: Optional[tuple] = None) -> None:
        self.key = key
        self.dtype = dtype
        self.shape = shape
        self.num_elements = num_elements
        self._proto = proto
        self._raw = raw
        if fields is None:
            fields = (proto.shard_id, proto.offset, proto.size, proto.crc32c)
        self.shard_id, self.offset, self.size, self.crc32c = fields
        #: For a partitioned tensor, the stored slices in index order; else empty.
        self.slices: tuple[TensorSlice, ...] = slices

    @property
    def proto(self):
        """The entry as a ``BundleEntryProto`` message (parsed on first use)."""
        if self._proto is None:
            proto = tensor_bundle_pb2.BundleEntryProto()
            proto.ParseFromString(self._raw)
            self._proto = proto
        return self._proto

    @property
    def is_partitioned(self) -> bool:
        return bool(self.slices)

    def __repr__(self) -> str:
        return f"TensorEntry({key_text(self.key)!r}, {self.dtype.name}, {list(self.shape)})"


class BundleReader:
    """Reads the tensors of one V2 checkpoint, given its prefix.

    ``verify_checksums`` (default True) checks every tensor's CRC32C as it is
    read; the SSTable's block checksums and string-length checksums are always
    checked, as TensorFlow does.
    """

    def __init__(self, prefix: Union[str, "os.PathLike[str]"], *, verify_checksums: bool = True) -> None:
        self.prefix = os.fspath(prefix)
        self.verify_checksums = verify_checksums
        self.index_path = index_filename(self.prefix)
        self._data_files: dict[int, tuple] = {}
        #: shard id -> (file offset, bytes): the read-ahead window of small reads (see _window)
        self._windows: dict[int, tuple] = {}
        self._entries: dict[bytes, TensorEntry] = {}
        self._block_misses: dict[int, int] = {}  # index block -> keys looked up there (see _decode_block)
        if not storage.isfile(self.index_path):
            raise errors.FileNotFound(
                f"no checkpoint index file: a checkpoint with prefix {self.prefix!r} "
                f"needs {os.path.basename(self.index_path)!r} (pass the prefix, not a directory or data file)",
                file=self.index_path,
            )
        # The index's identity as opened, so that a data file opened later can be checked to
        # belong to the same save (PUB-7; the writers' order is in publish.py).
        before = _identity(self.index_path)
        self._table = TableReader(self.index_path)
        self._index_identity = _identity(self.index_path)
        try:
            if before != self._index_identity:
                raise errors.AbortedError("the checkpoint was replaced while it was being opened; open it again",
                                          file=self.index_path)
            self._read_header()
        except BaseException:
            self._table.close()
            raise

    # ------------------------------------------------------------------ header

    def _read_header(self) -> None:
        first = self._table.first()
        if first is None:
            raise errors.DataLossError("index holds no entries, not even the bundle header", file=self.index_path)
        key, value = first
        if key != b"":
            raise errors.DataLossError(
                "first index entry is not the bundle header (key '')", file=self.index_path, key=key
            )
        header = tensor_bundle_pb2.BundleHeaderProto()
        try:
            header.ParseFromString(value)
        except DecodeError as exc:
            raise errors.DataLossError(
                f"bundle header is not a valid BundleHeaderProto: {exc}", file=self.index_path, key=b""
            ) from None
        self.header = header
        check_versions(header.version, file=self.index_path)
        if header.endianness not in (0, 1):
            raise errors.DataLossError(f"unknown endianness value {header.endianness}", file=self.index_path)
        self.big_endian = header.endianness == 1
        if header.num_shards < 0:
            raise errors.DataLossError(f"negative num_shards {header.num_shards}", file=self.index_path)
        self.num_shards = header.num_shards

    # ----------------------------------------------------------------- entries

    def entry(self, key: KeyLike) -> TensorEntry:
        """The validated entry stored under ``key``; NotFoundError when absent."""
        raw_key = key if type(key) is bytes else key_bytes(key)
        cached = self._entries.get(raw_key)
        if cached is not None:
            return cached
        if raw_key == b"":
            raise errors.NotFoundError("the empty key holds the bundle header, not a tensor", file=self.index_path)
        block = self._table.block_index(raw_key)
        if block is not None:
            misses = self._block_misses.get(block, 0)
            self._block_misses[block] = misses + 1
            if misses == 1:  # a second key of this block: a scan, so decode the block's entries at once
                self._decode_block(block)
                cached = self._entries.get(raw_key)
                if cached is not None:
                    return cached
        value = self._table.get(raw_key)
        if value is None:
            raise errors.NotFoundError("key not found in checkpoint", file=self.index_path, key=key_text(raw_key))
        entry = self._decode_entry(raw_key, value)
        self._entries[raw_key] = entry
        return entry

    def _decode_block(self, block: int) -> None:
        """Cache the entries of one index block that decode the canonical way (see ``entry_fields``).

        Reading every tensor of a checkpoint then costs one walk and one tight loop per
        block instead of a lookup per key; an entry in any other form is left to
        :meth:`entry`, which decodes it (or reports it) when it is asked for.
        """
        entries = self._entries
        with gc_paused():
            for key, value in self._table.block_entries(block).items():
                if key in entries or not key:
                    continue
                entry = _canonical_entry(key, value)
                if entry is not None:
                    entries[key] = entry

    def has_key(self, key: KeyLike) -> bool:
        raw_key = key_bytes(key)
        return raw_key != b"" and (raw_key in self._entries or self._table.get(raw_key) is not None)

    def _decode_entry(self, key: bytes, value: bytes) -> TensorEntry:
        entry = _canonical_entry(key, value)  # the canonical form: no message built (see entry_fields)
        return self._decode_entry_message(key, value) if entry is None else entry

    def _decode_entry_message(self, key: bytes, value: bytes) -> TensorEntry:
        """The reference path: protobuf parses the entry (any form, with protobuf's errors)."""
        proto = tensor_bundle_pb2.BundleEntryProto()
        try:
            proto.ParseFromString(value)
        except DecodeError as exc:
            raise errors.DataLossError(f"entry is not a valid BundleEntryProto: {exc}", **self._where(key)) from None
        dtype = _DTYPES_BY_ENUM.get(proto.dtype)
        if dtype is None:
            where = self._where(key)
            if proto.dtype == 0:
                raise errors.DataLossError("entry has no dtype (DT_INVALID)", **where)
            if proto.dtype >= 100:
                raise errors.DataLossError(f"entry has reference dtype {proto.dtype}, which is never stored", **where)
            raise errors.UnimplementedError(f"entry has dtype enum {proto.dtype}, unknown to TensorFlow 2.21", **where)
        shape_proto = proto.shape
        dims = tuple([dim.size for dim in shape_proto.dim])
        if shape_proto.unknown_rank or len(dims) > MAX_RANK or (dims and min(dims) < 0):
            check_stored_shape(shape_proto, self._where(key))  # raises the precise error
        num_elements = 1
        for size in dims:
            num_elements *= size
        if num_elements > _INT64_MAX or (num_elements == 0 and len(dims) > 1):
            check_stored_shape(shape_proto, self._where(key))  # also: an empty shape numpy cannot build
        shape = dims
        slices: tuple[TensorSlice, ...] = ()
        if proto.slices:
            where = self._where(key)
            stored = []
            for index, slice_proto in enumerate(proto.slices):
                try:
                    tensor_slice = TensorSlice.from_proto(slice_proto)
                except ValueError as exc:
                    raise errors.DataLossError(f"slice {index} is invalid: {exc}", **where) from None
                if not tensor_slice.fits(shape):
                    raise errors.DataLossError(
                        f"slice {index} ({tensor_slice}) lies outside the tensor's shape {list(shape)}", **where
                    )
                stored.append(tensor_slice)
            slices = tuple(stored)
        return TensorEntry(key, dtype, shape, num_elements, proto, slices)

    def _where(self, key: bytes) -> dict:
        return dict(file=self.index_path, key=_shown(key))

    def _check_location(self, entry: TensorEntry) -> None:
        """Where a tensor's bytes are, checked when it is read (listing needs only dtype and shape)."""
        proto, dtype, num_elements, shape = entry, entry.dtype, entry.num_elements, entry.shape
        if 0 <= proto.shard_id < self.num_shards and 0 <= proto.offset <= _INT64_MAX - proto.size and (
            proto.size == num_elements * dtype.itemsize if dtype.is_memcpy else proto.size >= num_elements
        ):
            return  # the usual case, tested without building an error's location
        where = dict(file=self.index_path, key=_shown(entry.key))
        if not 0 <= proto.shard_id < self.num_shards:
            raise errors.DataLossError(
                f"shard_id {proto.shard_id} is outside the {self.num_shards} shard(s) the header declares",
                **where,
            )
        if proto.offset < 0 or proto.size < 0:
            raise errors.DataLossError(f"negative offset {proto.offset} or size {proto.size}", **where)
        if proto.offset > _INT64_MAX - proto.size:
            raise errors.DataLossError("offset + size overflows int64", **where)
        if dtype.is_memcpy:
            expected = num_elements * dtype.itemsize
            if proto.size != expected:
                raise errors.DataLossError(
                    f"entry size {proto.size} disagrees with shape {list(shape)} and dtype "
                    f"{dtype.name} ({expected} bytes)",
                    **where,
                )
        elif dtype.as_datatype_enum == DT_STRING:
            if proto.size < num_elements:
                raise errors.DataLossError(
                    f"entry size {proto.size} is too small for {num_elements} strings", **where
                )

    def iter_entries(self) -> Iterator[TensorEntry]:
        """Every entry but the header, in key order (this decodes the whole index)."""
        cached = self._entries.get
        decode = self._decode_entry
        items = self._table.items()
        next(items, None)  # the header, checked when the reader opened
        for key, value in items:
            entry = cached(key)
            yield decode(key, value) if entry is None else entry

    def variable_shapes(self) -> list[tuple[bytes, DType, tuple]]:
        """``(key, dtype, shape)`` of each of :meth:`variables`, in the same order, with the same errors.

        Listing asks for nothing else, so canonical entries are decoded to
        these three values only, without a :class:`TensorEntry` each; any
        other entry takes the full path (which raises for a bad one, and
        yields the slices whose data keys are then left out).
        """
        shapes = []
        partitioned = []
        cached = self._entries.get
        items = self._table.items()
        next(items, None)  # the header
        with gc_paused():
            for key, value in items:
                entry = cached(key)
                if entry is None:
                    fields = decode_entry_fields(value)
                    plain = None if fields is None else _plain_entry(fields)
                    if plain is not None:
                        shapes.append((key, plain[0], fields[1]))
                        continue
                    entry = self._decode_entry_message(key, value)
                shapes.append((key, entry.dtype, entry.shape))
                if entry.slices:
                    partitioned.append(entry)
        if not partitioned:
            return shapes
        slice_keys = {encode_slice_key(entry.key, s) for entry in partitioned for s in entry.slices}
        return [item for item in shapes if item[0] not in slice_keys]

    def variables(self) -> list[TensorEntry]:
        """The entries a user sees: every key except the header and slice-data keys.

        Follows TensorFlow's ``CheckpointReader``: slice-data keys are the ones
        named by the ``slices`` of some partitioned entry.
        """
        with gc_paused():
            entries = list(self.iter_entries())
        slice_keys = {
            encode_slice_key(entry.key, tensor_slice)
            for entry in entries
            if entry.slices
            for tensor_slice in entry.slices
        }
        if not slice_keys:
            return entries
        return [entry for entry in entries if entry.key not in slice_keys]

    # ------------------------------------------------------------------ values

    def read(self, key: KeyLike) -> np.ndarray:
        """The full value of the tensor stored under ``key``."""
        entry = self.entry(key)
        if entry.is_partitioned:
            return self._read_partitioned(entry, TensorSlice.full(len(entry.shape)))
        return self._read_entry(entry)

    def read_many(self, keys, *, threads: Optional[int] = None) -> list:
        """The values of ``keys``, in order, read by up to ``threads`` threads (default: the CPU count).

        Entries are looked up and data files opened first, in this thread;
        the threads then only read bytes and check CRCs, which release the
        GIL -- what makes a multi-shard checkpoint's big tensors come in in
        parallel.  The values equal ``[self.read(k) for k in keys]``.
        """
        keys = list(keys)
        total = 0
        for key in keys:
            entry = self.entry(key)
            if not entry.is_partitioned:
                self._check_location(entry)
                self._data_file(entry)
                total += entry.size
        if threads is None:
            threads = os.cpu_count() or 1
        threads = min(threads, len(keys))
        if threads <= 1 or total < _PARALLEL_MIN_BYTES:
            return [self.read(key) for key in keys]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=threads) as pool:
            return list(pool.map(self.read, keys))

    def read_slice(self, key: KeyLike, tensor_slice: Union[str, TensorSlice]) -> np.ndarray:
        """One slice of a tensor, e.g. ``read_slice("emb", "0,10:-")``."""
        entry = self.entry(key)
        tensor_slice = assembly.requested_slice(
            tensor_slice, entry.shape, dict(file=self.index_path, key=key_text(entry.key))
        )
        if entry.is_partitioned:
            return self._read_partitioned(entry, tensor_slice)
        value = self._read_entry(entry)
        index = tuple(slice(lo, hi) for lo, hi in tensor_slice.bounds(entry.shape))
        return value[index].copy()

    def _read_entry(self, entry: TensorEntry) -> np.ndarray:
        dtype = entry.dtype
        if not dtype.is_memcpy and dtype.as_datatype_enum not in (DT_STRING, DT_VARIANT):
            raise errors.UnimplementedError(
                f"reading values of dtype {dtype.name} is not supported", file=self.index_path, key=_shown(entry.key)
            )
        self._check_location(entry)
        path, handle = self._data_file(entry)
        file_size = handle[1]
        if entry.offset + entry.size > file_size:
            raise errors.DataLossError(
                f"tensor bytes [{entry.offset}, {entry.offset + entry.size}) extend past the end of the "
                f"data file ({file_size} bytes)",
                **dict(file=path, key=_shown(entry.key), offset=entry.offset),
            )
        if dtype.is_memcpy:
            # The read-ahead window is for local files; through a URL every read is a request
            # for exactly the tensor's bytes (STORE-3).
            if entry.size <= _WINDOWED_MAX and type(handle[0]) is int:
                window = self._window(entry.shard_id, handle, entry.offset, entry.size, path, entry.key)
                # a copy: the window is shared by the tensors around this one
                result = np.ndarray(entry.shape, dtype.numpy_dtype, window).copy()
                raw = result
            else:
                result = np.empty(entry.shape, dtype=dtype.numpy_dtype)
                raw = result.reshape(-1).view(np.uint8) if result.size else np.empty(0, np.uint8)
                where = dict(file=path, key=_shown(entry.key), offset=entry.offset)
                self._read_into(handle[0], entry.offset, raw, where)
                window = raw
            if self.verify_checksums and checksums.masked_crc32c(window) != entry.crc32c:
                from ..sniff import hint_for_path

                raise errors.DataLossError(
                    "tensor checksum mismatch: the data is corrupt" + hint_for_path(path),
                    file=path, key=_shown(entry.key), offset=entry.offset
                )
            if self.big_endian and dtype.swap_unit > 1 and result.size:
                raw.reshape(-1).view(np.uint8).view(f"u{dtype.swap_unit}").byteswap(inplace=True)
            return result
        where = dict(file=path, key=_shown(entry.key), offset=entry.offset)
        buffer = bytearray(entry.size)
        self._read_into(handle[0], entry.offset, buffer, where)
        if dtype.as_datatype_enum == DT_VARIANT:
            return self._variants(bytes(buffer), entry, where)
        try:
            elements = data_layout.decode_strings(
                bytes(buffer),
                entry.num_elements,
                big_endian=self.big_endian,
                verify=self.verify_checksums,
                expected_masked_crc=entry.crc32c,
            )
        except data_layout.StringLayoutError as exc:
            raise errors.DataLossError(str(exc), **where) from None
        result = np.empty(entry.num_elements, dtype=object)
        result[:] = elements
        return result.reshape(entry.shape)

    def _window(self, shard_id: int, handle: tuple, offset: int, size: int, path: str, key: bytes) -> memoryview:
        """``size`` bytes at ``offset`` of a data file, served from a read-ahead window.

        Small tensors are stored back to back, so reading them one by one would
        cost one system call each.  The first small read of a shard reads
        ``_WINDOW`` bytes (at most to the end of the file) into a buffer kept
        per shard; the following tensors inside it are copied out of memory.
        A read outside the window moves it.
        """
        window = self._windows.get(shard_id)
        if window is not None:
            start, data = window
            if start <= offset and offset + size <= start + len(data):
                return data[offset - start : offset - start + size]
        length = max(size, min(_WINDOW, handle[1] - offset))
        buffer = bytearray(length)
        self._read_into(handle[0], offset, buffer, dict(file=path, key=_shown(key), offset=offset))
        data = memoryview(buffer)
        self._windows[shard_id] = (offset, data)
        return data[:size]

    def _variants(self, buffer: bytes, entry: TensorEntry, where: dict) -> np.ndarray:
        """Each element as a ``VariantTensorDataProto`` message (spec DATA-10, DATA-11, SEC-8).

        Decoding an element into a ``TensorList`` or another C++ object is outside
        the format; protobuf's nesting limit (100) bounds how deep a hostile proto
        may go before it is refused.
        """
        try:
            raw = data_layout.decode_variants(buffer, entry.num_elements, big_endian=self.big_endian,
                                              verify=self.verify_checksums, expected_masked_crc=entry.crc32c)
        except data_layout.StringLayoutError as exc:
            raise errors.DataLossError(str(exc), **where) from None
        result = np.empty(entry.num_elements, dtype=object)
        for index, data in enumerate(raw):
            message = tensor_pb2.VariantTensorDataProto()
            try:
                message.ParseFromString(data)
            except DecodeError as exc:
                raise errors.DataLossError(f"variant element {index} is not a VariantTensorDataProto: {exc}",
                                           **where) from None
            result[index] = message
        return result.reshape(entry.shape)

    @staticmethod
    def _read_into(fd: int, offset: int, target, where: dict) -> None:
        """Fill ``target`` from ``fd`` at ``offset`` with positioned reads (no shared file position)."""
        view = memoryview(target).cast("B")
        done = 0
        total = len(view)
        while done < total:
            count = _pread_into(fd, view[done:], offset + done)
            if count == 0:
                raise errors.DataLossError(f"data file ended after {done} of {total} tensor bytes", **where)
            done += count

    def _data_file(self, entry: TensorEntry) -> tuple[str, tuple]:
        handle = self._data_files.get(entry.shard_id)
        if handle is not None:
            return handle[2], handle
        path = data_filename(self.prefix, entry.shard_id, self.num_shards)
        if handle is None:
            try:
                fd = storage.open_file(path)  # an fd, or a RemoteFile for a URL (tfckpt/storage.py)
            except FileNotFoundError:
                raise errors.FileNotFound(
                    f"data file of shard {entry.shard_id} of {self.num_shards} is missing",
                    file=path,
                    key=_shown(entry.key),
                ) from None
            except OSError as exc:
                raise errors.NotFoundError(f"cannot open data file: {exc.strerror}", file=path) from None
            if _identity(self.index_path) != self._index_identity:
                storage.close_file(fd)
                raise errors.AbortedError(
                    "the checkpoint was replaced after its index was read; its data files now belong to "
                    "another save: open it again", file=self.index_path, key=_shown(entry.key))
            handle = (fd, storage.file_size(fd), path)
            self._data_files[entry.shard_id] = handle
        return path, handle

    def _read_partitioned(self, entry: TensorEntry, target: TensorSlice) -> np.ndarray:
        where = dict(file=self.index_path, key=_shown(entry.key))
        shape = entry.shape
        pieces = assembly.plan(entry.slices, shape, target, where)
        # Validate every slice entry (sizes against the files) before allocating the result.
        slice_entries = []
        for tensor_slice, overlap in pieces:
            slice_key = encode_slice_key(entry.key, tensor_slice)
            try:
                slice_entry = self.entry(slice_key)
            except errors.NotFoundError:
                raise errors.DataLossError(
                    f"the data entry of slice {tensor_slice} is missing", **where
                ) from None
            if slice_entry.dtype != entry.dtype:
                raise errors.DataLossError(
                    f"slice {tensor_slice} has dtype {slice_entry.dtype.name}, the tensor {entry.dtype.name}",
                    **where,
                )
            if slice_entry.shape != tensor_slice.shape_in(shape) or slice_entry.is_partitioned:
                raise errors.DataLossError(
                    f"slice {tensor_slice} is stored with shape {list(slice_entry.shape)}, "
                    f"expected {list(tensor_slice.shape_in(shape))}",
                    **where,
                )
            self._check_location(slice_entry)
            path, handle = self._data_file(slice_entry)
            if slice_entry.offset + slice_entry.size > handle[1]:
                raise errors.DataLossError(
                    f"slice bytes extend past the end of the data file ({handle[1]} bytes)",
                    file=path,
                    key=_shown(slice_key),
                    offset=slice_entry.offset,
                )
            slice_entries.append((tensor_slice, overlap, slice_entry))
        by_slice = {tensor_slice: slice_entry for tensor_slice, _, slice_entry in slice_entries}
        numpy_dtype = object if entry.dtype.as_datatype_enum in (DT_STRING, DT_VARIANT) else entry.dtype.numpy_dtype
        return assembly.assemble(
            shape, target, numpy_dtype, pieces, lambda tensor_slice: self._read_entry(by_slice[tensor_slice])
        )

    # --------------------------------------------------------------- lifetime

    def close(self) -> None:
        for fd, _, _ in self._data_files.values():
            try:
                storage.close_file(fd)
            except OSError:
                pass
        self._data_files.clear()
        self._windows.clear()
        self._table.close()

    def __enter__(self) -> "BundleReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        # Readers are often dropped without close() (TensorFlow's have none): release quietly.
        try:
            self.close()
        except Exception:
            pass


def _identity(path: str) -> Optional[tuple[int, int]]:
    """``(device, inode)`` of the file at ``path`` now, or None when there is none (or for a URL:
    remote storage has no inode, so a replacement is not detected there -- spec STORE-4)."""
    if storage.is_url(path):
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _pread_into(fd, view: memoryview, offset: int) -> int:
    if not isinstance(fd, int):  # a storage.RemoteFile
        return fd.readinto(view, offset)
    if hasattr(os, "preadv"):
        return os.preadv(fd, [view], offset)
    data = os.pread(fd, len(view), offset)  # pragma: no cover - platforms without preadv
    view[: len(data)] = data
    return len(data)


def _shown(key: bytes):
    """Keys in errors: a slice-data key as ``name (slice 0,2:-)``; text when the key is UTF-8,
    else the raw bytes."""
    try:
        decoded = describe_slice_key(key)
    except Exception:  # noqa: BLE001 -- a key that merely looks like a slice key
        decoded = None
    if decoded is not None:
        return f"{decoded[0]} (slice {decoded[1]})"
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        return key


def check_versions(version, *, file: str) -> None:
    """TensorFlow's ``CheckVersions`` for a reader of version 1 (V2 bundles and V1 files alike).

    Raises :class:`InvalidArgumentError` when the producer is older than
    ``MIN_PRODUCER``, the file needs a newer reader, or it bans version 1.
    """
    if version.producer < MIN_PRODUCER:
        raise errors.InvalidArgumentError(
            f"checkpoint producer version {version.producer} is below the minimum {MIN_PRODUCER}", file=file
        )
    if version.min_consumer > CONSUMER_VERSION:
        raise errors.InvalidArgumentError(
            f"checkpoint needs a reader of version >= {version.min_consumer}; "
            f"this one implements version {CONSUMER_VERSION}",
            file=file,
        )
    if CONSUMER_VERSION in version.bad_consumers:
        raise errors.InvalidArgumentError(
            f"checkpoint declares reader version {CONSUMER_VERSION} a bad consumer", file=file
        )


#: The widest element (complex128): bounds the extent of any array's shape.
_MAX_ITEMSIZE = 16


def check_stored_shape(shape_proto, where: dict) -> tuple[tuple[int, ...], int]:
    """Validate a stored ``TensorShapeProto`` as TensorFlow's ``TensorShape::IsValid`` does."""
    if shape_proto.unknown_rank:
        raise errors.DataLossError("stored shape has unknown rank", **where)
    dims = tuple(dim.size for dim in shape_proto.dim)
    if len(dims) > MAX_RANK:
        raise errors.DataLossError(f"stored shape has rank {len(dims)} > {MAX_RANK}", **where)
    count = 1
    extent = 1  # the product of the non-zero dimensions: what numpy must be able to address
    for size in dims:
        if size < 0:
            raise errors.DataLossError(f"stored shape {list(dims)} has a negative dimension", **where)
        count *= size
        extent *= size or 1
    if count > _INT64_MAX:
        raise errors.DataLossError(f"stored shape {list(dims)} has more than 2**63-1 elements", **where)
    if extent * _MAX_ITEMSIZE > _INT64_MAX:
        # [2**62, 0, 3] holds no element and TensorFlow's C++ reader accepts it, but no numpy array
        # (nor any array of 16-byte elements in a 64-bit address space) can have that shape;
        # TensorFlow's RestoreV2 then fails with INVALID_ARGUMENT (SEC-10).
        raise errors.InvalidArgumentError(
            f"stored shape {list(dims)} cannot be represented: its non-zero dimensions multiply to "
            f"{extent}, past what a 64-bit array can address", **where)
    return dims, count


def describe_slice_key(key: bytes) -> Optional[tuple[str, TensorSlice]]:
    """``(tensor name, slice)`` when ``key`` is a slice-data key, else None."""
    if key[:1] != b"\x00":
        return None
    try:
        name, tensor_slice = decode_slice_key(key)
    except ValueError:
        return None
    return key_text(name), tensor_slice

