"""Public hypothesis strategies for checkpoint descriptions (reusable by any project's tests).

Strategy
--------
Each strategy builds values of :mod:`tfckpt_conformance.description` types
directly as *bit patterns*, so the generated data reaches every corner a
float-typed generator would miss: NaN payloads (quiet and signalling), ``-0.0``,
infinities, subnormals, and every byte of the 8-bit float types.  Elements are
drawn half from a table of interesting patterns per dtype and half uniformly
from the whole bit space, restricted to the valid encodings where a dtype has
fewer than 8 bits (``bool`` is 0 or 1, ``int4`` one nibble, ``int2`` two bits).

Shapes include scalars (rank 0) and zero-size dimensions; keys include
Unicode, ``/`` separated paths, and long names; strings include empty, long
(past the one- and two-byte varint lengths) and arbitrary binary values.

    from hypothesis import given
    from tfckpt_conformance import strategies as cs

    @given(cs.descriptions())
    def test_round_trip(desc): ...

All strategies are pure functions of their arguments; nothing here imports
the reference implementation.
"""

from __future__ import annotations

import functools
import math
import struct
from typing import Optional, Sequence

import numpy as np
from hypothesis import strategies as st

from .adapter import CheckpointState
from .description import DTYPES, STRING, Description, TensorDescription, bits_dtype

__all__ = [
    "ALL_DTYPE_NAMES",
    "dtype_names",
    "shapes",
    "tensor_keys",
    "element_bits",
    "string_values",
    "tensors",
    "partitioned_tensors",
    "descriptions",
    "checkpoint_states",
]

#: Every dtype a description can hold, ``string`` last.
ALL_DTYPE_NAMES: tuple[str, ...] = tuple(DTYPES) + (STRING,)

#: Valid encodings of the sub-byte dtypes, stored one element per byte.
_SMALL_DOMAINS = {"bool": 2, "int4": 16, "uint4": 16, "float4_e2m1fn": 16, "int2": 4, "uint2": 4}


def _f32(x: float) -> bytes:
    return struct.pack("<f", x)


def _f64(x: float) -> bytes:
    return struct.pack("<d", x)


_F32_SPECIAL = [
    _f32(0.0), _f32(-0.0), _f32(1.0), _f32(-1.5), _f32(math.inf), _f32(-math.inf),
    bytes.fromhex("0000c07f"),  # quiet NaN
    bytes.fromhex("0100c07f"),  # quiet NaN with a payload
    bytes.fromhex("0100807f"),  # signalling NaN
    bytes.fromhex("ffffffff"),  # negative NaN, all payload bits set
    bytes.fromhex("01000000"),  # smallest subnormal
    bytes.fromhex("ffff7f7f"),  # largest finite
]
_F64_SPECIAL = [
    _f64(0.0), _f64(-0.0), _f64(1.0), _f64(math.inf), _f64(-math.inf),
    bytes.fromhex("000000000000f87f"), bytes.fromhex("010000000000f87f"),
    bytes.fromhex("010000000000f07f"), bytes.fromhex("ffffffffffffffff"), bytes.fromhex("0100000000000000"),
]
_H16_SPECIAL = [bytes.fromhex(h) for h in ("0000", "0080", "003c", "007c", "00fc", "017e", "017c", "ffff", "0100", "ff7b")]
_BF16_SPECIAL = [bytes.fromhex(h) for h in ("0000", "0080", "803f", "807f", "80ff", "c17f", "817f", "ffff", "0100", "7f7f")]
_BYTE_SPECIAL = [bytes([b]) for b in (0x00, 0x80, 0x7F, 0xFF, 0x01, 0x7E, 0xFE, 0x08, 0x78)]


def _int_special(width: int, signed: bool) -> list[bytes]:
    bits = 8 * width
    values = [0, 1, (1 << (bits - 1)) - 1] + ([-1, -(1 << (bits - 1))] if signed else [(1 << bits) - 1, 1 << (bits - 1)])
    return [v.to_bytes(width, "little", signed=signed) for v in values]


