"""Checkpoint descriptions: load, save, build from arrays, and compare bit-exactly.

Strategy
--------
A *description* (``spec/description-format.md``) says what a checkpoint holds:
an ordered list of tensors, each with a key, a TensorFlow dtype name, a shape,
and its data -- element bit patterns for numeric types, raw byte strings for
``string``.  The conformance suite hands descriptions to writers, gets them back
from readers, and compares them *itself*; an adapter never decides whether its
own answer is right.

On disk a description is a directory::

    description.json    {"format": "tfckpt-description/1", "tensors": [...]}
    arrays.npz          bit-pattern arrays named by each tensor's "array" field
    raw/<name>.bin      (protocol convenience, spec/conformance.md) the same data
                        as raw little-endian element bytes, named by "raw"

A reader answering through the out-of-process protocol may give either
``array`` (an ``arrays.npz`` member) or ``raw`` (a file of element bytes) for
each tensor, so an implementation in any language can answer without writing
NumPy's format.  Descriptions the suite writes for writers carry both.

Comparison is bitwise: the arrays are compared as unsigned integers of the
element width, so NaN payloads and ``-0.0`` count, and every difference is
reported with the key, the field, and for data the index of the first
differing element with both bit patterns.

This module has its own dtype table on purpose: the suite must not take the
reference implementation's word for what a dtype's width is.
"""

from __future__ import annotations

import base64
import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional, Sequence

import numpy as np

__all__ = [
    "FORMAT",
    "DTYPES",
    "STRING",
    "TensorDescription",
    "Description",
    "bits_dtype",
    "is_known_dtype",
    "load",
    "save",
    "from_json",
    "to_json",
    "tensor_from_array",
    "compare",
    "compare_tensor",
    "assert_same",
    "DescriptionError",
    "c_order",
]

FORMAT = "tfckpt-description/1"
STRING = "string"

#: TensorFlow dtype name -> NumPy dtype of its bit-pattern array (spec/description-format.md).
DTYPES: dict[str, np.dtype] = {
    "float32": np.dtype("<f4"),
    "float64": np.dtype("<f8"),
    "int32": np.dtype("<i4"),
    "uint8": np.dtype("u1"),
    "int16": np.dtype("<i2"),
    "int8": np.dtype("i1"),
    "complex64": np.dtype("<c8"),
    "int64": np.dtype("<i8"),
    "bool": np.dtype("u1"),
    "qint8": np.dtype("i1"),
    "quint8": np.dtype("u1"),
    "qint32": np.dtype("<i4"),
    "bfloat16": np.dtype("<u2"),
    "qint16": np.dtype("<i2"),
    "quint16": np.dtype("<u2"),
    "uint16": np.dtype("<u2"),
    "complex128": np.dtype("<c16"),
    "float16": np.dtype("<u2"),
    "uint32": np.dtype("<u4"),
    "uint64": np.dtype("<u8"),
    "float8_e5m2": np.dtype("u1"),
    "float8_e4m3fn": np.dtype("u1"),
    "float8_e4m3fnuz": np.dtype("u1"),
    "float8_e4m3b11fnuz": np.dtype("u1"),
    "float8_e5m2fnuz": np.dtype("u1"),
    "int4": np.dtype("u1"),
    "uint4": np.dtype("u1"),
    "int2": np.dtype("u1"),
    "uint2": np.dtype("u1"),
    "float4_e2m1fn": np.dtype("u1"),
}

#: Unsigned integer dtype of each element width, for bitwise comparison.
_UNSIGNED = {1: np.dtype("u1"), 2: np.dtype("<u2"), 4: np.dtype("<u4"), 8: np.dtype("<u8"), 16: np.dtype("<u8")}


def c_order(array) -> np.ndarray:
    """``array`` as a C-contiguous array, keeping rank 0 (unlike ``np.ascontiguousarray``)."""
    return np.asarray(array, order="C")


class DescriptionError(ValueError):
    """A description (directory or JSON) is malformed."""


def is_known_dtype(name: str) -> bool:
    return name == STRING or name in DTYPES


def bits_dtype(name: str) -> np.dtype:
    """The NumPy dtype of the bit-pattern array of dtype ``name`` (not for ``string``)."""
    try:
        return DTYPES[name]
    except KeyError:
        raise DescriptionError(f"unknown dtype name {name!r}") from None


