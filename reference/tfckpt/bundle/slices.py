"""Tensor slices: the pieces a partitioned variable is stored in (spec: ``spec/partitioned.md``).

Strategy
--------
A slice gives, for every dimension of the full tensor, either the whole
dimension or a ``(start, length)`` range.  It appears in three forms, all
handled here:

* text, as written in ``SaveV2``'s ``shape_and_slices`` and by partitioned
  variables (``tensorflow/core/framework/tensor_slice.cc``, ``TensorSlice::Parse``)::

      "0,5:-:2,3"        dimension 0 rows 0..4, dimension 1 whole, dimension 2 2..4

  and, with the full shape in front (``checkpoint::ParseShapeAndSlice``)::

      "10 4 3 0,5:-:2,3"

* ``TensorSliceProto`` in an index entry: one ``Extent`` per dimension; a whole
  dimension is an *empty* Extent, a range has ``start`` (omitted when 0) and
  ``length`` (in a oneof, so it is always written);
* the binary *slice key* under which the slice's data is stored
  (``checkpoint::EncodeTensorNameSlice``)::

      write_num_increasing(0) write_string(name) write_num_increasing(rank)
      then per dimension: write_signed_num_increasing(start)
                          write_signed_num_increasing(length)   (-1 for whole)

Validation follows TensorFlow's ``TensorSlice::BuildTensorSlice`` (added for
CVE-2021-41203): ``start >= 0``, ``length >= 1`` (or whole), ``start + length``
within int64 -- plus our own check that the slice lies inside the full shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from . import ordered_code

__all__ = ["TensorSlice", "encode_slice_key", "decode_slice_key", "is_slice_key", "FULL"]

#: The ``length`` that marks a whole dimension (``kFullExtent``).
FULL = -1
_INT64_MAX = (1 << 63) - 1


@dataclass(frozen=True)
class TensorSlice:
    """One slice of a tensor: a tuple of ``(start, length)`` with ``length == -1`` for whole dims."""

    extents: tuple[tuple[int, int], ...]

    # -- construction -----------------------------------------------------

    @classmethod
    def full(cls, rank: int) -> "TensorSlice":
        return cls(tuple((0, FULL) for _ in range(rank)))

    @classmethod
    def parse(cls, text: str) -> "TensorSlice":
        """Parse TensorFlow's slice syntax (``"0,5:-"``); raises ValueError when malformed."""
        if text == "":
            return cls(())
        extents = []
        for part in text.split(":"):
            if part == "-":
                extents.append((0, FULL))
                continue
            pieces = part.split(",")
            if len(pieces) != 2:
                raise ValueError(f"malformed slice extent {part!r} in {text!r}")
            try:
                start, length = int(pieces[0]), int(pieces[1])
            except ValueError as exc:
                raise ValueError(f"malformed slice extent {part!r} in {text!r}") from exc
            extents.append((start, length))
        result = cls(tuple(extents))
        result.check_valid()
        return result

    @classmethod
    def from_proto(cls, proto) -> "TensorSlice":
        """From a ``TensorSliceProto``; raises ValueError for invalid extents."""
        extents = []
        for ext in proto.extent:
            if ext.WhichOneof("has_length_hack") is None or ext.length == FULL:
                # TensorFlow treats a missing length (or -1) as the whole dimension.
                extents.append((0, FULL) if ext.start == 0 else (ext.start, FULL))
            else:
                extents.append((ext.start, ext.length))
        result = cls(tuple(extents))
        result.check_valid()
        return result

    def check_valid(self) -> None:
        for start, length in self.extents:
            if length == FULL:
                if start != 0:
                    raise ValueError(f"whole-dimension extent with start {start}")
                continue
            if start < 0:
                raise ValueError(f"negative slice start {start}")
            if length < 1:
                raise ValueError(f"slice length {length} is not positive")
            if start > _INT64_MAX - length:
                raise ValueError(f"slice start {start} + length {length} overflows int64")

    # -- properties -------------------------------------------------------

    @property
    def rank(self) -> int:
        return len(self.extents)

    def is_full(self) -> bool:
        return all(length == FULL for _, length in self.extents)

    def bounds(self, shape: Sequence[int]) -> tuple[tuple[int, int], ...]:
        """``(start, stop)`` per dimension within ``shape``."""
        return tuple(
            (0, dim) if length == FULL else (start, start + length)
            for (start, length), dim in zip(self.extents, shape)
        )

    def shape_in(self, shape: Sequence[int]) -> tuple[int, ...]:
        return tuple(dim if length == FULL else length for (_, length), dim in zip(self.extents, shape))

    def fits(self, shape: Sequence[int]) -> bool:
        if len(shape) != self.rank:
            return False
        return all(length == FULL or start + length <= dim for (start, length), dim in zip(self.extents, shape))

    def covers_whole(self, shape: Sequence[int]) -> bool:
        """True when the slice selects all of ``shape`` (TensorFlow's ``IsFullSlice``)."""
        return self.fits(shape) and tuple(self.shape_in(shape)) == tuple(shape)

    def intersect(self, other: "TensorSlice", shape: Sequence[int]) -> Optional[tuple[tuple[int, int], ...]]:
        """Bounds of the intersection with ``other`` inside ``shape``, or None if empty."""
        out = []
        for (a0, a1), (b0, b1) in zip(self.bounds(shape), other.bounds(shape)):
            lo, hi = max(a0, b0), min(a1, b1)
            if lo >= hi:
                return None
            out.append((lo, hi))
        return tuple(out)

    # -- rendering --------------------------------------------------------

    def to_string(self) -> str:
        return ":".join("-" if length == FULL else f"{start},{length}" for start, length in self.extents)

    __str__ = to_string

    def fill_proto(self, proto) -> None:
        """Append this slice's extents to an empty ``TensorSliceProto`` as TensorFlow writes them."""
        for start, length in self.extents:
            ext = proto.extent.add()
            if length != FULL:
                ext.start = start
                ext.length = length


def encode_slice_key(name: bytes, tensor_slice: TensorSlice) -> bytes:
    """``EncodeTensorNameSlice``: the binary key of one slice of tensor ``name``."""
    parts = [
        ordered_code.write_num_increasing(0),
        ordered_code.write_string(name),
        ordered_code.write_num_increasing(tensor_slice.rank),
    ]
    for start, length in tensor_slice.extents:
        parts.append(ordered_code.write_signed_num_increasing(start))
        parts.append(ordered_code.write_signed_num_increasing(length))
    return b"".join(parts)


def is_slice_key(key: bytes) -> bool:
    """Slice keys start with the encoding of 0, a zero byte; TensorFlow never stores a plain key so."""
    return key[:1] == b"\x00"


def decode_slice_key(key: bytes) -> tuple[bytes, TensorSlice]:
    """Inverse of :func:`encode_slice_key`; raises ValueError when ``key`` is not one."""
    lead, pos = ordered_code.read_num_increasing(key, 0)
    if lead != 0:
        raise ValueError("slice key does not start with 0")
    name, pos = ordered_code.read_string(key, pos)
    rank, pos = ordered_code.read_num_increasing(key, pos)
    if rank < 1 or rank > 254:
        raise ValueError(f"slice key rank {rank} out of range")
    extents = []
    for _ in range(rank):
        start, pos = ordered_code.read_signed_num_increasing(key, pos)
        length, pos = ordered_code.read_signed_num_increasing(key, pos)
        extents.append((start, FULL if length < 0 else length))
    if pos != len(key):
        raise ValueError("trailing bytes after slice key")
    result = TensorSlice(tuple(extents))
    result.check_valid()
    return name, result
