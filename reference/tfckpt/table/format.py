"""Block handles, the footer, and block trailers of an SSTable (spec: ``spec/table.md``).

Strategy
--------
This module owns every fixed-layout piece of the table that is not a block's
*contents*: the pointer to a block (:class:`BlockHandle`), the 48 bytes at the
end of the file (:class:`Footer`), and the 5-byte trailer after each block
(type byte + masked CRC32C).  Encoders and decoders sit side by side so each
layout is quoted once.  Decoders raise :class:`tfckpt.errors.DataLossError`
without a file name; the table reader adds the location.

Sources: ``third_party/xla/third_party/tsl/tsl/lib/io/format.{h,cc}``,
``table_builder.cc`` (``WriteBlock``/``WriteRawBlock``) and
``tensorflow/tsl/lib/io/table_options.h`` (older copies:
``tensorflow/core/lib/io/``).  Every layout below was checked against
``.index`` files written by TensorFlow 2.21.

Whole file::

    [data block 0][trailer] ... [data block k-1][trailer]
    [metaindex block][trailer]          (always empty in TensorFlow's tables)
    [index block][trailer]
    [footer: 48 bytes]

Block handle (at most 20 bytes)::

    offset: varint64     byte offset of the block's first byte in the file
    size:   varint64     length of the block's stored contents, trailer EXCLUDED

Block trailer (5 bytes, directly after the stored contents)::

    type: uint8          0 = stored raw, 1 = snappy (raw format, no framing)
    crc:  fixed32 LE     mask(crc32c(stored contents || type byte))

The CRC covers the bytes as stored (compressed, if type 1) plus the type byte.
``mask`` is TensorFlow's rotate-and-add (:mod:`tfckpt.checksums`).

Footer (exactly 48 bytes, the last bytes of the file)::

    metaindex handle: varint64 offset, varint64 size
    index handle:     varint64 offset, varint64 size
    zero bytes up to byte 40
    magic: fixed32 LE 0x8b80fb57, fixed32 LE 0xdb477524
           (0xdb4775248b80fb57 low half first: 57 fb 80 8b 24 75 47 db)

TensorFlow's writer pads with zeros; its reader skips the padding unread, and
so do we.

Snappy bound.  A snappy stream opens with the uncompressed length as a
varint32.  Its elements are literals (never longer than their output) and
copies; the most productive copy is the 3-byte "copy with 2-byte offset"
that emits 64 bytes.  So ``n`` bytes of elements can never produce more than
``n * 64 // 3`` bytes, and a header claiming more is corrupt: we reject it
before allocating anything (TensorFlow trusts the header and allocates).
"""

from __future__ import annotations

from typing import NamedTuple


from ..checksums import crc32c, extend, mask, unmask
from ..encoding import FIXED32, decode_varint32, decode_varint64, encode_fixed32, encode_varint
from ..errors import DataLossError

__all__ = [
    "TABLE_MAGIC_NUMBER",
    "MAGIC_BYTES",
    "FOOTER_SIZE",
    "BLOCK_TRAILER_SIZE",
    "MAX_HANDLE_LENGTH",
    "NO_COMPRESSION",
    "SNAPPY_COMPRESSION",
    "BlockHandle",
    "Footer",
    "block_trailer",
    "block_crc",
    "split_stored_block",
    "uncompress_block",
    "snappy_max_expansion",
]

#: ``kTableMagicNumber``: the leading 64 bits of sha1("http://code.google.com/p/leveldb/\n").
TABLE_MAGIC_NUMBER = 0xDB4775248B80FB57
#: How the magic number appears on disk: low fixed32 then high fixed32, both little-endian.
MAGIC_BYTES = encode_fixed32(TABLE_MAGIC_NUMBER & 0xFFFFFFFF) + encode_fixed32(TABLE_MAGIC_NUMBER >> 32)
#: ``BlockHandle::kMaxEncodedLength``: two varint64s of at most 10 bytes.
MAX_HANDLE_LENGTH = 20
#: ``Footer::kEncodedLength``: two padded handles and the magic number.
FOOTER_SIZE = 2 * MAX_HANDLE_LENGTH + 8
#: ``kBlockTrailerSize``: type byte + fixed32 masked CRC.
BLOCK_TRAILER_SIZE = 5
#: ``CompressionType`` values; "part of the persistent format".
NO_COMPRESSION = 0
SNAPPY_COMPRESSION = 1