@dataclass
class TensorDescription:
    """One tensor: ``data`` (bit patterns, C order) for numeric dtypes, ``strings`` for ``string``."""

    key: str
    dtype: str
    shape: tuple[int, ...]
    data: Optional[np.ndarray] = None
    strings: Optional[list[bytes]] = None
    partitions: Optional[list[str]] = None

    def __post_init__(self) -> None:
        self.shape = tuple(int(d) for d in self.shape)
        if self.dtype == STRING:
            if self.strings is None:
                raise DescriptionError(f"tensor {self.key!r}: string tensor without strings")
            self.strings = [bytes(s) for s in self.strings]
        else:
            if self.data is None:
                raise DescriptionError(f"tensor {self.key!r}: {self.dtype} tensor without data")
            want = bits_dtype(self.dtype)
            data = np.asarray(self.data)
            if data.dtype != want:
                if data.dtype.itemsize != want.itemsize or data.dtype.kind not in "biufc":
                    raise DescriptionError(
                        f"tensor {self.key!r}: array dtype {data.dtype} is not the bit-pattern dtype {want} of {self.dtype}"
                    )
                data = c_order(data).view(want)
            self.data = c_order(data)

    @property
    def num_elements(self) -> int:
        return math.prod(self.shape)

    def element_bytes(self) -> bytes:
        """The data as TensorFlow's little-endian element bytes (numeric dtypes only)."""
        assert self.data is not None
        return self.data.astype(self.data.dtype.newbyteorder("<"), copy=False).tobytes(order="C")


@dataclass
class Description:
    """An ordered list of tensors (the writer's order)."""

    tensors: list[TensorDescription] = field(default_factory=list)

    def keys(self) -> list[str]:
        return [t.key for t in self.tensors]

    def by_key(self) -> dict[str, TensorDescription]:
        return {t.key: t for t in self.tensors}

    def __len__(self) -> int:
        return len(self.tensors)


# -- building from arrays -------------------------------------------------------


def tensor_from_array(key: str, dtype: str, value, *, partitions: Optional[Sequence[str]] = None) -> TensorDescription:
    """Describe ``value`` (an array as a library returns it) as a tensor of TensorFlow dtype ``dtype``.

    Accepts what readers typically return: ml_dtypes arrays (bfloat16, float8,
    int4...), NumPy's structured quantized dtypes, ``bool`` arrays, object
    arrays of ``bytes`` (or ``str``, encoded as UTF-8) for strings, and arrays
    already in the bit-pattern dtype.  Big-endian arrays are converted.
    """
    if dtype == STRING:
        arr = np.asarray(value, dtype=object)
        items = []
        for item in arr.reshape(-1):
            if isinstance(item, str):
                item = item.encode("utf-8")
            items.append(bytes(item))
        return TensorDescription(key, dtype, arr.shape, strings=items,
                                 partitions=list(partitions) if partitions else None)
    want = bits_dtype(dtype)
    arr = np.asarray(value)
    if arr.dtype.names:  # structured quantized dtype: one field
        arr = arr[arr.dtype.names[0]]
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    if arr.dtype.itemsize != want.itemsize:
        raise DescriptionError(f"tensor {key!r}: element width {arr.dtype.itemsize} does not fit {dtype}")
    bits = c_order(arr).view(want)
    return TensorDescription(key, dtype, arr.shape, data=bits.copy(),
                             partitions=list(partitions) if partitions else None)


# -- JSON and directories ---------------------------------------------------------


def to_json(desc: Description, *, raw_files: bool = False) -> tuple[dict, dict[str, np.ndarray], dict[str, bytes]]:
    """Split ``desc`` into (description.json object, npz members, raw files)."""
    entries = []
    arrays: dict[str, np.ndarray] = {}
    raws: dict[str, bytes] = {}
    for i, t in enumerate(desc.tensors):
        entry: dict = {"key": t.key, "dtype": t.dtype, "shape": list(t.shape)}
        if t.dtype == STRING:
            entry["strings_base64"] = [base64.b64encode(s).decode("ascii") for s in (t.strings or [])]
        else:
            name = f"t{i}"
            entry["array"] = name
            arrays[name] = t.data  # type: ignore[assignment]
            if raw_files:
                entry["raw"] = f"raw/{name}.bin"
                raws[entry["raw"]] = t.element_bytes()
        if t.partitions:
            entry["partitions"] = list(t.partitions)
        entries.append(entry)
    return {"format": FORMAT, "tensors": entries}, arrays, raws


