"""Reading an SSTable: point lookups, ordered scans, and full validation (spec: ``spec/table.md``).

Strategy
--------
:class:`TableReader` opens a table the way TensorFlow's ``Table::Open`` does
(``third_party/xla/third_party/tsl/tsl/lib/io/table.cc``): read the 48-byte
footer from the end of the file, check the magic number, decode the two
handles, read the index block.  It then parses the whole index block once --
one entry per data block, so it is small -- into a sorted list of separator
keys and decoded block handles, checking that the keys strictly increase and
that every handle lies inside the file before the footer.  It also reads and
checks the metaindex block, which TensorFlow never reads (it is always empty;
we read it so that a damaged metaindex is reported, not ignored).

* ``get(key)``: bisect the separators for the first one ``>= key`` -- the only
  block that can hold ``key`` -- read that block (from a small LRU cache of
  parsed blocks) and binary-search its restart points.  One block read per
  lookup, ``O(log n)`` comparisons; the rest of the table is not touched.
* ``seek(key)`` / ``items()``: the same first step, then walk the blocks in
  index order, validating every entry (see :mod:`tfckpt.table.block`) and the
  ordering *between* blocks: every key of data block ``i`` must satisfy
  ``separator[i-1] < key <= separator[i]``.  That invariant is what makes
  ``get`` correct, and TensorFlow's writer always satisfies it; a table that
  breaks it (unsorted or duplicate keys across blocks) is reported as
  :class:`~tfckpt.errors.DataLossError`.

Every block read checks the handle against the file size *before* reading or
allocating, then the CRC (always), then the type byte (0 raw, 1 snappy, else
"bad block type"), then, for snappy, the claimed length against the most the
compressed bytes could expand to.  Every failure is a
:class:`~tfckpt.errors.DataLossError` carrying the file name, the byte offset
and, when there is one, the key being looked up.

Sources.  A path is opened read-only and read with positioned reads
(``os.pread``); the file is never loaded whole, mapped, or modified.  Any
object with the buffer protocol (``bytes``, ``bytearray``, ``memoryview``,
``mmap``) is read in place through a ``memoryview``.  Parsed data blocks are
kept in a small LRU cache (8 blocks, 4 MiB); the parsed index is kept for the
reader's lifetime.

Stricter than TensorFlow (which would instead misread or skip): handles that
overlap the footer, restart arrays that are not strictly increasing from 0,
empty data blocks, keys out of order anywhere.  Lenient like TensorFlow: the
footer padding is not checked; an index value may carry bytes after its
handle; the metaindex may hold entries.
"""

from __future__ import annotations

import bisect
import os
import threading
from collections import OrderedDict
from typing import Iterator, Optional, Union

from ..errors import (
    CheckpointError,
    DataLossError,
    FailedPreconditionError,
    InvalidArgumentError,
    FileNotFound,
    NotFoundError,
)
from .block import Block
from .format import (
    BLOCK_TRAILER_SIZE,
    FOOTER_SIZE,
    NO_COMPRESSION,
    BlockHandle,
    Footer,
    split_stored_block,
    uncompress_block,
)

__all__ = ["TableReader"]

#: The block cache keeps at most this many parsed data blocks ...
_CACHED_BLOCKS = 8
#: ... holding at most this many bytes in all; a larger block (a V1 table stores a big
#: tensor in a block of its own) is used once and not kept.
_CACHED_BYTES = 4 << 20

#: A path (opened read-only) or an object with the buffer protocol (read in place).
Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]


def _key_bytes(key) -> bytes:
    if isinstance(key, bytes):
        return key
    if isinstance(key, (bytearray, memoryview)):
        return bytes(key)
    raise InvalidArgumentError(f"table keys are bytes, got {type(key).__name__}")


class _RemoteSource:
    """Positioned reads through ``tfckpt.storage`` (an fsspec URL): one ranged request per read."""

    def __init__(self, url: str) -> None:
        from ..storage import RemoteFile

        self._file = RemoteFile(url)
        self.size = self._file.size

    def read(self, offset: int, length: int) -> bytes:
        if self._file is None:
            raise FailedPreconditionError("table reader is closed")
        return self._file.pread(length, offset)

    def close(self) -> None:
        self._file = None


