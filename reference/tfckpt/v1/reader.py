"""Legacy V1 checkpoints: one SSTable per shard, values in TensorProtos (spec: ``spec/v1.md``).

TensorFlow's counterparts: ``tensorflow/core/util/tensor_slice_reader.cc`` and
``tensor_slice_writer.cc``, ``tensorflow/core/util/saved_tensor_slice_util.h``.

Strategy
--------
A V1 checkpoint has no ``.index``/``.data`` pair: each shard is a single
SSTable file (named ``P`` or ``P-00000-of-00002``; readers take a glob
pattern).  Its records are ``SavedTensorSlices`` messages::

    key ""                              SavedTensorSlices{ meta: SavedTensorSliceMeta{
                                            tensor: [SavedSliceMeta{name, shape, type, slice: [...]}, ...],
                                            versions: VersionDef } }
    key EncodeTensorNameSlice(name, s)  SavedTensorSlices{ data: SavedSlice{
                                            name, slice: s, data: TensorProto{ <typed>_val: [...] } } }

Every tensor is stored as slices, an unpartitioned one as a single full slice.
Only the typed repeated field of the ``TensorProto`` carries values (no dtype,
no shape, no ``tensor_content``); which field depends on the dtype
(``int_val`` for the narrow integer and quantized types, ``half_val`` for
float16 bit patterns, ``scomplex_val`` pairs for complex64, ...).

We check, as TensorFlow does since CVE-2021-41203, that a record holds exactly
as many values as its slice has elements, and we validate shapes and slices
before allocating anything.  A reader for the whole tensor assembles it from
its slices exactly like the V2 reader does for partitioned tensors.
"""

from __future__ import annotations

import os
from typing import Optional, Union

import numpy as np
from google.protobuf.message import DecodeError

from .. import errors, storage
from ..bundle import assembly
from ..bundle.reader import check_stored_shape, check_versions, key_bytes, key_text
from ..bundle.slices import TensorSlice, encode_slice_key
from ..dtypes import DT_STRING, DType, as_dtype
from ..encoding import decode_varint64
from ..proto import saved_tensor_slice_pb2
from ..table import TableReader

__all__ = ["V1Reader", "VALUE_FIELDS"]


#: dtype name -> the TensorProto field holding its values in a V1 record.
VALUE_FIELDS = {
    "float32": "float_val",
    "float64": "double_val",
    "int32": "int_val",
    "int16": "int_val",
    "int8": "int_val",
    "uint8": "int_val",
    "uint16": "int_val",
    "qint8": "int_val",
    "quint8": "int_val",
    "qint16": "int_val",
    "quint16": "int_val",
    "qint32": "int_val",
    "int64": "int64_val",
    "uint32": "uint32_val",
    "uint64": "uint64_val",
    "bool": "bool_val",
    "complex64": "scomplex_val",
    "complex128": "dcomplex_val",
    "float16": "half_val",
    "string": "string_val",
}


#: Float-valued TensorProto fields: field number and element dtype on the wire.
_FLOAT_FIELDS = {
    "float_val": (5, np.dtype("<f4")),
    "double_val": (6, np.dtype("<f8")),
    "scomplex_val": (9, np.dtype("<f4")),
    "dcomplex_val": (12, np.dtype("<f8")),
}


def _length_delimited(buf: bytes, number: int) -> list:
    """The payloads of every length-delimited field ``number`` of a protobuf message (already parsed once)."""
    out = []
    pos = 0
    while pos < len(buf):
        tag, pos = decode_varint64(buf, pos, len(buf))
        kind = tag & 7
        if kind == 0:
            _, pos = decode_varint64(buf, pos, len(buf))
        elif kind == 1:
            pos += 8
        elif kind == 5:
            pos += 4
        elif kind == 2:
            length, pos = decode_varint64(buf, pos, len(buf))
            if tag >> 3 == number:
                out.append(buf[pos : pos + length])
            pos += length
        else:
            raise ValueError(f"wire type {kind}")
    return out


