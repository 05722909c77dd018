"""Convert checkpoints to and from safetensors, ``.npz`` and directories of ``.npy`` files.

Strategy
--------
``convert(src, out)`` picks both formats from the names: ``src`` ending in
``.safetensors`` or ``.npz`` is read as such, anything else as a TensorFlow
checkpoint (prefix or directory); ``out`` ending in ``.safetensors`` or ``.npz``
is written as such, ``out`` ending in ``/`` (or ``fmt="npy"``) becomes a directory
of ``.npy`` files, and anything else a TensorFlow checkpoint prefix written by
:class:`tfckpt.BundleWriter` (so never half-written under its final name).

``select`` (glob patterns, a key kept if it matches any) and ``rename`` (pairs
``(regex, replacement)`` applied in order with ``re.sub``) are a small stand-in
for the rule engine of ``tfckpt rewrite``.

safetensors dtypes (``safetensors>=0.8``, the optional extra ``tfckpt[safetensors]``): the
library's ``TensorSpec`` takes numpy-style names, the file header holds codes::

    float64 F64  float32 F32  float16 F16  bfloat16 BF16  complex64 C64  bool BOOL
    int64 I64  int32 I32  int16 I16  int8 I8  uint64 U64  uint32 U32  uint16 U16  uint8 U8
    float8_e4m3fn F8_E4M3  float8_e5m2 F8_E5M2  float8_e4m3fnuz F8_E4M3FNUZ  float8_e5m2fnuz F8_E5M2FNUZ

Strings, variants and types safetensors has no code for (complex128, quantized,
int4, the fnuz float8s ...) are refused, naming the key.  Memory, honestly: the
checkpoint side is read tensor by tensor; the ``.npy`` directory and checkpoint
outputs are written tensor by tensor (memory bounded by the largest tensor); but
the safetensors library's ``serialize`` takes every tensor's bytes at once (and returns the file's bytes),
and ``.npz`` is written by numpy from a dict, so those two outputs hold the whole
selection in memory.  Reading safetensors goes through the library's
``deserialize`` (the whole file in memory); ``.npz`` members load one at a time.
Both inputs are read by :mod:`tfckpt.jobs.foreign`, which holds them to the
checkpoint readers' contract (tfckpt errors only, allocations the bytes justify).

Keras 3 weight files (``src`` ending in ``.h5``, ``.hdf5`` or ``.keras``) are read by
:mod:`tfckpt.objects.keras_h5`, keys being the HDF5 dataset paths
(``layers/dense/vars/0``).  Given the model's layers (``keras_layers``), the conversion
is structural instead (:mod:`tfckpt.objects.keras_convert`): ``.weights.h5`` to the
object-based checkpoint Keras restores, or a checkpoint to ``OUT.weights.h5``.
"""

from __future__ import annotations

import fnmatch
import os
import re
from typing import Iterable, Iterator, Optional, Sequence

import numpy as np

from .. import errors

__all__ = ["convert", "SAFETENSORS_DTYPES"]

SAFETENSORS_DTYPES = {
    "float64": "F64", "float32": "F32", "float16": "F16", "bfloat16": "BF16", "complex64": "C64",
    "bool": "BOOL", "int64": "I64", "int32": "I32", "int16": "I16", "int8": "I8",
    "uint64": "U64", "uint32": "U32", "uint16": "U16", "uint8": "U8",
    "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2",
    "float8_e4m3fnuz": "F8_E4M3FNUZ", "float8_e5m2fnuz": "F8_E5M2FNUZ",
}
_FROM_SAFETENSORS = {code: name for name, code in SAFETENSORS_DTYPES.items()}


def _kept(name: str, select: Optional[Sequence[str]]) -> bool:
    return not select or any(fnmatch.fnmatchcase(name, pattern) for pattern in select)


def _renamed(name: str, rename: Sequence[tuple[str, str]]) -> str:
    for pattern, replacement in rename:
        name = re.sub(pattern, replacement, name)
    return name


#: Names read as Keras 3 weight files (tfckpt.objects.keras_h5): dataset paths as keys.
KERAS_SUFFIXES = (".h5", ".hdf5", ".keras")


def _read(src: str) -> Iterator[tuple[str, np.ndarray]]:
    """(key, array) pairs of ``src``, one at a time where the format allows."""
    if src.endswith(KERAS_SUFFIXES):
        from ..objects.keras_h5 import load_keras_weights

        with load_keras_weights(src) as reader:
            for name in reader.keys():
                yield name, reader.get_tensor(name)
    elif src.endswith(".safetensors"):
        from .foreign import read_safetensors

        yield from read_safetensors(src, _FROM_SAFETENSORS)
    elif src.endswith(".npz"):
        from .foreign import read_npz

        yield from read_npz(src)
    else:
        from ..checkpoint_reader import load_checkpoint

        with load_checkpoint(src) as reader:
            for name in sorted(reader.keys()):
                yield name, reader.get_tensor(name)


