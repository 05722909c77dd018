"""Building and parsing one SSTable block (spec: ``spec/table.md``).

Strategy
--------
A block is a run of prefix-compressed entries followed by a restart array.
:class:`BlockBuilder` produces it byte for byte as TensorFlow's
``BlockBuilder`` does (``third_party/xla/third_party/tsl/tsl/lib/io/block_builder.cc``);
:class:`Block` reads it (``.../tsl/lib/io/block.cc``) without decoding more than
it must: a lookup binary-searches the restart points (whose entries carry
their whole key) and then walks at most one restart interval, so finding a key
costs ``O(log restarts + interval)`` entry decodes, never a pass over the block.

Block layout::

    entry*                      prefix-compressed entries, see below
    restart: fixed32 LE * R     offset of each restart entry within the block
    R:       fixed32 LE         number of restart points (TensorFlow writes R >= 1)

Entry layout::

    shared:     varint32        bytes of the key shared with the previous key
    non_shared: varint32        bytes of the key that follow
    value_len:  varint32
    key_delta:  non_shared bytes    key = previous_key[:shared] + key_delta
    value:      value_len bytes

Every ``restart_interval``-th entry (the first, the 17th, the 33rd ... with the
default 16) is a restart point: it is written with ``shared == 0`` and its
offset is listed in the restart array.  The first restart is at offset 0.  An
empty block is ``00 00 00 00 01 00 00 00`` (one restart at 0, count 1).

Validation.  Every entry decoded is checked: the three varints and the key and
value bytes must lie before the restart array, ``shared`` may not exceed the
previous key's length (and is 0 at a restart point), and keys must strictly
increase.  When the whole block is walked, each restart offset must fall on an
entry boundary.  The restart array itself is checked on construction: its
count must fit in the block (``count <= (size - 4) / 4``), the first restart
must be 0 and the offsets must strictly increase inside the entry area.
TensorFlow checks only the count, the varint bounds and ``shared`` (it finds
unsorted keys by failing to find them); the stricter checks never reject a
block TensorFlow writes.  A block with a count of 0 is empty if it holds
nothing else (TensorFlow reads it as empty); with entry bytes it is rejected.

Failures raise :class:`tfckpt.errors.DataLossError` whose ``offset`` is the
file offset of the faulty bytes when the block is stored raw, or of the block
itself when it was decompressed; the reader adds the file name.
"""

from __future__ import annotations

import struct
from typing import Iterator, Optional

from ..encoding import FIXED32, decode_varint32, encode_fixed32, encode_varint
from ..accel import speedups
from ..errors import DataLossError, InvalidArgumentError

__all__ = ["BlockBuilder", "Block"]

_U32_MAX = 0xFFFFFFFF


def _shared_prefix(a: bytes, b: bytes) -> int:
    """Length of the longest common prefix of ``a`` and ``b``.

    XOR of the two prefixes read as big-endian integers: its highest set bit
    falls in the first byte that differs (done in C, not byte by byte).
    """
    limit = min(len(a), len(b))
    diff = int.from_bytes(a[:limit], "big") ^ int.from_bytes(b[:limit], "big")
    return limit - (diff.bit_length() + 7) // 8


class BlockBuilder:
    """Accumulates sorted entries into one block, as TensorFlow's ``BlockBuilder``.

    The caller (the table writer) guarantees that keys strictly increase; the
    builder does not check again.
    """

    __slots__ = ("restart_interval", "_buffer", "_restarts", "_counter", "_last_key", "_finished")

    def __init__(self, restart_interval: int = 16) -> None:
        if not isinstance(restart_interval, int) or restart_interval < 1:
            raise InvalidArgumentError(f"restart_interval must be an integer >= 1, got {restart_interval!r}")
        self.restart_interval = restart_interval
        self.reset()

    def reset(self) -> None:
        self._buffer = bytearray()
        self._restarts = [0]  # the first restart point is at offset 0
        self._counter = 0
        self._last_key = b""
        self._finished = False

    @property
    def empty(self) -> bool:
        return not self._buffer

    def current_size_estimate(self) -> int:
        """``CurrentSizeEstimate``: entries + 4 bytes per restart + 4 for the count."""
        return len(self._buffer) + 4 * len(self._restarts) + 4

    def add(self, key: bytes, value: bytes) -> None:
        assert not self._finished
        buffer = self._buffer
        restart = self._counter >= self.restart_interval
        if restart:
            if len(buffer) > _U32_MAX:
                raise InvalidArgumentError("block grew past 4 GiB; restart offsets are 32-bit")
            self._restarts.append(len(buffer))
            self._counter = 0
        if speedups is not None:  # the same bytes, appended in C (tfckpt/_speedups.c)
            speedups.block_append(buffer, b"" if restart else self._last_key, key, value)
            self._last_key = key
            self._counter += 1
            return
        shared = 0 if restart else _shared_prefix(self._last_key, key)
        buffer += encode_varint(shared)
        buffer += encode_varint(len(key) - shared)
        buffer += encode_varint(len(value))
        buffer += key[shared:]
        buffer += value
        self._last_key = key
        self._counter += 1

    def finish(self) -> bytes:
        """Append the restart array and its count; returns the block contents."""
        if len(self._restarts) > _U32_MAX:
            raise InvalidArgumentError("too many restart points for a 32-bit count")
        self._buffer += struct.pack(f"<{len(self._restarts)}I", *self._restarts)
        self._buffer += encode_fixed32(len(self._restarts))
        self._finished = True
        return bytes(self._buffer)


