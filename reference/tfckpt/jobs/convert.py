"""Convert checkpoints to and from safetensors, ``.npz`` and directories of ``.npy`` files.

Strategy
--------
``convert(src, out)`` picks both formats from the names: ``src`` ending in
``.safetensors`` or ``.npz`` is read as such, anything else as a TensorFlow
checkpoint (prefix or directory); ``out`` ending in ``.safetensors`` or ``.npz``
is written as such, ``out`` ending in ``/`` (or ``fmt="npy"``) becomes a directory
of ``.npy`` files, and anything else a TensorFlow checkpoint prefix written by
:class:`tfckpt.BundleWriter` (so never half-written under its final name).

``select``, ``drop`` and ``rename`` are the rules of ``tfckpt rewrite``
(:mod:`tfckpt.jobs.key_rules`): exact keys, globs or ``re:<regex>``; renames as a
mapping, ``(regex, replacement)`` pairs or a callable.

safetensors dtypes (``safetensors>=0.8``, the optional extra ``tfckpt[safetensors]``): the
library's ``TensorSpec`` takes numpy-style names, the file header holds codes::

    float64 F64  float32 F32  float16 F16  bfloat16 BF16  complex64 C64  bool BOOL
    int64 I64  int32 I32  int16 I16  int8 I8  uint64 U64  uint32 U32  uint16 U16  uint8 U8
    float8_e4m3fn F8_E4M3  float8_e5m2 F8_E5M2  float8_e4m3fnuz F8_E4M3FNUZ  float8_e5m2fnuz F8_E5M2FNUZ

Strings, variants and types safetensors has no code for (complex128, quantized,
int4, the fnuz float8s ...) are refused, naming the key, before anything is written.

Memory is bounded by the largest tensor, for every output.  A checkpoint is read
tensor by tensor, and:

* ``.safetensors`` is written in two steps: the header, planned from the index's
  dtypes and shapes alone, then each tensor's bytes in the header's order, read
  from the checkpoint when its turn comes.  The library's ``serialize`` would need
  every tensor in memory at once, so the file is laid out here the way the library
  lays it out, and ``tests/test_diff_convert.py`` checks the bytes against
  ``safetensors.serialize`` on random inputs::

      u64 little-endian N | N bytes of JSON, padded with spaces to a multiple of 8 | data
      JSON: {"__metadata__":{"format":"np"}, name: {"dtype":"F32","shape":[..],"data_offsets":[b,e]}, ...}
      order: by dtype (_FILE_ORDER below), then name ascending; offsets relative to the data start

* ``.npz`` members are written one at a time into the zip (``numpy.lib.format.write_array``,
  what ``numpy.savez`` does for each array), a directory of ``.npy`` and a checkpoint
  tensor by tensor.

Both inputs are read by :mod:`tfckpt.jobs.foreign` one tensor at a time (a
``.safetensors`` file is validated by the library, then read at its offsets), under
the checkpoint readers' contract (tfckpt errors only, allocations the bytes justify).

Keras 3 weight files (``src`` ending in ``.h5``, ``.hdf5`` or ``.keras``) are read by
:mod:`tfckpt.objects.keras_h5`, keys being the HDF5 dataset paths
(``layers/dense/vars/0``).  Given the model's layers (``keras_layers``), the conversion
is structural instead (:mod:`tfckpt.objects.keras_convert`): ``.weights.h5`` to the
object-based checkpoint Keras restores, or a checkpoint to ``OUT.weights.h5``.
"""

from __future__ import annotations

import os
from typing import Iterator, Optional

import numpy as np

from .. import errors
from .key_rules import matcher, renamer

__all__ = ["convert", "SAFETENSORS_DTYPES"]

SAFETENSORS_DTYPES = {
    "float64": "F64", "float32": "F32", "float16": "F16", "bfloat16": "BF16", "complex64": "C64",
    "bool": "BOOL", "int64": "I64", "int32": "I32", "int16": "I16", "int8": "I8",
    "uint64": "U64", "uint32": "U32", "uint16": "U16", "uint8": "U8",
    "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2",
    "float8_e4m3fnuz": "F8_E4M3FNUZ", "float8_e5m2fnuz": "F8_E5M2FNUZ",
}
_FROM_SAFETENSORS = {code: name for name, code in SAFETENSORS_DTYPES.items()}


_ITEMSIZE = {  # bytes per element of each safetensors code
    "F64": 8, "I64": 8, "U64": 8, "C64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2,
    "I16": 2, "U16": 2, "BOOL": 1, "I8": 1, "U8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
    "F8_E4M3FNUZ": 1, "F8_E5M2FNUZ": 1,
}
#: The order of the library's data section: by dtype in this order, then by name (read off
#: safetensors 0.8.0's serialize output for one tensor of each code; its Rust Dtype enum,
#: sorted descending).  tests/test_diff_convert.py compares our bytes with the library's.
_FILE_ORDER = ["U64", "I64", "F64", "C64", "F32", "U32", "I32", "BF16", "F16", "U16", "I16",
               "F8_E5M2FNUZ", "F8_E4M3FNUZ", "F8_E4M3", "F8_E5M2", "I8", "U8", "BOOL"]