def _require_safetensors():
    try:
        import safetensors
    except ImportError:
        raise errors.UnimplementedError(
            "writing or reading .safetensors needs the safetensors package: pip install 'tfckpt[safetensors]'"
        ) from None
    return safetensors


def _safetensors_spec(safetensors, name: str, value: np.ndarray, out: str):
    """A ``TensorSpec`` pointing at ``value``'s little-endian C-order bytes (the caller keeps them alive)."""
    if value.dtype == object or value.dtype.name not in SAFETENSORS_DTYPES:
        what = "strings" if value.dtype == object else f"dtype {value.dtype.name}"
        raise errors.InvalidArgumentError(
            f"safetensors cannot hold {what}; leave the key out (--select) or convert to .npz/.npy", file=out, key=name
        )
    return safetensors.TensorSpec(
        dtype=value.dtype.name, shape=list(value.shape), data_ptr=value.ctypes.data, data_len=value.nbytes
    )


def convert(
    src,
    out,
    *,
    select: Optional[Iterable[str]] = None,
    rename: Sequence[tuple[str, str]] = (),
    fmt: Optional[str] = None,
    on_tensor=None,
    keras_layers=None,
    keras_kind: str = "sequential",
    keras_name: Optional[str] = None,
) -> list[str]:
    """Convert ``src`` to ``out`` (formats from the names, see the module docstring); returns the keys written.

    ``keras_layers`` (one :class:`tfckpt.objects.keras_convert.KerasLayer` or mapping per layer of
    ``model.layers``) makes it a Keras conversion: a ``.weights.h5``/``.keras`` ``src`` becomes the
    object-based checkpoint ``tf.train.Checkpoint(model=model)`` restores, and a checkpoint ``src``
    with ``out`` ending in ``.h5`` the ``.weights.h5`` that ``model.load_weights`` accepts.
    """
    src, out = os.fspath(src), os.fspath(out)
    if keras_layers is not None or out.endswith(KERAS_SUFFIXES):
        return _convert_keras(src, out, keras_layers, keras_kind, keras_name, bool(select or rename))
    select = list(select or ())
    fmt = fmt or (
        "safetensors" if out.endswith(".safetensors") else "npz" if out.endswith(".npz")
        else "npy" if out.endswith(os.sep) or out.endswith("/") else "checkpoint"
    )
    pairs = ((_renamed(k, rename), v) for k, v in _read(src) if _kept(k, select))
    written: list[str] = []

    def each():
        for name, value in pairs:
            if name in written:
                raise errors.InvalidArgumentError(f"two tensors would be written as {name!r}", file=out, key=name)
            written.append(name)
            yield name, value
            if on_tensor is not None:
                on_tensor(name, value.nbytes)

    if fmt == "safetensors":
        safetensors = _require_safetensors()
        arrays = {name: np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<")) for name, value in each()}
        specs = {name: _safetensors_spec(safetensors, name, value, out) for name, value in arrays.items()}
        _publish(out, lambda f: f.write(safetensors.serialize(specs, metadata={"format": "np"})))
        del specs, arrays
    elif fmt == "npz":
        arrays = dict(each())
        _publish(out, lambda f: np.savez(f, **arrays))
    elif fmt == "npy":
        os.makedirs(out, exist_ok=True)
        for name, value in each():
            target = os.path.join(out, name.replace("/", "__") + ".npy")
            _publish(target, lambda f, value=value: np.save(f, value, allow_pickle=value.dtype == object))
    elif fmt == "checkpoint":
        from ..bundle import BundleWriter

        with BundleWriter(out) as writer:
            for name, value in each():
                writer.add(name, value)
    else:
        raise errors.InvalidArgumentError(f"unknown output format {fmt!r}", file=out)
    return written


def _convert_keras(src, out, layers, kind, name, filtered) -> list[str]:
    from ..objects import keras_convert

    if layers is None:
        raise errors.InvalidArgumentError(
            "writing a .weights.h5 needs the model's layers (--keras-layers FILE.json: one "
            '{"class_name": ..., "weights": [weight paths]} per layer of model.layers)', file=out)
    if filtered:
        raise errors.InvalidArgumentError("--select/--rename do not apply to a Keras conversion", file=out)
    if src.endswith(KERAS_SUFFIXES):
        if out.endswith(KERAS_SUFFIXES):
            raise errors.InvalidArgumentError("a Keras conversion goes to or from a checkpoint prefix", file=out)
        keras_convert.weights_h5_to_checkpoint(src, out, layers, kind=kind, name=name)
        return [path for path, _ in keras_convert.h5_layout(layers, kind)]
    return keras_convert.checkpoint_to_weights_h5(src, out, layers, kind=kind, name=name)


def _publish(final: str, write) -> None:
    """``write(file object)`` under a temporary name, renamed into place when complete (files.atomic_output)."""
    from ..files import atomic_output, tempstate_name

    os.makedirs(os.path.dirname(final) or ".", exist_ok=True)  # as BundleWriter does for a prefix
    with atomic_output(final, tempstate_name(final)) as handle:
        write(handle)
