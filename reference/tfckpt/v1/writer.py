"""Writing a legacy V1 checkpoint byte-for-byte as TensorFlow's ``Save`` op does (spec: ``spec/v1.md``).

TensorFlow's counterparts: ``SaveTensors`` in
``tensorflow/core/kernels/save_restore_tensor.cc``, ``TensorSliceWriter`` in
``tensorflow/core/util/tensor_slice_writer.{h,cc}``, and the typed
``TensorProto`` fields of ``tensorflow/core/util/saved_tensor_slice_util.h``.

Strategy
--------
Everything is checked and encoded in memory first; only then is the file
opened, under ``<path>.tempstate<random u64 decimal>`` in the same directory,
and renamed to ``path`` when complete (:func:`tfckpt.files.atomic_output`).  A
refused save therefore creates no file at all, as TensorFlow's does (it opens
its file only in ``TensorSliceWriter::Finish``).

The tensors are taken in bytewise order of their names -- ``SaveTensors``
sorts its ``tensor_names`` before adding them -- so the metadata record lists
them sorted whatever order they are given in.  Each tensor is stored as its
one full slice.  The SSTable (no compression, 256 KiB blocks, a restart every
16 keys) holds::

    key ""                          SavedTensorSlices{ meta (1): SavedTensorSliceMeta{
                                        tensor (1): SavedSliceMeta{ name (1), shape (2), type (3),
                                                                    slice (4): [full slice] } ...,
                                        versions (2): VersionDef{ producer (1): 1 } } }
    key EncodeTensorNameSlice(      SavedTensorSlices{ data (2): SavedSlice{
        name, full slice)               name (1), slice (2): full slice,
                                        data (3): TensorProto{ <typed>_val: [...] } } }

``min_consumer`` (0) is a proto3 default and absent; a scalar's shape and
slice are present but empty (``12 00``, ``22 00``); a full dimension is an
empty ``Extent`` (``0a 00``); an empty tensor still has its ``data`` field,
holding an empty ``TensorProto`` (``1a 00``).

Values (spec ``v1.md`` section 3).  The ``TensorProto`` holds only the typed
field of :data:`tfckpt.v1.VALUE_FIELDS`.  The float fields (``float_val``,
``double_val``, ``scomplex_val``, ``dcomplex_val``) are written here as one
packed run of the array's little-endian bytes, ``tag, varint(length), bytes``
-- never through Python floats, which would quiet signalling NaNs.  The
integer, bool and half fields and ``string_val`` are filled through the
generated ``TensorProto``, whose packed varints are TensorFlow's bytes
(``int_val`` is int32: negative values take ten bytes; ``half_val`` holds the
float16 bit pattern).

Refusals, in TensorFlow's categories (observed with TensorFlow 2.21), checked
tensor by tensor in the sorted order before anything is written:

* uint32, uint64: ``INVALID_ARGUMENT`` ("Tensor slice serialization not
  implemented for dtype 22/23"): ``Save`` accepts their type but
  ``TensorSliceWriter::MaxBytesPerElementOrZero`` has no size for them;
* every other dtype outside the table (bfloat16, qint16, quint16, float8_*,
  int4, uint4, int2, uint2, float4_e2m1fn, resource, variant):
  ``UNIMPLEMENTED`` ("Saving data type ... not yet supported");
* a slice record whose conservative size bound (``SaveData``: the
  ``SavedSlice`` without data + 1 KiB + a per-element maximum, plus the
  strings' bytes) exceeds 2**31 bytes: ``INVALID_ARGUMENT``.

Names, where we are stricter than TensorFlow (all ``INVALID_ARGUMENT``):

* a duplicate name.  TensorFlow 2.21's ``Save`` accepts two tensors of one
  name when dtype and shape agree, and writes a file whose meta lists the full
  slice twice over one record -- a file its own ``Restore`` then rejects
  (``INTERNAL`` "Overlapping slices"); when dtype or shape differ it refuses
  with ``INTERNAL`` ("Mismatching types"/"Mismatching shapes").
* an empty name.  TensorFlow writes and restores it (a V1 data key is never
  empty), but ``""`` is the metadata record's key, and tfckpt refuses it in
  every writer.
* a name that is not UTF-8: ``name`` is a proto3 ``string``; TensorFlow writes
  such a file but cannot parse its metadata again.

Files: TensorFlow does not create a missing directory (``NOT_FOUND``); nor do
we.  Unlike TensorFlow, which leaves its temporary file behind when the rename
fails (observed with a directory in the way: ``FAILED_PRECONDITION``), we
delete it.
"""