class Block:
    """A parsed block: lookups by binary search over restart points, validated iteration.

    ``contents`` are the block's uncompressed bytes.  ``label`` names the block in
    error messages (``"data block 3"``); ``file_offset`` is where the block is
    stored; ``stored_raw`` says whether positions inside ``contents`` are file
    positions too (False for a decompressed block).
    """

    __slots__ = ("_data", "_entries_end", "_restarts", "label", "file_offset", "stored_raw", "_gets", "_lookup")

    def __init__(
        self,
        contents: bytes,
        *,
        label: str = "block",
        file_offset: Optional[int] = None,
        stored_raw: bool = True,
    ) -> None:
        self._data = contents
        self.label = label
        self.file_offset = file_offset
        self.stored_raw = stored_raw
        size = len(contents)
        if size < 4:
            raise self._error(f"block of {size} bytes is too short to hold a restart count", 0)
        (count,) = FIXED32.unpack_from(contents, size - 4)
        if count > (size - 4) // 4:
            raise self._error(
                f"restart count {count} does not fit in a block of {size} bytes "
                f"(at most {(size - 4) // 4})",
                size - 4,
            )
        entries_end = size - 4 - 4 * count
        restarts = struct.unpack_from(f"<{count}I", contents, entries_end)
        self._entries_end = entries_end
        self._restarts = restarts
        self._gets = 0
        self._lookup: Optional[dict] = None
        if count == 0:
            if entries_end != 0:
                raise self._error(f"block has {entries_end} bytes of entries but no restart points", size - 4)
            return
        if restarts[0] != 0:
            raise self._error(f"first restart point is at {restarts[0]}, not 0", entries_end)
        previous = 0
        for i in range(1, count):
            here = restarts[i]
            if here <= previous or here >= entries_end:
                raise self._error(
                    f"restart point {i} at {here} is out of order or past the entries (which end at {entries_end})",
                    entries_end + 4 * i,
                )
            previous = here

    # -- introspection ---------------------------------------------------

    @property
    def size(self) -> int:
        return len(self._data)

    @property
    def num_restarts(self) -> int:
        return len(self._restarts)

    @property
    def is_empty(self) -> bool:
        return self._entries_end == 0

    # -- errors ----------------------------------------------------------

    def _error(self, message: str, pos: int, key: Optional[bytes] = None) -> DataLossError:
        if self.stored_raw:
            offset = None if self.file_offset is None else self.file_offset + pos
            where = f"{self.label}"
        else:
            offset = self.file_offset
            where = f"{self.label}, byte {pos} after decompression"
        return DataLossError(f"bad entry in {where}: {message}", offset=offset, key=key)

    # -- decoding --------------------------------------------------------

    def _entry_header(self, pos: int) -> tuple[int, int, int, int]:
        """Decode ``shared, non_shared, value_len`` at ``pos``; returns them and the key-delta offset."""
        data = self._data
        limit = self._entries_end
        if limit - pos >= 3:
            shared, non_shared, value_len = data[pos], data[pos + 1], data[pos + 2]
            if (shared | non_shared | value_len) < 128:
                delta = pos + 3
                if non_shared + value_len > limit - delta:
                    raise self._error(
                        f"entry needs {non_shared + value_len} bytes but {limit - delta} remain", pos
                    )
                return shared, non_shared, value_len, delta
        try:
            shared, p = decode_varint32(data, pos, limit)
            non_shared, p = decode_varint32(data, p, limit)
            value_len, p = decode_varint32(data, p, limit)
        except ValueError as err:
            raise self._error(f"entry header: {err}", pos) from None
        if non_shared + value_len > limit - p:
            raise self._error(f"entry needs {non_shared + value_len} bytes but {limit - p} remain", pos)
        return shared, non_shared, value_len, p

    def _restart_key(self, index: int) -> bytes:
        pos = self._restarts[index]
        shared, non_shared, _, delta = self._entry_header(pos)
        if shared != 0:
            raise self._error(f"restart entry {index} shares {shared} bytes with a previous key", pos)
        return self._data[delta : delta + non_shared]

    def iter_from_restart(self, index: int = 0) -> Iterator[tuple[bytes, bytes]]:
        """Entries from restart point ``index`` to the end of the block, validated."""
        data = self._data
        restarts = self._restarts
        count = len(restarts)
        end = self._entries_end
        if end == 0:  # no entries (an empty block has one restart, at offset 0)
            return
        pos = restarts[index]
        next_restart = index  # index of the next restart offset we expect to meet
        key = b""
        first = True
        while pos < end:
            shared, non_shared, value_len, delta = self._entry_header(pos)
            if next_restart < count:
                target = restarts[next_restart]
                if pos == target:
                    if shared != 0:
                        raise self._error(
                            f"restart entry shares {shared} bytes with the previous key", pos, key or None
                        )
                    next_restart += 1
                elif pos > target:
                    raise self._error(
                        f"restart point {next_restart} at {target} falls inside an entry", target, key or None
                    )
            if shared > len(key):
                raise self._error(
                    f"entry shares {shared} bytes with a previous key of {len(key)} bytes", pos, key or None
                )
            new_key = key[:shared] + data[delta : delta + non_shared]
            if not first and new_key <= key:
                what = "duplicate key" if new_key == key else "keys out of order"
                raise self._error(f"{what} (follows {key!r})", pos, new_key)
            first = False
            key = new_key
            value_start = delta + non_shared
            pos = value_start + value_len
            yield key, data[value_start:pos]
        if next_restart < count:
            raise self._error(
                f"restart point {next_restart} at {restarts[next_restart]} falls inside an entry",
                restarts[next_restart],
            )

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        return self.iter_from_restart(0)

    def entries_between(self, lower: Optional[bytes], upper: Optional[bytes]) -> Optional[list]:
        """Every entry, as a list, when the block is valid and its keys lie in (``lower``, ``upper``].

        The C accelerator's walk (``tfckpt/_speedups.c``), which checks what
        :meth:`iter_from_restart` checks and answers None for anything else --
        or always None when the accelerator is off.  On None the caller walks
        the block in Python, which raises the precise error.
        """
        if speedups is None:
            return None
        return speedups.block_entries(self._data, self._entries_end, self._restarts, lower, upper)

    def seek(self, target: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Entries with key >= ``target``, in order, to the end of the block.

        Binary search for the last restart point whose key is < ``target``, then
        walk forward from it (TensorFlow's ``Block::Iter::Seek``).
        """
        count = len(self._restarts)
        if self._entries_end == 0:
            return iter(())
        left, right = 0, count - 1
        while left < right:
            mid = (left + right + 1) // 2
            if self._restart_key(mid) < target:
                left = mid
            else:
                right = mid - 1
        return self._skip_below(self.iter_from_restart(left), target)

    @staticmethod
    def _skip_below(entries: Iterator[tuple[bytes, bytes]], target: bytes) -> Iterator[tuple[bytes, bytes]]:
        for key, value in entries:
            if key >= target:
                yield key, value
                yield from entries
                return

    def as_dict(self) -> dict:
        """Every entry, ``{key: value}``, from one validated walk (kept: later lookups use it)."""
        if self._lookup is None:
            checked = self.entries_between(None, None)
            self._lookup = dict(self.iter_from_restart(0) if checked is None else checked)
        return self._lookup

    def get(self, target: bytes) -> Optional[bytes]:
        """The value stored under exactly ``target`` in this block, or None.

        The first lookup binary-searches the restart points; from the second
        on, the block is walked once (validating every entry, as a scan does)
        into a dictionary, so reading every tensor of a checkpoint costs one
        walk per block instead of one search per key.
        """
        if self._lookup is not None:
            return self._lookup.get(target)
        self._gets += 1
        if self._gets > 1:
            return self.as_dict().get(target)
        for key, value in self.seek(target):
            return value if key == target else None
        return None