_RANK = {code: i for i, code in enumerate(_FILE_ORDER)}


#: Names read as Keras 3 weight files (tfckpt.objects.keras_h5): dataset paths as keys.
KERAS_SUFFIXES = (".h5", ".hdf5", ".keras")


class _Source:
    """What a conversion reads: the kept keys, their new names, and each tensor on demand."""

    def __init__(self, src: str, select, drop, rename, out: str) -> None:
        self.src, self.out, self.reader = src, out, None
        foreign = src.endswith(".safetensors") or src.endswith(".npz")
        if src.endswith(KERAS_SUFFIXES):
            from ..objects.keras_h5 import load_keras_weights

            self.reader = load_keras_weights(src)  # the checkpoint-reader interface, dataset paths as keys
        elif not foreign:
            from ..checkpoint_reader import load_checkpoint

            self.reader = load_checkpoint(src)
        keys = sorted(self.reader.keys()) if self.reader is not None else None
        self.keep = matcher(select, "select", keys)
        self.leave = matcher(drop, "drop", keys)
        self.new_name = renamer(rename)
        # (new name, source key) of every kept tensor, known up front for a checkpoint.
        self.plan = None if keys is None else list(self._unique((self.new_name(k), k) for k in keys if self._kept(k)))

    def _kept(self, key: str) -> bool:
        return (self.keep is None or self.keep(key)) and not (self.leave is not None and self.leave(key))

    def _unique(self, pairs) -> Iterator[tuple]:
        """``pairs`` (new name first) as they come, refusing a second tensor under one new name."""
        seen = set()
        for pair in pairs:
            if pair[0] in seen:
                raise errors.InvalidArgumentError(f"two tensors would be written as {pair[0]!r}", file=self.out,
                                                  key=pair[0])
            seen.add(pair[0])
            yield pair

    def pairs(self) -> Iterator[tuple[str, np.ndarray]]:
        """(new name, array), one tensor in memory at a time where the input allows."""
        if self.reader is not None:
            for name, key in self.plan:
                yield name, self.reader.get_tensor(key)
            return
        if self.src.endswith(".safetensors"):
            from .foreign import read_safetensors

            stream = read_safetensors(self.src, _FROM_SAFETENSORS)
        else:
            from .foreign import read_npz

            stream = read_npz(self.src)
        yield from self._unique((self.new_name(key), value) for key, value in stream if self._kept(key))

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()


def _require_safetensors():
    try:
        import safetensors
    except ImportError:
        raise errors.UnimplementedError(
            "writing or reading .safetensors needs the safetensors package: pip install 'tfckpt[safetensors]'"
        ) from None
    return safetensors


def convert(
    src,
    out,
    *,
    select=None,
    drop=None,
    rename=None,
    fmt: Optional[str] = None,
    on_tensor=None,
    keras_layers=None,
    keras_kind: str = "sequential",
    keras_name: Optional[str] = None,
) -> list[str]:
    """Convert ``src`` to ``out`` (formats from the names, see the module docstring); returns the names
    written.  ``select``/``drop``/``rename`` are ``tfckpt.rewrite``'s rules; memory stays bounded by
    the largest tensor.

    ``keras_layers`` (one :class:`tfckpt.objects.keras_convert.KerasLayer` or mapping per layer of
    ``model.layers``) makes it a Keras conversion: a ``.weights.h5``/``.keras`` ``src`` becomes the
    object-based checkpoint ``tf.train.Checkpoint(model=model)`` restores, and a checkpoint ``src``
    with ``out`` ending in ``.h5`` the ``.weights.h5`` that ``model.load_weights`` accepts.
    """
    src, out = os.fspath(src), os.fspath(out)
    if keras_layers is not None or out.endswith(KERAS_SUFFIXES):
        return _convert_keras(src, out, keras_layers, keras_kind, keras_name, bool(select or drop or rename))
    fmt = fmt or (
        "safetensors" if out.endswith(".safetensors") else "npz" if out.endswith(".npz")
        else "npy" if out.endswith(os.sep) or out.endswith("/") else "checkpoint"
    )
    if fmt not in ("safetensors", "npz", "npy", "checkpoint"):
        raise errors.InvalidArgumentError(f"unknown output format {fmt!r}", file=out)
    source = _Source(src, select, drop, rename, out)
    written: list[str] = []

    def each():
        for name, value in source.pairs():
            written.append(name)
            yield name, value
            if on_tensor is not None:
                on_tensor(name, value.nbytes)
            del value  # every loop drops its tensor before the next is read: one in memory

    try:
        if fmt == "safetensors":
            if source.plan is not None:
                layout = _safetensors_header(source)
                # Read in the file's order, so that no tensor waits in memory for its turn.
                key_of = dict(source.plan)
                source.plan = [(name, key_of[name]) for name, _, _ in layout[1]]
                _write_safetensors(out, layout, each())
            else:  # a foreign input is in memory already (see the module docstring)
                arrays = dict(each())
                layout = _safetensors_header_of(arrays, out)
                _write_safetensors(out, layout, ((name, arrays[name]) for name, _, _ in layout[1]))
        elif fmt == "npz":
            _publish(out, lambda f: _write_npz(f, each()))
        elif fmt == "npy":
            from .. import storage

            if not storage.is_url(out):
                os.makedirs(out, exist_ok=True)
            for name, value in each():
                target = storage.join(out, name.replace("/", "__") + ".npy")
                _publish(target, lambda f, value=value: np.save(f, value, allow_pickle=value.dtype == object))
                del value
        else:
            from ..bundle import BundleWriter

            with BundleWriter(out) as writer:
                for name, value in each():
                    writer.add(name, value)
                    del value
    finally:
        source.close()
    return written


