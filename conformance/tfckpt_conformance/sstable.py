"""A minimal reader of the ``.index`` SSTable, so that the suite inspects merged indexes without the implementation.

Strategy
--------
The merge tests (``tests/test_merge_and_update.py``) must look inside the index
an implementation wrote -- the header's ``num_shards``, each entry's
``shard_id`` and ``slices`` -- and the suite must not let the reference judge
that.  This module walks the table itself: footer, index block, every data
block in order, every entry; values are left as bytes for ``wire.decode``.
It reads only what bundle writers produce: uncompressed blocks.  Checksums
are not verified (the trusted readers do that when they read the checkpoint).

The layout walked (spec/sstable.md)::

    file    = data block* , metaindex block , index block , footer
    footer  = metaindex handle , index handle , zero padding to 40 bytes ,
              magic  fixed64  0xdb4775248b80fb57            (48 bytes in all)
    handle  = offset varint64 , size varint64               (size excludes the trailer)
    block   = entry* , restart offsets fixed32* , restart count fixed32
    entry   = shared varint32 , unshared varint32 , value length varint32 ,
              key bytes [unshared] , value bytes            (key = previous key[:shared] + key bytes)
    trailer = compression type  1 byte (0 = none) , masked CRC32C  fixed32
    index block entry: key = a separator >= the block's last key, value = handle of that data block

Any malformed input raises :class:`SSTableError`.
"""

from __future__ import annotations

import struct

from .wire import WireError, _varint

__all__ = ["MAGIC", "SSTableError", "read_table", "read_table_file"]

MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
TRAILER_SIZE = 5


class SSTableError(ValueError):
    """The bytes are not an SSTable this reader understands."""


def _handle(buf: bytes, pos: int) -> tuple[tuple[int, int], int]:
    offset, pos = _varint(buf, pos)
    size, pos = _varint(buf, pos)
    return (offset, size), pos


def _block(table: bytes, handle: tuple[int, int]) -> bytes:
    offset, size = handle
    if offset + size + TRAILER_SIZE > len(table):
        raise SSTableError(f"block at {offset} (+{size}) runs past the end of the table")
    compression = table[offset + size]
    if compression != 0:
        raise SSTableError(f"block at {offset} has compression type {compression}; only uncompressed is read")
    return table[offset:offset + size]


def _entries(block: bytes) -> list[tuple[bytes, bytes]]:
    if len(block) < 4:
        raise SSTableError("block shorter than its restart count")
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    limit = len(block) - 4 - 4 * restarts
    if limit < 0:
        raise SSTableError(f"restart count {restarts} does not fit in a block of {len(block)} bytes")
    out, key, pos = [], b"", 0
    while pos < limit:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        length, pos = _varint(block, pos)
        if shared > len(key) or pos + unshared + length > limit:
            raise SSTableError(f"entry at block offset {pos} is malformed")
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        out.append((key, block[pos:pos + length]))
        pos += length
    return out


def read_table(table: bytes) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of the table, in stored order."""
    try:
        if len(table) < FOOTER_SIZE:
            raise SSTableError(f"{len(table)} bytes is shorter than the footer")
        footer = table[-FOOTER_SIZE:]
        (magic,) = struct.unpack_from("<Q", footer, FOOTER_SIZE - 8)
        if magic != MAGIC:
            raise SSTableError(f"bad magic number 0x{magic:016x}")
        _, pos = _handle(footer, 0)  # metaindex: bundles leave it empty
        index_handle, _ = _handle(footer, pos)
        out = []
        for _, value in _entries(_block(table, index_handle)):
            data_handle, _ = _handle(value, 0)
            out.extend(_entries(_block(table, data_handle)))
        return out
    except WireError as exc:
        raise SSTableError(str(exc)) from None


def read_table_file(path: str) -> list[tuple[bytes, bytes]]:
    with open(path, "rb") as f:
        return read_table(f.read())
