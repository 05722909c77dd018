"""TensorFlow's data types, as one table (spec: ``spec/data-file.md`` "Data types").

Strategy
--------
Everything tfckpt knows about a dtype lives in the single table ``_TABLE``
below: the ``DataType`` enum number (``tensorflow/core/framework/types.proto``),
TensorFlow's Python name (``tf.dtypes.DType.name``), the numpy dtype of the
arrays ``get_tensor`` returns, the width of one element in a ``.data`` file, and
the width byte-swapping uses for big-endian bundles
(``tensorflow/core/util/tensor_bundle/byte_swap_tensor.cc``).

The numpy dtypes are TensorFlow's own choices: ml_dtypes scalars for bfloat16,
the float8 family, int4/uint4/int2/uint2 and float4; plain integers for the
quantized types (what ``get_tensor`` returns -- though TensorFlow's
``DType.as_numpy_dtype`` is a one-field structured dtype such as
``dtype([('qint8', 'i1')])``, also accepted on input); ``object`` arrays of
``bytes`` for strings.

Every "memcpy" type is stored as its elements' raw bytes in C order, in the
byte order the header declares; sub-byte types (int4, uint4, int2, uint2,
float4_e2m1fn) take one whole byte per element, as in memory.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Optional, Union

from ._lazy import numpy as np  # imported on first use: listing needs no numpy

from . import errors

__all__ = ["DType", "as_dtype", "ALL_DTYPES", "DT_STRING", "DT_VARIANT", "DT_RESOURCE"]

DT_STRING = 7
DT_RESOURCE = 20
DT_VARIANT = 21


@dataclass(frozen=True)
class DType:
    """A TensorFlow data type, with the attributes of ``tf.dtypes.DType`` users rely on.

    ``name`` is TensorFlow's Python name (``"float32"``, ``"bfloat16"``, ``"string"``),
    ``as_datatype_enum`` the ``DataType`` enum number stored in ``.index`` entries.
    """

    as_datatype_enum: int
    name: str
    #: numpy dtype of the arrays ``get_tensor`` returns, as a spec string resolved by
    #: :attr:`numpy_dtype` on first use: a numpy dtype string (``"<f4"``, ``"O"``) or
    #: ``"ml_dtypes.<name>"`` for the ml_dtypes scalar types.  Nothing here imports numpy
    #: or ml_dtypes until a tensor needs them (``tfckpt ls`` needs neither).
    numpy_spec: Union[np.dtype, str, None] = field(repr=False, compare=False, default=None)
    #: bytes per element in a ``.data`` file for fixed-width types, 0 otherwise.
    itemsize: int = field(repr=False, compare=False, default=0)
    #: width in bytes of the units swapped for a big-endian bundle (1 = no swap).
    swap_unit: int = field(repr=False, compare=False, default=1)
    #: TensorFlow's DataTypeCanUseMemcpy: stored as raw element bytes.
    is_memcpy: bool = field(repr=False, compare=False, default=True)
    #: numpy dtype string of the bit-pattern view used by the description format.
    bits_spec: Union[np.dtype, str, None] = field(repr=False, compare=False, default=None)

    @property
    def numpy_dtype(self) -> Optional[np.dtype]:
        """numpy dtype of the arrays ``get_tensor`` returns (plain integers for the quantized
        types); None where TensorFlow has none. ml_dtypes is imported here, on first need."""
        spec = self.numpy_spec
        if isinstance(spec, str):
            if spec.startswith("ml_dtypes."):
                import ml_dtypes

                spec = np.dtype(getattr(ml_dtypes, spec[len("ml_dtypes."):]))
            else:
                spec = np.dtype(spec)
            object.__setattr__(self, "numpy_spec", spec)
        return spec

    @property
    def bits_dtype(self) -> Optional[np.dtype]:
        """numpy dtype of the plain-integer bit-pattern view (float16: ``<u2``)."""
        spec = self.bits_spec
        if isinstance(spec, str):
            spec = np.dtype(spec)
            object.__setattr__(self, "bits_spec", spec)
        return spec

    @property
    def as_numpy_dtype(self):
        """TensorFlow's ``DType.as_numpy_dtype``: a one-field structured dtype for quantized types."""
        return _quantized().get(self.as_datatype_enum, self.numpy_dtype)

    @property
    def enum_name(self) -> str:
        """The ``DataType`` enum name, e.g. ``DT_FLOAT``."""
        return _ENUM_NAMES[self.as_datatype_enum]

    @property
    def is_string(self) -> bool:
        return self.as_datatype_enum == DT_STRING

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other) -> bool:
        if isinstance(other, DType):
            return self.as_datatype_enum == other.as_datatype_enum
        # Compare equal to TensorFlow's DType (and anything with the same attributes).
        enum = getattr(other, "as_datatype_enum", None)
        if isinstance(enum, int):
            return enum == self.as_datatype_enum
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.as_datatype_enum)


