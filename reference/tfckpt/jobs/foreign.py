"""Read tensors from the foreign formats ``convert`` accepts: ``.safetensors`` and ``.npz``.

Strategy
--------
These files come from outside TensorFlow, so they get the same contract as a
checkpoint (spec ERR-1, SEC-1): every input yields tensors or raises a
:mod:`tfckpt.errors` error naming the file and the key -- never the foreign
library's own exception, and never an allocation the file's bytes do not
justify.

``.safetensors`` (the format of the ``safetensors`` library)::

    u64 little-endian  N         length of the header
    N bytes            header    JSON: {"<name>": {"dtype": "F32", "shape": [..],
                                        "data_offsets": [begin, end]}, "__metadata__": {..}}
    rest               data      the tensors' little-endian C-order bytes

The library parses and validates it when ``safe_open`` opens it (offsets inside
the data, lengths equal to shape x dtype size); its ``SafetensorError`` and a
shape that disagrees with the bytes become :class:`~tfckpt.errors.DataLossError`.
The tensors are then read one at a time with positioned reads at the header's
offsets -- not through the library's memory map, whose touched pages would stay
resident until the file is closed -- so memory is one tensor, whatever the file's size.

``.npz`` is a zip archive (numpy's ``savez``/``savez_compressed``), one ``.npy``
member per array::

    "\\x93NUMPY" major minor  header length (u16 for 1.0, u32 for 2.0/3.0)
    header     a Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4)}
    data       shape x itemsize bytes

numpy's own loader allocates the array the header declares before reading its
bytes, so a 100-byte member that claims ``(2**40,)`` float64 would ask for 8 TiB.
This reader checks the declared size against the member's uncompressed size in
the zip directory first, and, for a deflated member, against what deflate can
expand its compressed bytes to (:data:`DEFLATE_MAX_RATIO`), then reads exactly
those bytes (zipfile checks the member's CRC-32).  Object arrays (pickles) are
refused.
"""

from __future__ import annotations

import ast
import math
import zipfile
import zlib
from typing import Iterator

import numpy as np

from .. import errors

__all__ = ["read_safetensors", "read_npz", "DEFLATE_MAX_RATIO"]

#: Deflate's largest expansion: one 258-byte match per ~2 bits gives a bound near 1032:1.
DEFLATE_MAX_RATIO = 1032

_NPY_MAGIC = b"\x93NUMPY"