from __future__ import annotations

import os
from typing import Iterable, Mapping, Optional, Union

import numpy as np

from .. import errors
from ..bundle.data_layout import encode_fixed_width
from ..bundle.reader import key_bytes, key_text
from ..bundle.slices import TensorSlice, encode_slice_key
from ..bundle.writer import ArrayLike, to_array
from ..dtypes import DType
from ..encoding import encode_varint
from ..files import atomic_output, tempstate_name
from ..proto import saved_tensor_slice_pb2, tensor_pb2
from ..table import TableWriter
from .reader import VALUE_FIELDS

__all__ = ["write_v1", "WRITABLE_DTYPES"]

#: ``TF_CHECKPOINT_VERSION``, the producer version of the metadata record.
PRODUCER_VERSION = 1

#: dtype name -> most bytes one element can take in a record
#: (``TensorSliceWriter::MaxBytesPerElementOrZero``); the dtypes ``Save`` writes.
_MAX_BYTES_PER_ELEMENT = {
    "float32": 4,
    "float64": 8,
    "int32": 10,
    "uint8": 2,
    "int16": 10,
    "int8": 10,
    "complex64": 8,
    "int64": 10,
    "bool": 1,
    "qint8": 10,
    "quint8": 2,
    "qint32": 10,
    "uint16": 3,
    "complex128": 16,
    "float16": 3,
    "string": 10,  # per element (an int32's bound, for the length), plus the string's bytes
}

#: Names of the dtypes :func:`write_v1` writes (as TensorFlow 2.21's ``Save``).
WRITABLE_DTYPES = frozenset(_MAX_BYTES_PER_ELEMENT)

#: dtypes ``Save`` accepts as inputs but cannot serialize (``INVALID_ARGUMENT``, not ``UNIMPLEMENTED``).
_ACCEPTED_BUT_UNSERIALIZABLE = frozenset({"uint32", "uint64"})

#: ``kMaxMessageBytes`` and ``kTensorProtoHeaderBytes`` of ``TensorSliceWriter``.
_MAX_MESSAGE_BYTES = 1 << 31
_TENSOR_PROTO_HEADER_BYTES = 1 << 10

#: Float-valued fields written from raw little-endian bytes: TensorProto field numbers.
_RAW_FLOAT_FIELDS = {"float_val": 5, "double_val": 6, "scomplex_val": 9, "dcomplex_val": 12}

_LEN = 2  # protobuf wire type of length-delimited fields


def _field(number: int, payload: bytes) -> bytes:
    return encode_varint(number << 3 | _LEN) + encode_varint(len(payload)) + payload


def write_v1(
    path: Union[str, "os.PathLike[str]"],
    tensors: Union[Mapping[Union[str, bytes], ArrayLike], Iterable[tuple[Union[str, bytes], ArrayLike]]],
    *,
    dtypes: Optional[Mapping[Union[str, bytes], Union[str, DType]]] = None,
    sync: bool = True,
) -> str:
    """Write ``tensors`` (name -> value) as one V1 checkpoint file at ``path``; returns the path.

    For the same tensors, the file is byte-identical to what TensorFlow 2.21's
    ``tf.raw_ops.Save(filename=path, tensor_names=..., data=...)`` writes.
    Values follow :func:`tfckpt.save`: numpy arrays (ml_dtypes for bfloat16
    and float8), object arrays of ``bytes`` (or ``str``, stored as UTF-8) for
    strings.  ``dtypes`` names a TensorFlow type where numpy cannot tell it,
    e.g. ``{"q": "qint8"}`` for an int8 array (element widths must match).
    ``sync=False`` skips the fsync before the rename, as TensorFlow does.

    Raises :class:`~tfckpt.errors.InvalidArgumentError` or
    :class:`~tfckpt.errors.UnimplementedError` naming the tensor, before
    creating any file, for what ``Save`` refuses (see the module's docstring).
    """
    path = os.fspath(path)
    items = list(tensors.items() if isinstance(tensors, Mapping) else tensors)
    wanted = {key_bytes(k): v for k, v in (dtypes or {}).items()}
    unknown = set(wanted) - {key_bytes(name) for name, _ in items}
    if unknown:
        raise errors.InvalidArgumentError(f"dtypes names tensors that are not given: {sorted(map(key_text, unknown))}")
    named = sorted(((key_bytes(name), value) for name, value in items), key=lambda item: item[0])
    meta = saved_tensor_slice_pb2.SavedTensorSlices()
    meta.meta.versions.producer = PRODUCER_VERSION
    records: dict[bytes, bytes] = {}
    previous: Optional[bytes] = None
    for name, value in named:
        _check_name(name, previous)
        previous = name
        try:
            array, dtype = to_array(value, wanted.get(name))
        except errors.CheckpointError as exc:
            raise exc.with_location(key=key_text(name))
        full = TensorSlice.full(array.ndim)
        _describe(meta.meta.tensor.add(), name, array.shape, dtype, full)
        records[encode_slice_key(name, full)] = _slice_record(name, array, dtype, full)
    with atomic_output(path, tempstate_name(path), sync=sync) as handle:  # OS failures become tfckpt errors
        table = TableWriter(handle)
        table.add(b"", meta.SerializeToString())
        for key in sorted(records):
            table.add(key, records[key])
        table.finish()
    return path