class _FileSource:
    """Positioned reads from a file opened read-only."""

    def __init__(self, path) -> None:
        try:
            self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            raise FileNotFound("table file does not exist", file=path) from None
        try:
            self.size = os.fstat(self._fd).st_size
        except BaseException:
            os.close(self._fd)
            raise
        self._lock = None if hasattr(os, "pread") else threading.Lock()

    def read(self, offset: int, length: int) -> bytes:
        if self._fd < 0:
            raise FailedPreconditionError("table reader is closed")
        if self._lock is None:
            chunks = []
            while length > 0:
                chunk = os.pread(self._fd, length, offset)
                if not chunk:
                    break
                chunks.append(chunk)
                offset += len(chunk)
                length -= len(chunk)
            return b"".join(chunks)
        with self._lock:
            os.lseek(self._fd, offset, os.SEEK_SET)
            return os.read(self._fd, length)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class _BufferSource:
    """Reads from an object in memory."""

    def __init__(self, data) -> None:
        self._view: Optional[memoryview] = memoryview(data).cast("B")
        self.size = len(self._view)

    def read(self, offset: int, length: int) -> bytes:
        if self._view is None:
            raise FailedPreconditionError("table reader is closed")
        return bytes(self._view[offset : offset + length])

    def close(self) -> None:
        if self._view is not None:
            self._view.release()
            self._view = None


