"""Compare two checkpoints tensor by tensor: ``tfckpt.diff(a, b)`` and ``tfckpt diff A B``.

Strategy
--------
"What changed after fine-tuning?"  The keys of both checkpoints are listed from
their indexes; keys only in one side are reported without reading them.  For
each common key, dtype and shape are compared from the index; only when both
agree are the two values read -- one tensor of each side at a time, dropped
before the next -- and compared ``CHUNK`` elements at a time in float64, so memory
stays bounded by the largest tensor of each side plus a few MiB
(``benchmarks/jobs_memory.py`` measures it).

For numeric tensors the report gives ``max |a - b|`` and the relative L2 change
``||a - b|| / ||a||`` (``inf`` when ``a`` is all zeros and ``b`` is not; sums of squares
accumulated chunk by chunk), computed in float64 (complex128 for complex types).  Two tensors are equal when every
element satisfies ``|a - b| <= atol + rtol * |b|`` (numpy's ``isclose``; NaN equals
NaN in the same place); with the default ``atol = rtol = 0`` that is exact
equality.  Strings, and variants, compare element for element.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

__all__ = ["diff", "DiffResult", "TensorDiff"]


@dataclass
class TensorDiff:
    """One common key whose dtype, shape or values differ."""

    key: str
    dtype: tuple  # (name in A, name in B)
    shape: tuple  # (shape in A, shape in B)
    max_abs: Optional[float] = None  # None when not compared numerically
    rel_l2: Optional[float] = None
    reason: str = "values"  # "dtype", "shape" or "values"


@dataclass
class DiffResult:
    """What ``diff`` found; ``equal`` is True when nothing differs."""

    only_in_a: list = field(default_factory=list)
    only_in_b: list = field(default_factory=list)
    changed: list = field(default_factory=list)  # TensorDiff, in key order
    same: int = 0  # common keys whose values are equal within the tolerance

    @property
    def equal(self) -> bool:
        return not (self.only_in_a or self.only_in_b or self.changed)


#: Elements compared at once: the float64 working copies stay at a few MiB whatever the tensor's size.
CHUNK = 1 << 18


def _chunks(a: np.ndarray, b: np.ndarray):
    """(a piece, b piece) in the wide type of the statistics, CHUNK elements at a time."""
    wide = np.complex128 if np.iscomplexobj(a) or np.iscomplexobj(b) else np.float64
    fa, fb = a.reshape(-1), b.reshape(-1)
    for start in range(0, fa.size, CHUNK):
        yield fa[start:start + CHUNK].astype(wide), fb[start:start + CHUNK].astype(wide)


def _statistics(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    max_abs, sum_sq_a, sum_sq_d = 0.0, 0.0, 0.0
    for a64, b64 in _chunks(a, b):
        delta = np.abs(a64 - b64)
        both_nan = np.isnan(a64) & np.isnan(b64)
        delta[both_nan] = 0.0
        if np.isnan(delta).any():
            max_abs = float("nan")
        elif max_abs == max_abs and delta.size:  # not already NaN
            max_abs = max(max_abs, float(delta.max()))
        a64[both_nan] = 0
        magnitude = np.abs(a64)
        sum_sq_a += float(np.dot(magnitude, magnitude))
        sum_sq_d += float(np.dot(delta, delta))
    norm_a, norm_d = sum_sq_a ** 0.5, sum_sq_d ** 0.5
    rel = 0.0 if norm_d == 0 else (norm_d / norm_a if norm_a else float("inf"))
    return max_abs, rel


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two arrays of one dtype hold the same bytes, compared CHUNK x 8 bytes at a time."""
    fa = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
    fb = np.ascontiguousarray(b).reshape(-1).view(np.uint8)
    step = CHUNK * 8
    return all(np.array_equal(fa[i:i + step], fb[i:i + step]) for i in range(0, fa.size, step))


def _values_equal(a: np.ndarray, b: np.ndarray, atol: float, rtol: float) -> bool:
    if a.dtype == object or b.dtype == object:
        return a.shape == b.shape and all(x == y for x, y in zip(a.ravel().tolist(), b.ravel().tolist()))
    if a.dtype == b.dtype and a.shape == b.shape and _same_bits(a, b):
        return True  # the same bits are equal under any tolerance (a NaN included): no float64 pass
    return all(bool(np.all(np.isclose(x, y, atol=atol, rtol=rtol, equal_nan=True))) for x, y in _chunks(a, b))


def diff(
    a,
    b,
    *,
    atol: float = 0.0,
    rtol: float = 0.0,
    on_tensor: Optional[Callable[[str, int], None]] = None,
) -> DiffResult:
    """Compare the checkpoints ``a`` and ``b`` (prefixes, directories, or open readers).

    ``on_tensor(key, nbytes)`` is called after each common key is compared (progress).
    """
    from ..checkpoint_reader import CheckpointReader, load_checkpoint

    owned = []
    readers = []
    for side in (a, b):
        if isinstance(side, CheckpointReader):
            readers.append(side)
        else:
            reader = load_checkpoint(side)
            owned.append(reader)
            readers.append(reader)
    ra, rb = readers
    try:
        shapes_a, shapes_b = ra.get_variable_to_shape_map(), rb.get_variable_to_shape_map()
        dtypes_a, dtypes_b = ra.get_variable_to_dtype_map(), rb.get_variable_to_dtype_map()
        result = DiffResult(
            only_in_a=sorted(set(shapes_a) - set(shapes_b)), only_in_b=sorted(set(shapes_b) - set(shapes_a))
        )
        for key in sorted(set(shapes_a) & set(shapes_b)):
            dt = (dtypes_a[key].name, dtypes_b[key].name)
            shape = (shapes_a[key], shapes_b[key])
            if dt[0] != dt[1]:
                result.changed.append(TensorDiff(key, dt, shape, reason="dtype"))
            elif shape[0] != shape[1]:
                result.changed.append(TensorDiff(key, dt, shape, reason="shape"))
            else:
                va, vb = ra.get_tensor(key), rb.get_tensor(key)
                if not _values_equal(va, vb, atol, rtol):
                    stats = (None, None) if va.dtype == object else _statistics(va, vb)
                    result.changed.append(TensorDiff(key, dt, shape, *stats))
                else:
                    result.same += 1
                nbytes = va.nbytes
                del va, vb
                if on_tensor is not None:
                    on_tensor(key, nbytes)
        return result
    finally:
        for reader in owned:
            reader.close()