# TensorFlow's structured dtypes of the quantized types (``DType.as_numpy_dtype``),
# built on first use.
_QUANTIZED_FIELDS = {11: ("qint8", "i1"), 12: ("quint8", "u1"), 13: ("qint32", "<i4"),
                     15: ("qint16", "<i2"), 16: ("quint16", "<u2")}
_quantized_cache: dict = {}


def _quantized() -> dict:
    if not _quantized_cache:
        _quantized_cache.update({k: np.dtype([f]) for k, f in _QUANTIZED_FIELDS.items()})
    return _quantized_cache


def _B(spec) -> str:  # a numpy dtype spec, kept as a string until first use
    return "O" if spec is object else spec
# (enum, name, enum name, numpy dtype, itemsize, swap unit, memcpy, bits view)
_TABLE = [
    (1, "float32", "DT_FLOAT", _B("<f4"), 4, 4, True, _B("<f4")),
    (2, "float64", "DT_DOUBLE", _B("<f8"), 8, 8, True, _B("<f8")),
    (3, "int32", "DT_INT32", _B("<i4"), 4, 4, True, _B("<i4")),
    (4, "uint8", "DT_UINT8", _B("u1"), 1, 1, True, _B("u1")),
    (5, "int16", "DT_INT16", _B("<i2"), 2, 2, True, _B("<i2")),
    (6, "int8", "DT_INT8", _B("i1"), 1, 1, True, _B("i1")),
    (7, "string", "DT_STRING", _B(object), 0, 1, False, None),
    (8, "complex64", "DT_COMPLEX64", _B("<c8"), 8, 4, True, _B("<c8")),
    (9, "int64", "DT_INT64", _B("<i8"), 8, 8, True, _B("<i8")),
    (10, "bool", "DT_BOOL", _B("?"), 1, 1, True, _B("u1")),
    (11, "qint8", "DT_QINT8", _B("i1"), 1, 1, True, _B("i1")),
    (12, "quint8", "DT_QUINT8", _B("u1"), 1, 1, True, _B("u1")),
    (13, "qint32", "DT_QINT32", _B("<i4"), 4, 4, True, _B("<i4")),
    (14, "bfloat16", "DT_BFLOAT16", "ml_dtypes.bfloat16", 2, 2, True, _B("<u2")),
    (15, "qint16", "DT_QINT16", _B("<i2"), 2, 2, True, _B("<i2")),
    (16, "quint16", "DT_QUINT16", _B("<u2"), 2, 2, True, _B("<u2")),
    (17, "uint16", "DT_UINT16", _B("<u2"), 2, 2, True, _B("<u2")),
    (18, "complex128", "DT_COMPLEX128", _B("<c16"), 16, 8, True, _B("<c16")),
    (19, "float16", "DT_HALF", _B("<f2"), 2, 2, True, _B("<u2")),
    (20, "resource", "DT_RESOURCE", None, 0, 1, False, None),
    (21, "variant", "DT_VARIANT", None, 0, 1, False, None),
    (22, "uint32", "DT_UINT32", _B("<u4"), 4, 4, True, _B("<u4")),
    (23, "uint64", "DT_UINT64", _B("<u8"), 8, 8, True, _B("<u8")),
    (24, "float8_e5m2", "DT_FLOAT8_E5M2", "ml_dtypes.float8_e5m2", 1, 1, True, _B("u1")),
    (25, "float8_e4m3fn", "DT_FLOAT8_E4M3FN", "ml_dtypes.float8_e4m3fn", 1, 1, True, _B("u1")),
    (26, "float8_e4m3fnuz", "DT_FLOAT8_E4M3FNUZ", "ml_dtypes.float8_e4m3fnuz", 1, 1, True, _B("u1")),
    (27, "float8_e4m3b11fnuz", "DT_FLOAT8_E4M3B11FNUZ", "ml_dtypes.float8_e4m3b11fnuz", 1, 1, True, _B("u1")),
    (28, "float8_e5m2fnuz", "DT_FLOAT8_E5M2FNUZ", "ml_dtypes.float8_e5m2fnuz", 1, 1, True, _B("u1")),
    (29, "int4", "DT_INT4", "ml_dtypes.int4", 1, 1, True, _B("u1")),
    (30, "uint4", "DT_UINT4", "ml_dtypes.uint4", 1, 1, True, _B("u1")),
    (31, "int2", "DT_INT2", "ml_dtypes.int2", 1, 1, True, _B("u1")),
    (32, "uint2", "DT_UINT2", "ml_dtypes.uint2", 1, 1, True, _B("u1")),
    (33, "float4_e2m1fn", "DT_FLOAT4_E2M1FN", "ml_dtypes.float4_e2m1fn", 1, 1, True, _B("u1")),
]

