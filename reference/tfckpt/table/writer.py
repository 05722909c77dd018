"""Writing an SSTable byte-identical to TensorFlow's ``TableBuilder`` (spec: ``spec/table.md``).

Strategy
--------
:class:`TableWriter` replays TensorFlow's ``TableBuilder``
(``third_party/xla/third_party/tsl/tsl/lib/io/table_builder.cc``) decision for
decision, because the bytes of a table depend on *when* blocks are cut and on
the separator keys chosen for the index, not only on the entries:

* Before adding an entry, if the current block has entries and
  ``len(key) + len(value) >= 2 * block_size``, the block is written first
  (TensorFlow's ``kOverlyLargeBlockRatio``; LevelDB has no such rule).  So an
  oversized entry always starts a block of its own.
* After adding an entry, the block is written once its size estimate
  ``len(entries) + 4 * restarts + 4`` reaches ``block_size``.
* A block's index entry is added lazily, when the first key of the next block
  is known: its key is ``find_shortest_separator(last key of the block, first
  key of the next block)``.  The last block's index key is
  ``find_short_successor(last key)``.  The value is the block's handle.
* ``finish`` writes the pending data block, an empty metaindex block (with the
  table's options), the index block (restart interval 1, same compression
  setting) and the 48-byte footer.

Options TensorFlow uses for the checkpoint ``.index`` (``BundleWriter::Finish``
in ``tensorflow/core/util/tensor_bundle/tensor_bundle.cc``) and for V1
checkpoints (``tensor_slice_writer.cc``): ``block_size=262144``,
``restart_interval=16``, no compression -- our defaults.

Snappy (``compression="snappy"``).  A block is stored compressed (type 1) only
when ``len(compressed) < len(raw) - len(raw) // 8``; otherwise it is stored raw
(type 0), as ``WriteBlock`` does.  We compress with ``cramjam``'s snappy, whose
output is valid snappy but is not guaranteed to be the bytes Google's snappy
library would produce: against Google's snappy 1.1.9, cramjam's output
differed for about 7% of the blocks tried (TensorFlow 2.21 reads them all).  So
snappy tables are byte-exact with TensorFlow only when every block ends up
stored raw.  TensorFlow itself never writes snappy checkpoint tables today.
"""

from __future__ import annotations

from typing import BinaryIO


from ..errors import FailedPreconditionError, InvalidArgumentError
from .block import BlockBuilder
from .format import NO_COMPRESSION, SNAPPY_COMPRESSION, BlockHandle, Footer, block_trailer

__all__ = [
    "TableWriter",
    "DEFAULT_BLOCK_SIZE",
    "DEFAULT_RESTART_INTERVAL",
    "OVERLY_LARGE_BLOCK_RATIO",
    "find_shortest_separator",
    "find_short_successor",
]

#: ``Options::block_size`` default (uncompressed bytes per block, a target not a limit).
DEFAULT_BLOCK_SIZE = 262144
#: ``Options::block_restart_interval`` default.
DEFAULT_RESTART_INTERVAL = 16
#: An entry of at least this many block sizes starts a new block (``kOverlyLargeBlockRatio``).
OVERLY_LARGE_BLOCK_RATIO = 2

_COMPRESSIONS = {"none": NO_COMPRESSION, "snappy": SNAPPY_COMPRESSION}
_U32_MAX = 0xFFFFFFFF


def find_shortest_separator(start: bytes, limit: bytes) -> bytes:
    """A short key ``k`` with ``start <= k < limit`` (for ``start < limit``), as TensorFlow picks it.

    At the first byte where the two keys differ, if ``start``'s byte can be
    incremented and still be below ``limit``'s byte (``start[i] + 1 < limit[i]``),
    the result is ``start[:i]`` plus that incremented byte.  Otherwise --
    including when one key is a prefix of the other -- ``start`` is returned
    unchanged.
    """
    common = min(len(start), len(limit))
    i = 0
    while i < common and start[i] == limit[i]:
        i += 1
    if i >= common:
        return start
    byte = start[i]
    if byte < 0xFF and byte + 1 < limit[i]:
        return start[:i] + bytes((byte + 1,))
    return start


def find_short_successor(key: bytes) -> bytes:
    """A short key ``>= key``: the first byte that is not 0xff, incremented, and nothing after it.

    A key made only of 0xff bytes (or empty) is returned unchanged.
    """
    for i, byte in enumerate(key):
        if byte != 0xFF:
            return key[:i] + bytes((byte + 1,))
    return key