def save(desc: Description, directory: str, *, raw_files: bool = False) -> str:
    """Write ``desc`` as a description directory (created if needed); returns the directory."""
    os.makedirs(directory, exist_ok=True)
    meta, arrays, raws = to_json(desc, raw_files=raw_files)
    with open(os.path.join(directory, "description.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False, indent=1)
        f.write("\n")
    if arrays:
        np.savez(os.path.join(directory, "arrays.npz"), **arrays)
    for rel, data in raws.items():
        path = os.path.join(directory, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    return directory


class _LazyNpz:
    """Members of an ``.npz`` read on demand, without pickles."""

    def __init__(self, path: Optional[str]) -> None:
        self._path = path
        self._npz = None

    def get(self, name: str) -> np.ndarray:
        if self._path is None or not os.path.exists(self._path):
            raise DescriptionError(f"array {name!r} named but there is no arrays.npz")
        if self._npz is None:
            try:
                self._npz = np.load(self._path, allow_pickle=False)
            except (OSError, ValueError, zipfile.BadZipFile) as exc:
                raise DescriptionError(f"cannot open {self._path}: {exc}") from exc
        try:
            return np.array(self._npz[name])
        except KeyError:
            raise DescriptionError(f"arrays.npz has no member {name!r}") from None

    def close(self) -> None:
        if self._npz is not None:
            self._npz.close()


def from_json(meta: Mapping, directory: Optional[str] = None, *, arrays: Optional[Mapping[str, np.ndarray]] = None) -> Description:
    """Build a description from a ``description.json`` object.

    Array data comes from ``arrays`` if given, else from ``<directory>/arrays.npz``
    (``array`` fields) or ``<directory>/<raw>`` (``raw`` fields).
    """
    if not isinstance(meta, Mapping):
        raise DescriptionError("description must be a JSON object")
    fmt = meta.get("format", FORMAT)
    if fmt != FORMAT:
        raise DescriptionError(f"unknown description format {fmt!r} (expected {FORMAT!r})")
    entries = meta.get("tensors")
    if not isinstance(entries, list):
        raise DescriptionError("description has no 'tensors' list")
    npz = _LazyNpz(os.path.join(directory, "arrays.npz") if directory else None)
    tensors = []
    try:
        for n, entry in enumerate(entries):
            tensors.append(_tensor_from_entry(entry, n, directory, arrays, npz))
    finally:
        npz.close()
    return Description(tensors)


def _tensor_from_entry(entry, n, directory, arrays, npz) -> TensorDescription:
    if not isinstance(entry, Mapping):
        raise DescriptionError(f"tensors[{n}] is not an object")
    try:
        key, dtype, shape = entry["key"], entry["dtype"], entry["shape"]
    except KeyError as exc:
        raise DescriptionError(f"tensors[{n}] lacks {exc.args[0]!r}") from None
    if not isinstance(key, str) or not isinstance(dtype, str):
        raise DescriptionError(f"tensors[{n}]: key and dtype must be strings")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise DescriptionError(f"tensors[{n}] ({key!r}): shape must be a list of non-negative integers, got {shape!r}")
    if not is_known_dtype(dtype):
        raise DescriptionError(f"tensors[{n}] ({key!r}): unknown dtype {dtype!r}")
    partitions = entry.get("partitions")
    if dtype == STRING:
        raw_strings = entry.get("strings_base64")
        if not isinstance(raw_strings, list):
            raise DescriptionError(f"tensor {key!r}: string tensor without strings_base64")
        try:
            strings = [base64.b64decode(s, validate=True) for s in raw_strings]
        except (ValueError, TypeError) as exc:
            raise DescriptionError(f"tensor {key!r}: bad base64: {exc}") from None
        if len(strings) != math.prod(shape):
            raise DescriptionError(
                f"tensor {key!r}: {len(strings)} strings for shape {shape} ({math.prod(shape)} elements)")
        return TensorDescription(key, dtype, tuple(shape), strings=strings, partitions=partitions)
    want = bits_dtype(dtype)
    if "array" in entry:
        name = entry["array"]
        data = arrays[name] if arrays is not None and name in arrays else npz.get(name)
        data = np.asarray(data)
    elif "raw" in entry:
        if directory is None:
            raise DescriptionError(f"tensor {key!r}: 'raw' data needs a directory")
        path = os.path.join(directory, entry["raw"])
        try:
            with open(path, "rb") as f:
                blob = f.read()
        except OSError as exc:
            raise DescriptionError(f"tensor {key!r}: cannot read raw data {path}: {exc}") from None
        if len(blob) != math.prod(shape) * want.itemsize:
            raise DescriptionError(
                f"tensor {key!r}: raw data has {len(blob)} bytes, shape {shape} of {dtype} needs "
                f"{math.prod(shape) * want.itemsize}")
        data = np.frombuffer(blob, dtype=want).reshape(shape)
    else:
        raise DescriptionError(f"tensor {key!r}: {dtype} tensor has neither 'array' nor 'raw'")
    if tuple(data.shape) != tuple(shape):
        raise DescriptionError(f"tensor {key!r}: array shape {list(data.shape)} differs from shape {shape}")
    if data.dtype.itemsize != want.itemsize:
        raise DescriptionError(f"tensor {key!r}: array dtype {data.dtype} has the wrong width for {dtype}")
    return TensorDescription(key, dtype, tuple(shape), data=data, partitions=partitions)


def load(directory: str) -> Description:
    """Read a description directory."""
    path = os.path.join(directory, "description.json")
    try:
        with open(path, "r", encoding="utf-8") as f:
            meta = json.load(f)
    except FileNotFoundError:
        raise DescriptionError(f"no description.json in {directory}") from None
    except (OSError, ValueError) as exc:
        raise DescriptionError(f"cannot read {path}: {exc}") from None
    return from_json(meta, directory)


# -- comparison -----------------------------------------------------------------


def _show_bytes(b: bytes, limit: int = 40) -> str:
    shown = repr(b[:limit])
    return shown + (f"... ({len(b)} bytes)" if len(b) > limit else "")


def _unravel(flat: int, shape: Sequence[int]) -> str:
    if not shape:
        return "[]"
    return "[" + ", ".join(str(int(i)) for i in np.unravel_index(flat, tuple(shape))) + "]"


def _show_element(dtype: str, bits: np.ndarray) -> str:
    """One element as hex bits plus its value where that is easy to tell."""
    raw = bits.tobytes()
    hexbits = "0x" + raw[::-1].hex()  # little-endian storage, most significant first
    if dtype in ("float32", "float64", "complex64", "complex128"):
        return f"{hexbits} ({bits.item()!r})"
    if bits.dtype.kind in "iu" and dtype not in ("bfloat16", "float16") and not dtype.startswith(("float8", "float4")):
        return f"{hexbits} ({int(bits.item())})"
    return hexbits


def compare_tensor(expected: TensorDescription, actual: TensorDescription, *, check_partitions: bool = True) -> list[str]:
    """Differences between two descriptions of the same key, as readable sentences."""
    key = expected.key
    out: list[str] = []
    if expected.dtype != actual.dtype:
        out.append(f"tensor {key!r}: dtype: expected {expected.dtype}, got {actual.dtype}")
        return out
    if tuple(expected.shape) != tuple(actual.shape):
        out.append(f"tensor {key!r}: shape: expected {list(expected.shape)}, got {list(actual.shape)}")
        return out
    if expected.dtype == STRING:
        es, as_ = expected.strings or [], actual.strings or []
        if len(es) != len(as_):
            out.append(f"tensor {key!r}: {len(as_)} string elements, expected {len(es)}")
        else:
            diffs = [i for i, (a, b) in enumerate(zip(es, as_)) if a != b]
            if diffs:
                i = diffs[0]
                out.append(
                    f"tensor {key!r}: string data differs in {len(diffs)} of {len(es)} elements; first at index "
                    f"{_unravel(i, expected.shape)}: expected {_show_bytes(es[i])} (length {len(es[i])}), "
                    f"got {_show_bytes(as_[i])} (length {len(as_[i])})")
    else:
        e = c_order(expected.data).reshape(-1)
        a = c_order(actual.data).reshape(-1)
        width = bits_dtype(expected.dtype).itemsize
        if e.dtype.itemsize != width or a.dtype.itemsize != width:
            out.append(f"tensor {key!r}: data element width differs ({a.dtype.itemsize} vs {width} bytes)")
        else:
            eu = np.frombuffer(e.astype(e.dtype.newbyteorder("<")).tobytes(), dtype="u1").reshape(-1, width)
            au = np.frombuffer(a.astype(a.dtype.newbyteorder("<")).tobytes(), dtype="u1").reshape(-1, width)
            differ = np.flatnonzero((eu != au).any(axis=1))
            if differ.size:
                i = int(differ[0])
                out.append(
                    f"tensor {key!r}: data differs in {differ.size} of {e.size} elements; first at index "
                    f"{_unravel(i, expected.shape)}: expected {_show_element(expected.dtype, e[i:i+1])}, "
                    f"got {_show_element(expected.dtype, a[i:i+1])}")
    if check_partitions and expected.partitions and actual.partitions is not None:
        if list(expected.partitions) != list(actual.partitions):
            out.append(f"tensor {key!r}: partitions: expected {expected.partitions}, got {actual.partitions}")
    return out


def compare(expected: Description, actual: Description, *, check_partitions: bool = True) -> list[str]:
    """Every difference between ``expected`` and ``actual`` (tensor order is not compared)."""
    out: list[str] = []
    exp, act = expected.by_key(), actual.by_key()
    if len(exp) != len(expected.tensors):
        out.append("expected description has duplicate keys")
    if len(act) != len(actual.tensors):
        seen: set[str] = set()
        dups = sorted({t.key for t in actual.tensors if t.key in seen or seen.add(t.key)})  # type: ignore[func-returns-value]
        out.append(f"keys reported more than once: {dups!r}")
    missing = [k for k in exp if k not in act]
    extra = [k for k in act if k not in exp]
    if missing:
        out.append(f"missing tensors: {sorted(missing)!r}")
    if extra:
        out.append(f"unexpected tensors: {sorted(extra)!r}")
    for k, t in exp.items():
        if k in act:
            out.extend(compare_tensor(t, act[k], check_partitions=check_partitions))
    return out


def assert_same(expected: Description, actual: Description, *, what: str = "description", check_partitions: bool = True) -> None:
    """Raise ``AssertionError`` listing every difference (at most 20 shown)."""
    diffs = compare(expected, actual, check_partitions=check_partitions)
    if diffs:
        shown = diffs[:20]
        more = f"\n  ... and {len(diffs) - 20} more" if len(diffs) > 20 else ""
        raise AssertionError(f"{what} differs: {shown[0]}" + "".join(f"\n  {d}" for d in shown[1:]) + more)


def sorted_keys(keys: Iterable[str]) -> list[str]:
    """Keys in the order a reader reports them: bytewise on UTF-8."""
    return sorted(keys, key=lambda k: k.encode("utf-8", "surrogatepass"))


# -- slices -----------------------------------------------------------------------


def parse_slice(spec: str, shape: Sequence[int]) -> tuple[slice, ...]:
    """TensorFlow's slice syntax (``"0,5:-"``: ``start,length`` or ``-`` per dimension) as NumPy slices.

    An empty spec, or ``"-"`` for a rank-0/1 tensor, is the whole tensor.
    Raises ``ValueError`` when the spec does not fit ``shape``.
    """
    shape = tuple(int(d) for d in shape)
    if spec == "":
        return tuple(slice(0, d) for d in shape)
    parts = spec.split(":")
    if len(parts) != len(shape):
        raise ValueError(f"slice {spec!r} has {len(parts)} dimensions, the tensor {len(shape)}")
    out = []
    for part, dim in zip(parts, shape):
        if part == "-":
            out.append(slice(0, dim))
            continue
        start_text, sep, length_text = part.partition(",")
        if not sep:
            raise ValueError(f"slice {spec!r}: {part!r} is neither '-' nor 'start,length'")
        start, length = int(start_text), int(length_text)
        if start < 0 or length < 1 or start + length > dim:
            raise ValueError(f"slice {spec!r}: extent {part!r} does not fit dimension {dim}")
        out.append(slice(start, start + length))
    return tuple(out)


def take_slice(tensor: TensorDescription, spec: str) -> TensorDescription:
    """The part of ``tensor`` that slice ``spec`` selects, as a tensor of the same key and dtype."""
    index = parse_slice(spec, tensor.shape)
    if tensor.dtype == STRING:
        arr = np.empty(len(tensor.strings or []), dtype=object)
        arr[:] = tensor.strings or []
        part = arr.reshape(tensor.shape)[index]
        return TensorDescription(tensor.key, STRING, part.shape, strings=list(part.reshape(-1)))
    part = c_order(np.asarray(tensor.data).reshape(tensor.shape)[index])
    return TensorDescription(tensor.key, tensor.dtype, part.shape, data=part)
