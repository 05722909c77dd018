"""Hypothesis strategies and a test-only table forge for the SSTable layer.

The forge (:func:`forge_block`, :func:`forge_table`, :func:`trailer`) is a
second, deliberately naive implementation of the table layout, written from the
layout alone and sharing no code with ``tfckpt.table``.  It checks nothing: it
will happily write unsorted keys, duplicate keys, wrong restart arrays or
unknown block types, each with a correct CRC, so tests can hand the reader
well-checksummed nonsense and see that the reader itself notices.

Layout reminder (see ``reference/tfckpt/table/format.py`` for the quoted source)::

    block   = entry* restart_offset:fixed32* restart_count:fixed32
    entry   = shared:varint32 non_shared:varint32 value_len:varint32 key_delta value
    stored  = block type:uint8 masked_crc32c(block || type):fixed32
    footer  = varint64 x 4 (metaindex off/size, index off/size), zero-padded to 40 bytes,
              57 fb 80 8b 24 75 47 db
"""

from __future__ import annotations

import struct
from typing import Optional, Sequence

import crc32c as _crc32c
from hypothesis import strategies as st

__all__ = [
    "MAGIC",
    "EMPTY_BLOCK",
    "varint",
    "masked_crc",
    "trailer",
    "forge_entry",
    "forge_block",
    "forge_table",
    "keys_strategy",
    "sorted_items",
    "writer_options",
]

MAGIC = bytes.fromhex("57fb808b247547db")
EMPTY_BLOCK = bytes.fromhex("0000000001000000")  # no entries, one restart at 0, count 1


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def masked_crc(data: bytes) -> int:
    crc = _crc32c.crc32c(data)
    rotated = ((crc >> 15) | (crc << 17)) & 0xFFFFFFFF
    return (rotated + 0xA282EAD8) & 0xFFFFFFFF


def trailer(stored: bytes, block_type: int = 0) -> bytes:
    return bytes([block_type]) + struct.pack("<I", masked_crc(stored + bytes([block_type])))


def forge_entry(shared: int, key_delta: bytes, value: bytes) -> bytes:
    return varint(shared) + varint(len(key_delta)) + varint(len(value)) + key_delta + value


def forge_block(
    items: Sequence[tuple[bytes, bytes]],
    restart_interval: int = 16,
    *,
    restarts: Optional[Sequence[int]] = None,
    count: Optional[int] = None,
) -> bytes:
    """Prefix-compress ``items`` in the order given (no ordering check).

    ``restarts`` / ``count`` override the restart array and its count.
    """
    body = bytearray()
    natural_restarts = []
    previous = b""
    for i, (key, value) in enumerate(items):
        if i % restart_interval == 0:
            natural_restarts.append(len(body))
            shared = 0
        else:
            shared = 0
            while shared < min(len(previous), len(key)) and previous[shared] == key[shared]:
                shared += 1
        body += forge_entry(shared, key[shared:], value)
        previous = key
    if not natural_restarts:
        natural_restarts = [0]
    if restarts is None:
        restarts = natural_restarts
    if count is None:
        count = len(restarts)
    return bytes(body) + b"".join(struct.pack("<I", r) for r in restarts) + struct.pack("<I", count)


def forge_table(
    data_blocks: Sequence[bytes],
    index_keys: Sequence[bytes],
    *,
    types: Optional[Sequence[int]] = None,
    metaindex: bytes = EMPTY_BLOCK,
    index_block: Optional[bytes] = None,
) -> bytes:
    """Lay out already-built data blocks, an index (restart interval 1) and a footer."""
    out = bytearray()
    handles = []
    for i, block in enumerate(data_blocks):
        block_type = 0 if types is None else types[i]
        handles.append((len(out), len(block)))
        out += block + trailer(block, block_type)
    meta_handle = (len(out), len(metaindex))
    out += metaindex + trailer(metaindex)
    if index_block is None:
        index_items = [(k, varint(off) + varint(size)) for k, (off, size) in zip(index_keys, handles)]
        index_block = forge_block(index_items, restart_interval=1)
    index_handle = (len(out), len(index_block))
    out += index_block + trailer(index_block)
    handles_bytes = b"".join(varint(n) for n in (*meta_handle, *index_handle))
    out += handles_bytes + bytes(40 - len(handles_bytes)) + MAGIC
    return bytes(out)


# -- strategies -----------------------------------------------------------

#: Binary keys over a small alphabet rich in the interesting bytes (0x00, 0xff, 0x7f/0x80)
#: so that shared prefixes, separator edge cases and varint boundaries all occur.
_KEY_BYTES = st.sampled_from([0x00, 0x01, 0x61, 0x62, 0x7F, 0x80, 0xFE, 0xFF])
keys_strategy = st.one_of(
    st.lists(_KEY_BYTES, max_size=12).map(bytes),
    st.binary(max_size=40),
    st.binary(min_size=120, max_size=200),  # key lengths past a one-byte varint
)


@st.composite
def sorted_items(draw, max_size: int = 120) -> list[tuple[bytes, bytes]]:
    """A strictly increasing list of ``(key, value)`` pairs; values may be empty or long."""
    keys = sorted(set(draw(st.lists(keys_strategy, max_size=max_size))))
    values = st.one_of(
        st.just(b""),
        st.binary(max_size=20),
        st.binary(min_size=128, max_size=300).map(lambda b: b * 3),  # compressible
    )
    return [(k, draw(values)) for k in keys]


writer_options = st.fixed_dictionaries(
    {
        "block_size": st.one_of(st.integers(1, 64), st.integers(64, 2048), st.just(262144)),
        "restart_interval": st.one_of(st.integers(1, 4), st.just(16)),
        "compression": st.sampled_from(["none", "snappy"]),
    }
)