def _code(name: str, dtype_name: str, out: str) -> str:
    code = SAFETENSORS_DTYPES.get(dtype_name)
    if code is None:
        what = "strings" if dtype_name in ("string", "object") else f"dtype {dtype_name}"
        raise errors.InvalidArgumentError(
            f"safetensors cannot hold {what}; leave the key out (--select/--drop) or convert to .npz/.npy",
            file=out, key=name,
        )
    return code


def _layout(entries: list, out: str) -> tuple[bytes, list]:
    """Header bytes and [(name, code, nbytes)] in file order, for entries [(name, dtype name, shape)]."""
    import json
    import math

    rows = [(name, _code(name, dtype, out), list(shape)) for name, dtype, shape in entries]
    rows.sort(key=lambda r: (_RANK[r[1]], r[0]))
    header: dict = {"__metadata__": {"format": "np"}}
    order, offset = [], 0
    for name, code, shape in rows:
        nbytes = math.prod(shape) * _ITEMSIZE[code]
        header[name] = {"dtype": code, "shape": shape, "data_offsets": [offset, offset + nbytes]}
        order.append((name, code, nbytes))
        offset += nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text, order


def _safetensors_header(source: _Source):
    shapes = source.reader.get_variable_to_shape_map()
    dtypes = source.reader.get_variable_to_dtype_map()
    return _layout([(name, dtypes[key].name, shapes[key]) for name, key in source.plan], source.out)


def _safetensors_header_of(arrays: dict, out: str):
    return _layout([(n, "object" if v.dtype == object else v.dtype.name, v.shape) for n, v in arrays.items()], out)


def _write_safetensors(out: str, layout, pairs) -> None:
    """The header, then each tensor's little-endian bytes; ``pairs`` come in the header's order."""
    header, order = layout

    def write(f):
        f.write(header)
        # A plain counter, not zip() or enumerate(): their reused result tuples would keep the
        # last tensor alive while the next one is read.
        index = 0
        for name, value in pairs:
            planned = order[index]
            index += 1
            if name != planned[0]:
                raise errors.InternalError(f"tensor {name!r} came out of the header's order", file=out, key=name)
            _write_tensor(f, planned, value, out)
            del value

    _publish(out, write)


def _write_tensor(f, planned, value, out: str) -> None:
    name, code, nbytes = planned
    data = np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<"))
    if SAFETENSORS_DTYPES.get(data.dtype.name) != code or data.nbytes != nbytes:
        raise errors.InternalError(f"tensor differs from the index's dtype or shape ({data.dtype}, {data.shape})",
                                   file=out, key=name)
    f.write(data.reshape(-1).view(np.uint8).data)  # raw bytes: ml_dtypes types have no buffer format


def _write_npz(f, pairs) -> None:
    """What ``numpy.savez`` writes, one member at a time (its own helpers, so the bytes are numpy's)."""
    import zipfile

    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, value in pairs:
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=value.dtype == object)
            del value


def _convert_keras(src, out, layers, kind, name, filtered) -> list[str]:
    from ..objects import keras_convert

    if layers is None:
        raise errors.InvalidArgumentError(
            "writing a .weights.h5 needs the model's layers (--keras-layers FILE.json: one "
            '{"class_name": ..., "weights": [weight paths]} per layer of model.layers)', file=out)
    if filtered:
        raise errors.InvalidArgumentError("--select/--drop/--rename do not apply to a Keras conversion", file=out)
    if src.endswith(KERAS_SUFFIXES):
        if out.endswith(KERAS_SUFFIXES):
            raise errors.InvalidArgumentError("a Keras conversion goes to or from a checkpoint prefix", file=out)
        keras_convert.weights_h5_to_checkpoint(src, out, layers, kind=kind, name=name)
        return [path for path, _ in keras_convert.h5_layout(layers, kind)]
    return keras_convert.checkpoint_to_weights_h5(src, out, layers, kind=kind, name=name)


def _publish(final: str, write) -> None:
    """``write(file object)`` under a temporary name, renamed into place when complete (files.atomic_output)."""
    from ..files import atomic_output, tempstate_name

    with atomic_output(final, tempstate_name(final)) as handle:
        write(handle)
