"""Assembling a tensor (or a window of it) from stored slices (spec: ``spec/partitioned.md``).

Shared by the V2 reader (partitioned variables) and the V1 reader (where every
tensor is stored as slices).  Two steps, so that nothing is allocated before
the whole read is known to be satisfiable:

1. :func:`plan` checks the stored slices against each other -- no two may
   overlap (TensorFlow's ``TensorSliceSet::Register``) -- and finds those that
   intersect the requested window; their intersections must add up to the
   whole window (``TensorSliceSet::QueryMeta``);
2. :func:`assemble` allocates the window once and copies each piece in.
"""

from __future__ import annotations

from typing import Callable, Sequence

from .._lazy import numpy as np  # imported on first use: listing needs no numpy

from .. import errors
from .slices import TensorSlice

__all__ = ["plan", "assemble", "requested_slice", "MAX_PARTITIONS"]

#: Most stored slices of one tensor we check pairwise for overlap.
MAX_PARTITIONS = 4096

Bounds = tuple[tuple[int, int], ...]


def _volume(bounds: Bounds) -> int:
    count = 1
    for lo, hi in bounds:
        count *= hi - lo
    return count


def plan(
    stored: Sequence[TensorSlice], shape: Sequence[int], target: TensorSlice, where: dict
) -> list[tuple[TensorSlice, Bounds]]:
    """The stored slices needed for ``target``, each with its intersection bounds."""
    if len(stored) > MAX_PARTITIONS:
        raise errors.ResourceExhaustedError(f"{len(stored)} partitions exceed the limit of {MAX_PARTITIONS}", **where)
    for i in range(len(stored)):
        for j in range(i):
            if stored[i].intersect(stored[j], shape) is not None:
                raise errors.DataLossError(f"stored slices {stored[j]} and {stored[i]} overlap", **where)
    wanted = _volume(target.bounds(shape))
    pieces = []
    covered = 0
    for tensor_slice in stored:
        overlap = tensor_slice.intersect(target, shape)
        if overlap is None:
            continue
        covered += _volume(overlap)
        pieces.append((tensor_slice, overlap))
    if covered != wanted:
        raise errors.DataLossError(
            f"the stored slices cover {covered} of the {wanted} elements of slice {target}", **where
        )
    return pieces


def assemble(
    shape: Sequence[int],
    target: TensorSlice,
    numpy_dtype,
    pieces: Sequence[tuple[TensorSlice, Bounds]],
    fetch: Callable[[TensorSlice], np.ndarray],
) -> np.ndarray:
    """Allocate the ``target`` window and fill it with ``fetch(stored_slice)`` for every piece."""
    bounds = target.bounds(shape)
    result = np.empty(tuple(hi - lo for lo, hi in bounds), dtype=numpy_dtype)
    for tensor_slice, overlap in pieces:
        value = fetch(tensor_slice)
        origin = tensor_slice.bounds(shape)
        src = tuple(slice(lo - s0, hi - s0) for (lo, hi), (s0, _) in zip(overlap, origin))
        dst = tuple(slice(lo - t0, hi - t0) for (lo, hi), (t0, _) in zip(overlap, bounds))
        result[dst] = value[src]
    return result


def requested_slice(spec, shape: Sequence[int], where: dict) -> TensorSlice:
    """A caller's slice (text such as ``"0,10:-"`` or a TensorSlice), checked against ``shape``."""
    if isinstance(spec, str):
        try:
            spec = TensorSlice.parse(spec)
        except ValueError as exc:
            raise errors.InvalidArgumentError(f"bad slice {spec!r}: {exc}", **where) from None
    if not spec.fits(shape):
        raise errors.InvalidArgumentError(f"slice {spec} does not fit the tensor's shape {list(shape)}", **where)
    return spec