class BlockHandle(NamedTuple):
    """Where a block is stored: its offset and its stored size (trailer excluded)."""

    offset: int
    size: int

    def encode(self) -> bytes:
        """``varint64 offset, varint64 size``."""
        return encode_varint(self.offset) + encode_varint(self.size)

    @classmethod
    def decode(cls, buf, pos: int = 0, limit: int | None = None) -> tuple["BlockHandle", int]:
        """Decode a handle from ``buf[pos:limit]``; returns ``(handle, position after it)``.

        Bytes after the handle are not examined: TensorFlow deliberately allows
        an index value to carry more after its handle (``table.cc``).
        """
        if limit is None:
            limit = len(buf)
        try:
            offset, pos = decode_varint64(buf, pos, limit)
            size, pos = decode_varint64(buf, pos, limit)
        except ValueError as err:
            raise DataLossError(f"bad block handle: {err}") from None
        return cls(offset, size), pos

    @property
    def end(self) -> int:
        """Offset just past the block's trailer."""
        return self.offset + self.size + BLOCK_TRAILER_SIZE


class Footer(NamedTuple):
    """The last 48 bytes of a table: where the metaindex and index blocks are."""

    metaindex_handle: BlockHandle
    index_handle: BlockHandle

    def encode(self) -> bytes:
        handles = self.metaindex_handle.encode() + self.index_handle.encode()
        return handles + bytes(2 * MAX_HANDLE_LENGTH - len(handles)) + MAGIC_BYTES

    @classmethod
    def decode(cls, buf) -> "Footer":
        """Decode exactly ``FOOTER_SIZE`` bytes; the magic number is checked first."""
        if len(buf) != FOOTER_SIZE:
            raise DataLossError(f"footer must be {FOOTER_SIZE} bytes, got {len(buf)}")
        if bytes(buf[FOOTER_SIZE - 8 :]) != MAGIC_BYTES:
            raise DataLossError("not an SSTable (bad magic number)")
        # Both handles must fit in the 40 bytes before the magic number.
        metaindex, pos = BlockHandle.decode(buf, 0, 2 * MAX_HANDLE_LENGTH)
        index, _ = BlockHandle.decode(buf, pos, 2 * MAX_HANDLE_LENGTH)
        return cls(metaindex, index)


def block_crc(stored_contents, block_type: int) -> int:
    """Masked CRC32C over the stored contents followed by the type byte."""
    return mask(extend(crc32c(stored_contents), bytes((block_type,))))


def block_trailer(stored_contents, block_type: int) -> bytes:
    """The 5 bytes written after a block: ``type: uint8, crc: fixed32``."""
    return bytes((block_type,)) + encode_fixed32(block_crc(stored_contents, block_type))


def split_stored_block(stored_with_trailer) -> tuple[bytes, int]:
    """Check a block's trailer; return ``(stored contents, type)``.

    ``stored_with_trailer`` is exactly ``handle.size + 5`` bytes.  The CRC is
    always verified (TensorFlow's ``ReadBlock`` hard-codes ``verify_checksum``).
    The type is returned unchecked: an unknown type whose CRC matches is for
    :func:`uncompress_block` to reject.
    """
    n = len(stored_with_trailer) - BLOCK_TRAILER_SIZE
    if n < 0:
        raise DataLossError("truncated block read")
    view = memoryview(stored_with_trailer)
    (stored_crc,) = FIXED32.unpack_from(view, n + 1)
    actual = crc32c(view[: n + 1])
    if actual != unmask(stored_crc):
        raise DataLossError(
            f"block checksum mismatch: stored {stored_crc:#010x} (masked), "
            f"computed {mask(actual):#010x}"
        )
    return bytes(view[:n]), view[n]


def snappy_max_expansion(payload_size: int) -> int:
    """The most bytes ``payload_size`` bytes of snappy elements can decode to."""
    return payload_size * 64 // 3


def uncompress_block(stored, block_type: int) -> bytes:
    """The block contents for a stored block of ``block_type`` (0 raw, 1 snappy)."""
    if block_type == NO_COMPRESSION:
        return bytes(stored)
    if block_type != SNAPPY_COMPRESSION:
        raise DataLossError(f"bad block type {block_type} (0 = raw and 1 = snappy are defined)")
    try:
        claimed, header_end = decode_varint32(stored, 0, len(stored))
    except ValueError as err:
        raise DataLossError(f"corrupted compressed block contents: bad length header ({err})") from None
    limit = snappy_max_expansion(len(stored) - header_end)
    if claimed > limit:
        raise DataLossError(
            f"corrupted compressed block contents: claims {claimed} uncompressed bytes, "
            f"but {len(stored)} snappy bytes can hold at most {limit}"
        )
    try:
        import cramjam  # only snappy blocks need it; most indexes are uncompressed

        raw = bytes(cramjam.snappy.decompress_raw(bytes(stored)))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as err:  # cramjam.DecompressionError, or a Rust panic (a BaseException)
        raise DataLossError(f"corrupted compressed block contents: {err}") from None
    if len(raw) != claimed:
        raise DataLossError(
            f"corrupted compressed block contents: header claims {claimed} bytes, got {len(raw)}"
        )
    return raw
