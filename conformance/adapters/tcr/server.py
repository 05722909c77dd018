#!/usr/bin/env python
"""``tensorflow-checkpoint-reader`` (PyPI, a pure-Python port of TensorFlow's bundle code) over the line protocol.

Strategy
--------
The package (0.2.2, the last release) imports only under Python <= 3.10 with
numpy 1.x and protobuf < 3.19, where the suite's own server cannot run, so this
is a standalone program like ``adapters/tf1/server.py`` and shares its protocol
code (``adapters/lineproto.py``).  It only translates between the package's
public entry points and descriptions:

* list / read / validate: ``py_checkpoint_reader.NewCheckpointReader(prefix)``
  (which reads every tensor when it opens the bundle), then
  ``get_variable_to_shape_map``, ``get_variable_to_dtype_map`` and
  ``get_tensor`` for each key; a numpy dtype becomes a TensorFlow dtype name
  through the package's own tables (``numpy_util``).  The package has no
  verification switch and no separate validation, so ``validate`` is a read;
* write: ``tensor_bundle.BundleWriter`` (``add`` of one whole tensor per key,
  then ``finish``); the package's writer raises ``NotImplementedError`` for
  string and variant tensors and has no ``AddSlice``, both answered
  ``unsupported``.

Errors: the package raises TensorFlow-style ``errors.Status`` exceptions, whose
code becomes the category; any other exception it raises is a refusal without
a category (``UNKNOWN``, naming the exception), since its process survives; a
dying process (the package builds numpy object arrays over raw file bytes for
string tensors, and touching them segfaults) is a crash.

Declared: ``read``, ``validate``, ``list``, ``write``; the dtypes the package
maps to numpy; every feature tag of V2 bundles except ``snappy`` (its block
reader raises ``NotImplementedError`` on a compressed block) and ``variant``;
not ``v1`` (there is no V1 reader in the package) nor ``state_file`` (no state
file functions).

Usage: ``<a Python 3.8 venv with requirements.txt>/bin/python conformance/adapters/tcr/server.py`` (``tox -e tcr`` makes one)
(``tox -e tcr`` makes that environment, conformance/README.md).
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow_checkpoint_reader as tcr  # noqa: E402
from tensorflow_checkpoint_reader import env, errors, numpy_util, tensor, tensor_bundle  # noqa: E402
from tensorflow_checkpoint_reader.pb.tensorflow.core.protobuf import error_codes_pb2  # noqa: E402
from tensorflow_checkpoint_reader.py_checkpoint_reader import NewCheckpointReader  # noqa: E402

from lineproto import BITS, PROTOCOL, Refused, Unsupported, load_description, save_description, serve  # noqa: E402

#: TensorFlow dtype name -> DataType enum, for the dtypes the package maps to a numpy dtype.
ENUMS = {numpy_util._TYPE_TO_STRING[e]: e for e, np_type in numpy_util._TYPE_TO_NP.items()
         if np_type is not None and e < 100 and numpy_util._TYPE_TO_STRING.get(e) in BITS}


def refusal(exc):
    """The reply for an exception the package raised."""
    if isinstance(exc, NotImplementedError):
        return Unsupported("tensorflow-checkpoint-reader: NotImplementedError %s" % exc)
    if isinstance(exc, errors.Status) and not exc.ok():
        return Refused(error_codes_pb2.Code.Name(exc.code()), str(exc))
    return Refused("UNKNOWN", "%s: %s" % (type(exc).__name__, exc))


def dtype_name(np_dtype):
    """The TensorFlow name of a numpy dtype the package returned, from the package's own table (its
    ``numpy_dtype_to_data_type`` raises TypeError for the structured quantized dtypes it returns itself)."""
    for enum, np_type in sorted(numpy_util._TYPE_TO_NP.items()):
        if np_type is not None and enum < 100 and np.dtype(np_type) == np_dtype:
            return numpy_util._TYPE_TO_STRING[enum]
    raise Refused("UNKNOWN", "numpy dtype %s has no TensorFlow dtype in tensorflow-checkpoint-reader's table" % np_dtype)


def _open(prefix):
    try:
        reader = NewCheckpointReader(prefix)
        shapes = reader.get_variable_to_shape_map()
        dts = reader.get_variable_to_dtype_map()
    except Exception as exc:  # noqa: BLE001 -- the package's refusal
        raise refusal(exc)
    found = {k: (dtype_name(dts[k]), [int(d) for d in shapes[k]]) for k in shapes}
    return reader, found


def _sorted(keys):
    return sorted(keys, key=lambda k: k.encode("utf-8", "surrogateescape"))


def read(prefix):
    reader, found = _open(prefix)
    out = []
    for key in _sorted(found):
        try:
            value = reader.get_tensor(key)
        except Exception as exc:  # noqa: BLE001
            raise refusal(exc)
        if value is None:
            raise Refused("UNKNOWN", "get_tensor(%r) returned None for a listed key" % key)
        out.append((key, found[key][0], value))
    return out


def write(description, prefix):
    try:
        writer = tensor_bundle.BundleWriter(env.Env.default(), prefix)
        for key, dtype, shape, data, partitions in description:
            if partitions:
                raise Unsupported("tensorflow-checkpoint-reader's BundleWriter has no AddSlice")
            if dtype == "string":
                arr = np.empty(len(data), dtype=object)
                arr[:] = list(data)
                value = arr.reshape(shape)
            elif dtype not in ENUMS:
                raise Unsupported("tensorflow-checkpoint-reader has no numpy dtype for %s" % dtype)
            else:
                value = np.ascontiguousarray(data).view(numpy_util._TYPE_TO_NP[ENUMS[dtype]])
            errors.raise_if_error(writer.add(key, tensor.Tensor.from_array(value)))
        errors.raise_if_error(writer.finish())
    except (Refused, Unsupported):
        raise
    except Exception as exc:  # noqa: BLE001
        raise refusal(exc)


OPERATIONS = ["read", "validate", "list", "write"]
FEATURES = ["dtype:%s" % d for d in sorted(ENUMS)] + ["string", "sliced", "multi_shard", "object_graph", "zero_size", "scalar",
                                                      "big_endian"]


def handle(req):
    op = req.get("op")
    if op == "hello":
        return {"status": "ok", "protocol": PROTOCOL, "name": "tensorflow-checkpoint-reader", "version": tcr.__version__,
                "operations": OPERATIONS, "features": FEATURES}
    if op == "shutdown":
        return {"status": "ok"}
    if op == "read":
        save_description(read(req["prefix"]), req["out"])
        return {"status": "ok"}
    if op == "validate":
        read(req["prefix"])
        return {"status": "ok"}
    if op == "list":
        found = _open(req["prefix"])[1]
        return {"status": "ok", "tensors": [{"key": k, "dtype": found[k][0], "shape": found[k][1]} for k in _sorted(found)]}
    if op == "write":
        write(load_description(req["description"]), req["prefix"])
        return {"status": "ok"}
    return {"status": "unsupported", "message": "operation %r is not offered" % op}


if __name__ == "__main__":
    sys.exit(serve(handle))