def _as_bytes(what: str, data) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise InvalidArgumentError(f"table {what} must be bytes, got {type(data).__name__}")


class TableWriter:
    """Writes an SSTable to a binary file object, exactly as TensorFlow would.

    ``fileobj`` only needs ``write``; the writer never seeks or closes it.
    """

    def __init__(
        self,
        fileobj: BinaryIO,
        block_size: int = DEFAULT_BLOCK_SIZE,
        restart_interval: int = DEFAULT_RESTART_INTERVAL,
        compression: str = "none",
    ) -> None:
        if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
            raise InvalidArgumentError(f"block_size must be an integer >= 1, got {block_size!r}")
        if isinstance(restart_interval, bool) or not isinstance(restart_interval, int) or restart_interval < 1:
            raise InvalidArgumentError(f"restart_interval must be an integer >= 1, got {restart_interval!r}")
        if compression not in _COMPRESSIONS:
            raise InvalidArgumentError(f"compression must be 'none' or 'snappy', got {compression!r}")
        self._file = fileobj
        self.block_size = block_size
        self.restart_interval = restart_interval
        self.compression = compression
        self._compression_type = _COMPRESSIONS[compression]
        self._offset = 0
        self._data_block = BlockBuilder(restart_interval)
        self._index_block = BlockBuilder(1)
        self._last_key = b""
        self._num_entries = 0
        self._pending_handle: BlockHandle | None = None  # set between a flush and the next key
        self._closed = False

    @property
    def num_entries(self) -> int:
        return self._num_entries

    @property
    def offset(self) -> int:
        """Bytes written so far."""
        return self._offset

    def add(self, key: bytes, value: bytes) -> None:
        """Append an entry; keys must strictly increase (unsigned bytewise)."""
        if self._closed:
            raise FailedPreconditionError("table writer is finished; no more entries can be added")
        key = _as_bytes("key", key)
        value = _as_bytes("value", value)
        if len(key) > _U32_MAX or len(value) > _U32_MAX:
            raise InvalidArgumentError("table keys and values are limited to 2**32 - 1 bytes", key=key)
        if self._num_entries > 0:
            if key <= self._last_key:
                what = "duplicate key" if key == self._last_key else "keys must strictly increase"
                raise InvalidArgumentError(f"{what}: {key!r} after {self._last_key!r}", key=key)
            if len(key) + len(value) >= OVERLY_LARGE_BLOCK_RATIO * self.block_size:
                self._flush()
        if self._pending_handle is not None:
            separator = find_shortest_separator(self._last_key, key)
            self._index_block.add(separator, self._pending_handle.encode())
            self._pending_handle = None
        self._last_key = key
        self._num_entries += 1
        self._data_block.add(key, value)
        if self._data_block.current_size_estimate() >= self.block_size:
            self._flush()

    def finish(self) -> int:
        """Write the last data block, the metaindex, the index and the footer; returns the file size."""
        if self._closed:
            raise FailedPreconditionError("table writer is already finished")
        self._flush()
        self._closed = True
        metaindex_handle = self._write_block(BlockBuilder(self.restart_interval))
        if self._pending_handle is not None:
            self._index_block.add(find_short_successor(self._last_key), self._pending_handle.encode())
            self._pending_handle = None
        index_handle = self._write_block(self._index_block)
        self._write(Footer(metaindex_handle, index_handle).encode())
        return self._offset

    # -- internals -------------------------------------------------------

    def _flush(self) -> None:
        if self._data_block.empty:
            return
        assert self._pending_handle is None
        self._pending_handle = self._write_block(self._data_block)

    def _write_block(self, builder: BlockBuilder) -> BlockHandle:
        raw = builder.finish()
        stored, block_type = raw, NO_COMPRESSION
        if self._compression_type == SNAPPY_COMPRESSION:
            import cramjam  # imported on the first compressed block

            compressed = bytes(cramjam.snappy.compress_raw(raw))
            if len(compressed) < len(raw) - len(raw) // 8:
                stored, block_type = compressed, SNAPPY_COMPRESSION
        handle = BlockHandle(self._offset, len(stored))
        self._write(stored)
        self._write(block_trailer(stored, block_type))
        builder.reset()
        return handle

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                written = self._file.write(view)
                if written is None:  # a buffered file object returns None or len(data)
                    break
                if written <= 0:
                    raise OSError(f"write made no progress ({len(view)} bytes left)")
                view = view[written:]
        except BaseException:
            self._closed = True  # the file is in an unknown state; refuse to go on
            raise
        self._offset += len(data)