def read_safetensors(src: str, from_code: dict) -> Iterator[tuple[str, np.ndarray]]:
    """(name, array) pairs of a ``.safetensors`` file, in the file's order, one tensor in memory at a time;
    ``from_code`` maps its dtype codes to dtype names."""
    import json
    import os

    from .convert import _require_safetensors  # the one place that says what to install
    from ..dtypes import as_dtype

    safetensors = _require_safetensors()
    try:
        # The library validates the file on opening it (header JSON, dtypes, offsets inside
        # the data and contiguous, lengths equal to shape x dtype size); no tensor is read.
        with safetensors.safe_open(src, framework="numpy"):
            pass
        with open(src, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            header_length = int.from_bytes(f.read(8), "little")
            if not 0 < header_length <= size - 8:
                raise errors.DataLossError(f"header length {header_length} does not fit the file ({size} bytes)",
                                           file=src, offset=0)
            header = json.loads(f.read(header_length))
            begin = 8 + header_length
            entries = sorted(((k, v) for k, v in header.items() if k != "__metadata__"),
                             key=lambda item: item[1]["data_offsets"][0])
            for name, view in entries:
                code = view["dtype"]
                if code not in from_code:
                    raise errors.UnimplementedError(f"safetensors dtype {code} has no TensorFlow dtype", file=src, key=name)
                dtype = as_dtype(from_code[code]).numpy_dtype
                shape = tuple(view["shape"])
                start, end = view["data_offsets"]
                if math.prod(shape) * dtype.itemsize != end - start or begin + end > size:
                    raise errors.DataLossError(f"{end - start} bytes do not hold shape {list(shape)} of {code}",
                                               file=src, key=name, offset=begin + start)
                data = os.pread(f.fileno(), end - start, begin + start)
                if len(data) != end - start:
                    raise errors.DataLossError("file ends inside the tensor", file=src, key=name, offset=begin + start)
                yield name, np.frombuffer(data, dtype=dtype).reshape(shape)
    except OSError as exc:
        raise errors.from_os_error(exc, "reading", file=src) from exc
    except errors.CheckpointError:
        raise
    except Exception as exc:  # SafetensorError is the library's; it has no public base class
        raise errors.DataLossError(f"not a valid safetensors file: {exc}", file=src) from None


def read_npz(src: str) -> Iterator[tuple[str, np.ndarray]]:
    """(name, array) pairs of an ``.npz`` archive, one member at a time."""
    try:
        archive = zipfile.ZipFile(src)
    except OSError as exc:
        raise errors.from_os_error(exc, "reading", file=src) from exc
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, NotImplementedError) as exc:
        # NotImplementedError: a central directory naming a zip version zipfile cannot read
        raise errors.DataLossError(f"not a valid .npz (zip) archive: {exc}", file=src) from None
    with archive:
        for info in archive.infolist():
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            try:
                with archive.open(info) as member:
                    yield name, _read_member(member, info, src, name)
            except errors.CheckpointError:
                raise
            except OSError as exc:
                raise errors.from_os_error(exc, f"reading member {name!r}", file=src) from exc
            except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, ValueError, RuntimeError,
                    NotImplementedError) as exc:
                # RuntimeError: encrypted member; NotImplementedError: a compression zipfile lacks
                raise errors.DataLossError(f"damaged archive member: {exc}", file=src, key=name) from None


def _read_member(member, info: zipfile.ZipInfo, src: str, name: str) -> np.ndarray:
    magic = member.read(8)
    if len(magic) < 8 or magic[:6] != _NPY_MAGIC or magic[6] not in (1, 2, 3):
        raise errors.DataLossError("archive member is not a .npy array", file=src, key=name)
    size_bytes = 2 if magic[6] == 1 else 4
    raw = member.read(size_bytes)
    if len(raw) < size_bytes:
        raise errors.DataLossError(".npy header is cut short", file=src, key=name)
    header_len = int.from_bytes(raw, "little")
    start = 8 + size_bytes + header_len
    if start > info.file_size:
        raise errors.DataLossError(f".npy header of {header_len} bytes runs past the member", file=src, key=name)
    dtype, fortran, shape = _parse_header(member.read(header_len), src, name)
    need = math.prod(shape) * dtype.itemsize
    if need != info.file_size - start:
        raise errors.DataLossError(f"shape {list(shape)} of {dtype.str} needs {need} bytes, the member holds "
                                   f"{info.file_size - start}", file=src, key=name)
    if info.compress_type != zipfile.ZIP_STORED and info.file_size > info.compress_size * DEFLATE_MAX_RATIO + 1024:
        raise errors.DataLossError(f"{info.compress_size} compressed bytes cannot expand to {info.file_size}",
                                   file=src, key=name)
    data = member.read(need)
    if len(data) != need:
        raise errors.DataLossError(f"member holds {len(data)} of {need} bytes", file=src, key=name)
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def _parse_header(text: bytes, src: str, name: str):
    try:
        header = ast.literal_eval(text.decode("latin-1"))
        descr, fortran, shape = header["descr"], header["fortran_order"], header["shape"]
        if not isinstance(fortran, bool) or not isinstance(shape, tuple) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise ValueError("fields of the wrong type")
        dtype = np.dtype(np.lib.format.descr_to_dtype(descr))
    except errors.CheckpointError:
        raise
    except Exception as exc:  # literal_eval raises many kinds on arbitrary text; all mean a bad header
        raise errors.DataLossError(f"unreadable .npy header: {type(exc).__name__}: {exc}", file=src, key=name) from None
    if dtype.hasobject:
        raise errors.InvalidArgumentError("object arrays (pickles) are not read", file=src, key=name)
    return dtype, fortran, shape