def _float_field_bytes(record: bytes, number: int, width: int) -> bytes:
    """Raw element bytes of float field ``number`` of the TensorProto in a SavedTensorSlices record.

    SavedTensorSlices.data (2) -> SavedSlice.data (3) -> TensorProto field; TensorFlow
    writes these repeated fields packed; unpacked elements are collected too.
    """
    chunks = []
    for saved_slice in _length_delimited(record, 2):
        for tensor in _length_delimited(saved_slice, 3):
            pos = 0
            while pos < len(tensor):
                tag, pos = decode_varint64(tensor, pos, len(tensor))
                kind = tag & 7
                if kind == 2:
                    length, pos = decode_varint64(tensor, pos, len(tensor))
                    if tag >> 3 == number:
                        chunks.append(tensor[pos : pos + length])
                    pos += length
                elif kind in (1, 5):
                    size = 8 if kind == 1 else 4
                    if tag >> 3 == number and size == width:
                        chunks.append(tensor[pos : pos + size])
                    pos += size
                elif kind == 0:
                    _, pos = decode_varint64(tensor, pos, len(tensor))
                else:
                    raise ValueError(f"wire type {kind}")
    return b"".join(chunks)


class _V1Entry:
    __slots__ = ("key", "dtype", "shape", "num_elements", "slices")

    def __init__(self, key: bytes, dtype: DType, shape: tuple, slices: tuple) -> None:
        self.key = key
        self.dtype = dtype
        self.shape = shape
        self.num_elements = int(np.prod(shape, dtype=object)) if shape else 1
        self.slices = slices

    @property
    def is_partitioned(self) -> bool:
        return len(self.slices) > 1 or (bool(self.slices) and not self.slices[0].covers_whole(self.shape))