class TableReader:
    """Read access to one SSTable (a checkpoint ``.index`` file or a V1 checkpoint).

    ``source`` is a path or a bytes-like object; ``name`` is the file name used
    in error messages (default: the path).
    """

    def __init__(self, source: Source, *, name: Optional[Union[str, "os.PathLike[str]"]] = None) -> None:
        if isinstance(source, (str, os.PathLike)):
            from ..storage import is_url, local_path

            path = local_path(os.fspath(source))
            self.name = os.fspath(name) if name is not None else path
            self._source = _RemoteSource(path) if is_url(path) else _FileSource(path)
        else:  # bytes, bytearray, memoryview, mmap, ...: anything with the buffer protocol
            self.name = os.fspath(name) if name is not None else None
            self._source = _BufferSource(source)
        self._cache: "OrderedDict[int, Block]" = OrderedDict()  # data block offset -> parsed block
        self._cached_bytes = 0
        try:
            self._open()
        except CheckpointError as err:
            self._source.close()
            raise err.with_location(file=self.name)
        except BaseException:
            self._source.close()
            raise

    # -- opening ---------------------------------------------------------

    def _open(self) -> None:
        size = self._source.size
        self.file_size = size
        if size < FOOTER_SIZE:
            raise DataLossError(
                f"file is too short to be an SSTable ({size} bytes; the footer alone is {FOOTER_SIZE})"
                + self._lfs_hint(),
                offset=0,
            )
        footer_offset = size - FOOTER_SIZE
        footer_bytes = self._source.read(footer_offset, FOOTER_SIZE)
        if len(footer_bytes) != FOOTER_SIZE:
            raise DataLossError("truncated read of the footer", offset=footer_offset)
        try:
            footer = Footer.decode(footer_bytes)
        except DataLossError as err:
            if "magic" in err.message:
                err.message += self._lfs_hint()
            raise err.with_location(offset=footer_offset)
        self._footer_offset = footer_offset
        self.metaindex_handle = footer.metaindex_handle
        self.index_handle = footer.index_handle

        metaindex = self._read_block(footer.metaindex_handle, "metaindex block")
        for _ in metaindex:  # validates its entries; TensorFlow's metaindex is always empty
            pass

        index = self._read_block(footer.index_handle, "index block")
        keys: list[bytes] = []
        handles: list[BlockHandle] = []
        for key, value in index:  # the block iterator rejects unsorted/duplicate keys
            try:
                handle, _ = BlockHandle.decode(value)
            except DataLossError as err:
                raise err.with_location(offset=footer.index_handle.offset, key=key)
            self._check_handle(handle, f"data block {len(handles)}", key=key)
            keys.append(key)
            handles.append(handle)
        self._index_keys = keys
        self._handles = handles

    def _lfs_hint(self) -> str:
        """What the file looks like instead (LFS pointer, HDF5, zip, ...): :mod:`tfckpt.sniff`."""
        from ..sniff import hint

        return hint(lambda n: self._source.read(0, min(n, self._source.size)), self.name or "")

    # -- blocks ----------------------------------------------------------

    def _check_handle(self, handle: BlockHandle, label: str, key: Optional[bytes] = None) -> None:
        if handle.offset + handle.size + BLOCK_TRAILER_SIZE > self._footer_offset:
            raise DataLossError(
                f"{label} handle (offset {handle.offset}, size {handle.size}) runs past "
                f"the last block byte ({self._footer_offset}, where the footer starts)",
                offset=handle.offset if handle.offset < self.file_size else None,
                key=key,
            )

    def _read_block(self, handle: BlockHandle, label: str, key: Optional[bytes] = None) -> Block:
        self._check_handle(handle, label, key)
        length = handle.size + BLOCK_TRAILER_SIZE
        stored = self._source.read(handle.offset, length)
        try:
            if len(stored) != length:
                raise DataLossError(f"truncated block read: wanted {length} bytes, got {len(stored)}")
            contents, block_type = split_stored_block(stored)
            raw = uncompress_block(contents, block_type)
        except DataLossError as err:
            err.message = f"{label}: {err.message}"
            raise err.with_location(offset=handle.offset, key=key)
        try:
            return Block(
                raw, label=label, file_offset=handle.offset, stored_raw=block_type == NO_COMPRESSION
            )
        except DataLossError as err:
            raise err.with_location(key=key)

    def _data_block(self, i: int, key: Optional[bytes] = None) -> Block:
        handle = self._handles[i]
        block = self._cache.get(handle.offset)
        if block is not None:
            self._cache.move_to_end(handle.offset)
            return block
        block = self._read_block(handle, f"data block {i}", key)
        if block.is_empty:
            raise DataLossError(
                f"data block {i} holds no entries (TensorFlow never writes one)",
                offset=handle.offset,
                key=key,
            )
        if block.size <= _CACHED_BYTES:
            self._cache[handle.offset] = block
            self._cached_bytes += block.size
            while len(self._cache) > _CACHED_BLOCKS or self._cached_bytes > _CACHED_BYTES:
                _, evicted = self._cache.popitem(last=False)
                self._cached_bytes -= evicted.size
        return block

    # -- public API ------------------------------------------------------

    @property
    def num_data_blocks(self) -> int:
        return len(self._handles)

    @property
    def data_block_handles(self) -> tuple[BlockHandle, ...]:
        """Where each data block is stored, in index order."""
        return tuple(self._handles)

    @property
    def index_keys(self) -> tuple[bytes, ...]:
        """The index block's keys: for each data block, a key >= its keys and < the next block's."""
        return tuple(self._index_keys)

    def get(self, key: bytes) -> Optional[bytes]:
        """The value stored under exactly ``key``, or None."""
        key = _key_bytes(key)
        i = bisect.bisect_left(self._index_keys, key)
        if i == len(self._index_keys):
            return None
        try:
            return self._data_block(i, key).get(key)
        except CheckpointError as err:
            raise err.with_location(file=self.name, key=key)

    def block_index(self, key: bytes) -> Optional[int]:
        """The data block that would hold ``key`` (None: past the last block's keys)."""
        i = bisect.bisect_left(self._index_keys, _key_bytes(key))
        return None if i == len(self._index_keys) else i

    def block_entries(self, i: int) -> dict:
        """Every entry of data block ``i``, ``{key: value}``, validated as a scan validates them."""
        lower = self._index_keys[i - 1] if i else None
        upper = self._index_keys[i]
        try:
            entries = self._data_block(i).as_dict()
            # keys increase inside a validated block: its first and last key bound the rest
            for key in (next(iter(entries)), next(reversed(entries))) if entries else ():
                if (lower is not None and key <= lower) or key > upper:
                    raise self._out_of_range(i, key)
            return entries
        except CheckpointError as err:
            raise err.with_location(file=self.name)

    def _out_of_range(self, i: int, key: bytes) -> DataLossError:
        lower = self._index_keys[i - 1] if i else None
        return DataLossError(
            f"data block {i}: key lies outside the range its index entry allows "
            f"(after {lower!r}, up to {self._index_keys[i]!r}); keys are out of order across blocks",
            offset=self._handles[i].offset,
            key=key,
        )

    def seek(self, key: bytes) -> Iterator[tuple[bytes, bytes]]:
        """All entries with a key ``>= key``, in key order."""
        key = _key_bytes(key)
        start = bisect.bisect_left(self._index_keys, key)
        return self._walk(start, key)

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """All entries, in key order."""
        return self._walk(0, None)

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        return self.items()

    def first(self) -> Optional[tuple[bytes, bytes]]:
        """The entry with the smallest key, or None for an empty table."""
        for entry in self.items():
            return entry
        return None

    def _walk(self, start: int, target: Optional[bytes]) -> Iterator[tuple[bytes, bytes]]:
        keys = self._index_keys
        for i in range(start, len(keys)):
            lower = keys[i - 1] if i > 0 else None
            upper = keys[i]
            try:
                block = self._data_block(i)
                if i != start or target is None:
                    checked = block.entries_between(lower, upper)
                    if checked is not None:  # the accelerator walked and checked the whole block
                        yield from checked
                        continue
                entries = block.seek(target) if (i == start and target is not None) else iter(block)
                for k, v in entries:
                    if (lower is not None and k <= lower) or k > upper:
                        raise self._out_of_range(i, k)
                    yield k, v
            except CheckpointError as err:
                raise err.with_location(file=self.name)

    # -- lifetime --------------------------------------------------------

    def close(self) -> None:
        self._source.close()
        self._cache.clear()
        self._cached_bytes = 0

    def __enter__(self) -> "TableReader":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TableReader({self.name!r}, {self.file_size} bytes, {self.num_data_blocks} data blocks)"