_BY_ENUM: dict[int, DType] = {}
_BY_NAME: dict[str, DType] = {}
_ENUM_NAMES: dict[int, str] = {}
for _row in _TABLE:
    _dt = DType(_row[0], _row[1], _row[3], _row[4], _row[5], _row[6], _row[7])
    _BY_ENUM[_row[0]] = _dt
    _BY_NAME[_row[1]] = _dt
    _BY_NAME[_row[2]] = _dt
    _ENUM_NAMES[_row[0]] = _row[2]
# Aliases TensorFlow accepts for names.
for _alias, _target in (("half", "float16"), ("float", "float32"), ("double", "float64")):
    _BY_NAME[_alias] = _BY_NAME[_target]

#: Every known dtype, by enum number.
ALL_DTYPES: tuple[DType, ...] = tuple(_BY_ENUM[k] for k in sorted(_BY_ENUM))

# A plain numpy dtype names the plain TensorFlow type (uint16, not quint16, whose enum
# number is lower); the quantized types come only from their structured dtypes or by name.
# The ml_dtypes types join the map only once ml_dtypes is imported (an ml_dtypes array
# cannot exist before), so ``import tfckpt`` does not import ml_dtypes.
# Built on the first lookup by numpy dtype, so that importing this module does not import numpy.
_NUMPY_TO_DTYPE: dict = {}


_ML_DTYPES_ENUMS = frozenset(
    dt.as_datatype_enum for dt in ALL_DTYPES if isinstance(dt.numpy_spec, str) and dt.numpy_spec.startswith("ml_dtypes.")
)


def _add_numpy_types(lazy: bool) -> None:
    if not lazy:
        quantized = _quantized()
        _NUMPY_TO_DTYPE.update({quantized[k]: _BY_ENUM[k] for k in quantized})
    for dt in ALL_DTYPES:
        if (dt.as_datatype_enum in _ML_DTYPES_ENUMS) != lazy or dt.numpy_spec is None:
            continue
        if dt.as_datatype_enum in _QUANTIZED_FIELDS or dt.name == "string":
            continue
        npd = dt.numpy_dtype
        _NUMPY_TO_DTYPE[npd.newbyteorder("=") if npd.names is None else npd] = dt


_ml_types_added = False


def as_dtype(value: Union[int, str, np.dtype, type, DType]) -> DType:
    """Look up a DType by enum number, TensorFlow name, ``DT_*`` name or numpy dtype.

    Raises :class:`tfckpt.errors.UnimplementedError` for an enum number TensorFlow
    2.21 does not define (``_REF`` types, 100 and above, are never stored) and
    :class:`tfckpt.errors.InvalidArgumentError` for anything else unknown.
    """
    if isinstance(value, DType):
        return value
    if type(value) is int:  # an enum number from a file: no numpy needed
        found = _BY_ENUM.get(value)
        if found is None:
            raise errors.UnimplementedError(f"unknown DataType enum value {value}")
        return found
    if not _NUMPY_TO_DTYPE:
        _add_numpy_types(lazy=False)
    if isinstance(value, np.dtype):  # the common case (every array written): one dict lookup
        found = _NUMPY_TO_DTYPE.get(value)
        if found is not None:
            return found
    enum = getattr(value, "as_datatype_enum", None)  # a tf.DType
    if isinstance(enum, int):
        value = enum
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        found = _BY_ENUM.get(int(value))
        if found is None:
            raise errors.UnimplementedError(f"unknown DataType enum value {int(value)}")
        return found
    if isinstance(value, str):
        found = _BY_NAME.get(value)
        if found is None:
            raise errors.InvalidArgumentError(f"unknown dtype name {value!r}")
        return found
    try:
        npd = np.dtype(value)
    except TypeError as exc:
        raise errors.InvalidArgumentError(f"cannot interpret {value!r} as a dtype") from exc
    if npd.kind in ("O", "S", "U"):
        return _BY_ENUM[DT_STRING]
    key = npd.newbyteorder("=") if npd.names is None else npd
    found = _NUMPY_TO_DTYPE.get(key)
    global _ml_types_added
    if found is None and not _ml_types_added and "ml_dtypes" in sys.modules:
        _ml_types_added = True
        _add_numpy_types(lazy=True)
        found = _NUMPY_TO_DTYPE.get(key)
    if found is None:
        raise errors.InvalidArgumentError(f"numpy dtype {npd} has no TensorFlow equivalent")
    return found