def _specials(dtype: str) -> list[bytes]:
    if dtype in ("float32",):
        return _F32_SPECIAL
    if dtype in ("float64",):
        return _F64_SPECIAL
    if dtype == "complex64":
        return [a + b for a, b in zip(_F32_SPECIAL, reversed(_F32_SPECIAL))]
    if dtype == "complex128":
        return [a + b for a, b in zip(_F64_SPECIAL, reversed(_F64_SPECIAL))]
    if dtype == "float16":
        return _H16_SPECIAL
    if dtype == "bfloat16":
        return _BF16_SPECIAL
    if dtype.startswith("float8"):
        return _BYTE_SPECIAL
    width = bits_dtype(dtype).itemsize
    return _int_special(width, bits_dtype(dtype).kind == "i")


def dtype_names(*, include_string: bool = True) -> st.SearchStrategy[str]:
    """A TensorFlow dtype name a checkpoint can store."""
    names = ALL_DTYPE_NAMES if include_string else tuple(DTYPES)
    return st.sampled_from(names)


@functools.lru_cache(maxsize=None)
def shapes(*, max_rank: int = 3, max_side: int = 4, allow_zero: bool = True, min_rank: int = 0) -> st.SearchStrategy[tuple[int, ...]]:
    """Tensor shapes: scalars, vectors, small matrices; zero-size dimensions when ``allow_zero``."""
    side = st.integers(0 if allow_zero else 1, max_side)
    return st.lists(side, min_size=min_rank, max_size=max_rank).map(tuple)


_KEY_CHARS = st.characters(blacklist_categories=("Cs",))  # any code point UTF-8 can encode
_SEGMENT = st.text(_KEY_CHARS, min_size=1, max_size=12)


@functools.lru_cache(maxsize=None)
def tensor_keys() -> st.SearchStrategy[str]:
    """Non-empty tensor keys: plain names, ``/`` paths, Unicode, control characters, long names."""
    return st.one_of(
        st.text("abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=11),
        st.lists(_SEGMENT, min_size=2, max_size=4).map("/".join),
        st.text(_KEY_CHARS, min_size=1, max_size=20),
        st.builds(lambda s, n: (s * n)[:400], _SEGMENT, st.integers(20, 60)),
        st.sampled_from(["/", "a//b", "x/.ATTRIBUTES/VARIABLE_VALUE", "\u00e9t\u00e9/\u4e2d\u6587", "emoji/\U0001f600"]),
    )


@functools.lru_cache(maxsize=None)
def _element(dtype: str) -> st.SearchStrategy[bytes]:
    if dtype in _SMALL_DOMAINS:
        return st.integers(0, _SMALL_DOMAINS[dtype] - 1).map(lambda v: bytes([v]))
    width = bits_dtype(dtype).itemsize
    return st.one_of(st.sampled_from(_specials(dtype)), st.binary(min_size=width, max_size=width))


def element_bits(dtype: str, count: int) -> st.SearchStrategy[np.ndarray]:
    """``count`` elements of ``dtype`` as a flat bit-pattern array (``description.bits_dtype``)."""
    want = bits_dtype(dtype)
    return st.lists(_element(dtype), min_size=count, max_size=count).map(
        lambda items: np.frombuffer(b"".join(items), dtype=want).copy()
    )


@functools.lru_cache(maxsize=None)
def string_values() -> st.SearchStrategy[bytes]:
    """One string element: empty, short, binary, or long enough for 2- and 3-byte varint lengths."""
    return st.one_of(
        st.just(b""),
        st.binary(max_size=16),
        st.text(max_size=8).map(lambda s: s.encode("utf-8")),
        st.binary(min_size=120, max_size=200),
        st.builds(lambda b, n: (b or b"\x00") * n, st.binary(min_size=1, max_size=4), st.sampled_from([4097, 16384])),
    )


@st.composite
def tensors(draw, dtype: Optional[str] = None, key: Optional[str] = None, *, max_rank: int = 3, max_side: int = 4) -> TensorDescription:
    """One tensor of ``dtype`` (any dtype when None) under ``key`` (any key when None)."""
    dtype = draw(dtype_names()) if dtype is None else dtype
    key = draw(tensor_keys()) if key is None else key
    shape = draw(shapes(max_rank=max_rank, max_side=max_side))
    count = math.prod(shape)
    if dtype == STRING:
        # Long strings are costly; allow few of them per tensor.
        values = draw(st.lists(string_values(), min_size=count, max_size=count))
        return TensorDescription(key, STRING, shape, strings=values)
    flat = draw(element_bits(dtype, count))
    return TensorDescription(key, dtype, shape, data=flat.reshape(shape))


@st.composite
def partitioned_tensors(draw, dtype: Optional[str] = None, key: Optional[str] = None) -> TensorDescription:
    """A tensor stored as a partitioned variable: split along one axis into 2..4 slices."""
    dtype = draw(dtype_names()) if dtype is None else dtype
    key = draw(tensor_keys()) if key is None else key
    rank = draw(st.integers(1, 3))
    shape = list(draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank)))
    axis = draw(st.integers(0, rank - 1))
    shape[axis] = draw(st.integers(2, 6))
    cuts = sorted(draw(st.sets(st.integers(1, shape[axis] - 1), min_size=1, max_size=min(3, shape[axis] - 1))))
    bounds = [0, *cuts, shape[axis]]
    partitions = []
    for start, stop in zip(bounds, bounds[1:]):
        dims = ["-"] * rank
        dims[axis] = f"{start},{stop - start}"
        partitions.append(":".join(dims))
    if draw(st.booleans()):
        partitions.reverse()  # slices need not be stored in order
    count = math.prod(shape)
    if dtype == STRING:
        values = draw(st.lists(st.binary(max_size=12), min_size=count, max_size=count))
        return TensorDescription(key, STRING, tuple(shape), strings=values, partitions=partitions)
    flat = draw(element_bits(dtype, count))
    return TensorDescription(key, dtype, tuple(shape), data=flat.reshape(shape), partitions=partitions)