def _check_name(name: bytes, previous: Optional[bytes]) -> None:
    if name == b"":
        raise errors.InvalidArgumentError("tensor name must not be empty")
    if name == previous:
        raise errors.InvalidArgumentError("tensor name given twice", key=key_text(name))
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.InvalidArgumentError("tensor name is not UTF-8", key=key_text(name)) from None


def _describe(entry, name: bytes, shape: tuple, dtype: DType, full: TensorSlice) -> None:
    """Fill one ``SavedSliceMeta`` of the metadata record."""
    entry.name = name.decode("utf-8")
    entry.shape.SetInParent()  # present even for a scalar
    for size in shape:
        entry.shape.dim.add().size = int(size)
    entry.type = dtype.as_datatype_enum
    slice_proto = entry.slice.add()
    slice_proto.SetInParent()
    full.fill_proto(slice_proto)


def _slice_record(name: bytes, array: np.ndarray, dtype: DType, full: TensorSlice) -> bytes:
    """The ``SavedTensorSlices{data: SavedSlice{...}}`` record of one whole tensor, checked as ``SaveData`` does."""
    where = dict(key=key_text(name))
    if dtype.name in _ACCEPTED_BUT_UNSERIALIZABLE:
        raise errors.InvalidArgumentError(
            f"Tensor slice serialization not implemented for dtype {dtype.as_datatype_enum} "
            f"({dtype.name}): V1 checkpoints cannot hold it",
            **where,
        )
    if dtype.name not in WRITABLE_DTYPES:
        raise errors.UnimplementedError(f"Saving data type {dtype.name} not yet supported in V1 checkpoints", **where)
    saved_slice = saved_tensor_slice_pb2.SavedSlice()
    saved_slice.name = name.decode("utf-8")
    saved_slice.slice.SetInParent()
    full.fill_proto(saved_slice.slice)
    head = saved_slice.SerializeToString()
    bound = len(head) + _TENSOR_PROTO_HEADER_BYTES + _MAX_BYTES_PER_ELEMENT[dtype.name] * array.size
    if dtype.is_string:
        bound += sum(len(s) for s in array.reshape(-1))
    if bound > _MAX_MESSAGE_BYTES:
        raise errors.InvalidArgumentError(
            f"Tensor slice is too large to serialize (conservative estimate: {bound} bytes)", **where
        )
    body = head + _field(3, _tensor_proto(array, dtype))
    return _field(2, body)


def _tensor_proto(array: np.ndarray, dtype: DType) -> bytes:
    """The serialized ``TensorProto`` holding only the typed value field of ``dtype``."""
    field = VALUE_FIELDS[dtype.name]
    if field == "string_val":
        proto = tensor_pb2.TensorProto()
        proto.string_val.extend(array.reshape(-1).tolist())
        return proto.SerializeToString()
    raw = bytes(encode_fixed_width(array, dtype))  # little-endian element bytes, C order
    if field in _RAW_FLOAT_FIELDS:
        return _field(_RAW_FLOAT_FIELDS[field], raw) if raw else b""
    values = np.frombuffer(raw, dtype=dtype.bits_dtype)  # the plain integers (float16: bit patterns)
    proto = tensor_pb2.TensorProto()
    getattr(proto, field).extend((values != 0).tolist() if field == "bool_val" else values.tolist())
    return proto.SerializeToString()