class V1Reader:
    """Reads a V1 checkpoint: one file, or every file matching a pattern."""

    def __init__(self, pattern: Union[str, "os.PathLike[str]"], *, verify_checksums: bool = True) -> None:
        pattern = os.fspath(pattern)
        files = storage.glob(pattern) if any(c in pattern for c in "*?[") else [pattern]
        files = [f for f in files if storage.isfile(f)]
        if not files:
            raise errors.FileNotFound("no V1 checkpoint file matches", file=pattern)
        self.files = files
        self.verify_checksums = verify_checksums  # V1 has only the SSTable's block checksums
        self._tables: list[TableReader] = []
        self._entries: dict[bytes, _V1Entry] = {}
        self._where: dict[bytes, list[int]] = {}
        try:
            for index, path in enumerate(files):
                table = TableReader(path)
                self._tables.append(table)
                self._read_meta(index, path, table)
        except BaseException:
            self.close()
            raise

    def _read_meta(self, index: int, path: str, table: TableReader) -> None:
        first = table.first()
        if first is None or first[0] != b"":
            raise errors.DataLossError(
                "not a V1 checkpoint: the first record is not the tensor-slice metadata", file=path
            )
        record = saved_tensor_slice_pb2.SavedTensorSlices()
        try:
            record.ParseFromString(first[1])
        except DecodeError as exc:
            raise errors.DataLossError(f"metadata record is not a SavedTensorSlices: {exc}", file=path, key=b"") from None
        if not record.HasField("meta"):
            raise errors.DataLossError("metadata record has no meta", file=path, key=b"")
        check_versions(record.meta.versions, file=path)
        for meta in record.meta.tensor:
            where = dict(file=path, key=meta.name)
            try:
                dtype = as_dtype(meta.type)
            except errors.CheckpointError:
                raise errors.UnimplementedError(f"unknown dtype enum {meta.type}", **where) from None
            shape, _ = check_stored_shape(meta.shape, where)
            slices = []
            for slice_proto in meta.slice:
                try:
                    tensor_slice = TensorSlice.from_proto(slice_proto)
                except ValueError as exc:
                    raise errors.DataLossError(f"invalid slice: {exc}", **where) from None
                if not tensor_slice.fits(shape):
                    raise errors.DataLossError(f"slice {tensor_slice} lies outside shape {list(shape)}", **where)
                slices.append(tensor_slice)
            key = key_bytes(meta.name)
            existing = self._entries.get(key)
            if existing is not None:
                if existing.dtype != dtype or existing.shape != shape:
                    raise errors.DataLossError("shards disagree on the tensor's dtype or shape", **where)
                existing.slices = existing.slices + tuple(slices)
            else:
                self._entries[key] = _V1Entry(key, dtype, shape, tuple(slices))
            for tensor_slice in slices:
                self._where.setdefault(encode_slice_key(key, tensor_slice), []).append(index)

    # -- the reader interface shared with BundleReader ---------------------------

    def variables(self) -> list[_V1Entry]:
        return [self._entries[k] for k in sorted(self._entries)]

    def entry(self, key: Union[str, bytes]) -> _V1Entry:
        found = self._entries.get(key_bytes(key))
        if found is None:
            raise errors.NotFoundError("key not found in checkpoint", file=self.files[0], key=key_text(key_bytes(key)))
        return found

    def read(self, key: Union[str, bytes]) -> np.ndarray:
        entry = self.entry(key)
        return self._assemble(entry, TensorSlice.full(len(entry.shape)))

    def read_slice(self, key: Union[str, bytes], tensor_slice: Union[str, TensorSlice]) -> np.ndarray:
        entry = self.entry(key)
        tensor_slice = assembly.requested_slice(tensor_slice, entry.shape, dict(file=self.files[0], key=key_text(entry.key)))
        return self._assemble(entry, tensor_slice)

    def _assemble(self, entry: _V1Entry, target: TensorSlice) -> np.ndarray:
        shape = entry.shape
        where = dict(file=self.files[0], key=key_text(entry.key))
        pieces = assembly.plan(entry.slices, shape, target, where)
        values = {s: self._slice_values(entry, s) for s, _ in pieces}  # all validated before allocating
        numpy_dtype = object if entry.dtype.as_datatype_enum == DT_STRING else entry.dtype.numpy_dtype
        return assembly.assemble(shape, target, numpy_dtype, pieces, values.__getitem__)

    def _slice_values(self, entry: _V1Entry, tensor_slice: TensorSlice) -> np.ndarray:
        key = encode_slice_key(entry.key, tensor_slice)
        value: Optional[bytes] = None
        path = self.files[0]
        for index in self._where.get(key, []):
            value = self._tables[index].get(key)
            path = self.files[index]
            if value is not None:
                break
        where = dict(file=path, key=key_text(entry.key))
        if value is None:
            raise errors.DataLossError(f"the record of slice {tensor_slice} is missing", **where)
        record = saved_tensor_slice_pb2.SavedTensorSlices()
        try:
            record.ParseFromString(value)
        except DecodeError as exc:
            raise errors.DataLossError(f"slice record is not a SavedTensorSlices: {exc}", **where) from None
        slice_shape = tensor_slice.shape_in(entry.shape)
        count = int(np.prod(slice_shape, dtype=object)) if slice_shape else 1
        field = VALUE_FIELDS.get(entry.dtype.name)
        if field is None:
            raise errors.UnimplementedError(f"V1 checkpoints cannot hold dtype {entry.dtype.name}", **where)
        raw = getattr(record.data.data, field)
        per_element = 2 if field in ("scomplex_val", "dcomplex_val") else 1
        if len(raw) != count * per_element:
            raise errors.DataLossError(
                f"slice record holds {len(raw)} values, its slice {tensor_slice} needs {count * per_element}", **where
            )
        if field == "string_val":
            out = np.empty(count, dtype=object)
            out[:] = list(raw)
            return out.reshape(slice_shape)
        if field == "half_val":
            bits = np.array(raw, dtype=np.int64).astype(np.uint16)
            return bits.view(np.float16).reshape(slice_shape)
        if field in _FLOAT_FIELDS:
            # Floats are taken from the wire bytes: going through Python floats would
            # quiet signalling NaNs (float32 -> double -> float32 changes their bits).
            number, element = _FLOAT_FIELDS[field]
            try:
                raw_bytes = _float_field_bytes(value, number, element.itemsize)
            except ValueError as exc:
                raise errors.DataLossError(f"slice record's values cannot be decoded: {exc}", **where) from None
            bits = np.frombuffer(raw_bytes, dtype=element)
            return bits.view(entry.dtype.numpy_dtype).reshape(slice_shape)
        base = entry.dtype.numpy_dtype
        plain = base.fields[base.names[0]][0] if base.names else base
        return np.array(raw, dtype=np.int64 if plain.kind in "iu" and field == "int_val" else None).astype(
            plain
        ).view(base).reshape(slice_shape)

    def close(self) -> None:
        for table in self._tables:
            table.close()
        self._tables = []