def descriptions(
    *,
    dtypes: Optional[Sequence[str]] = None,
    min_tensors: int = 1,
    max_tensors: int = 4,
    partitioned: bool = False,
) -> st.SearchStrategy[Description]:
    """Whole checkpoints: ``min_tensors``..``max_tensors`` tensors with distinct keys.

    ``dtypes`` restricts the dtypes drawn; ``partitioned`` adds one tensor stored
    as a partitioned variable at a random position.
    """
    return _descriptions(tuple(dtypes) if dtypes else None, min_tensors, max_tensors, partitioned)


@functools.lru_cache(maxsize=None)
def _descriptions(dtypes, min_tensors, max_tensors, partitioned) -> st.SearchStrategy[Description]:
    dtype = st.sampled_from(list(dtypes)) if dtypes else dtype_names()
    one = dtype.flatmap(_tensors_of)
    plain = st.lists(one, min_size=min_tensors, max_size=max_tensors, unique_by=lambda t: t.key)
    if not partitioned:
        return plain.map(Description)
    part = dtype.flatmap(_partitioned_of)

    @st.composite
    def with_partition(draw):
        rest = draw(plain)
        taken = {t.key for t in rest}
        one_part = draw(part.filter(lambda p: p.key not in taken))
        position = draw(st.integers(0, len(rest)))
        return Description(rest[:position] + [one_part] + rest[position:])

    return with_partition()


@functools.lru_cache(maxsize=None)
def _tensors_of(dtype: str) -> st.SearchStrategy[TensorDescription]:
    return tensors(dtype)


@functools.lru_cache(maxsize=None)
def _partitioned_of(dtype: str) -> st.SearchStrategy[TensorDescription]:
    return partitioned_tensors(dtype)


_PATH_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=24)


@st.composite
def checkpoint_states(draw) -> CheckpointState:
    """``checkpoint`` state-file contents as TensorFlow writes them: the newest path last in the list.

    Paths are arbitrary text (quotes, backslashes, newlines, non-ASCII); timestamps
    are absent or one per path, as ``update_checkpoint_state`` requires.
    """
    paths = draw(st.lists(_PATH_TEXT, min_size=1, max_size=4))
    finite = st.floats(min_value=0, max_value=4e9, allow_nan=False, allow_infinity=False)
    timestamps = draw(st.one_of(st.just([]), st.lists(finite, min_size=len(paths), max_size=len(paths))))
    last = draw(st.one_of(st.just(0.0), finite))
    return CheckpointState(
        model_checkpoint_path=paths[-1],
        all_model_checkpoint_paths=paths,
        all_model_checkpoint_timestamps=timestamps,
        last_preserved_timestamp=last,
    )
