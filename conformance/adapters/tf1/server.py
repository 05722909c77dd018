#!/usr/bin/env python
"""Old TensorFlow (0.12 to 1.15) as an implementation under test, over the line protocol.

Strategy
--------
TensorFlow 0.12 and 1.4 run only under Python 3.6, 1.15 under 3.7, where the
suite's own Python server (``tfckpt_conformance.server``, Python 3.9+) cannot
be imported.  So this is a small standalone program in the Python 3.6 subset,
needing only the standard library, numpy and the TensorFlow under test.  It
speaks the protocol of ``conformance/README.md`` ("In any language: the line
protocol") like the netron adapter does: requests on stdin, one JSON reply per
line on stdout (file descriptor 1 is redirected to stderr while serving, so
TensorFlow's own output cannot corrupt a reply), descriptions read and written
as ``description.json`` plus raw little-endian element files (``raw``); that
translation and the request loop live in ``adapters/lineproto.py``, shared with
the other old-Python adapters.

Only the entry points each release offers its users, graph mode only:

* list / read / validate: ``tf.train.NewCheckpointReader`` (dtypes from
  ``get_variable_to_dtype_map``, or, in 0.12, which has none, from the reader's
  ``debug_string``); a tensor it refuses (V1 float16, bool, complex, quantized,
  sliced V1 tensors) is read with the ``RestoreV2`` op, which handles V1 files
  too, and its refusal is TensorFlow's answer;
* read_slice: ``RestoreV2`` with ``"<full shape> <slice>"``;
* write: the ``SaveV2`` op at the prefix (partitions as ``shape_and_slices``);
* write_v1: the V1 ``Save`` op; merge: ``MergeV2Checkpoints``;
* read_state / latest_checkpoint: ``tf.train.get_checkpoint_state`` and
  ``tf.train.latest_checkpoint``.

``OpError`` codes become categories; any other exception from TensorFlow is a
refusal without a code (``UNKNOWN``); a dying process is a crash, which the
runner records and recovers from by restarting this program.

Usage: ``python conformance/adapters/tf1/server.py`` (with the old
TensorFlow's interpreter; ``tox -e tensorflow-tf115`` and friends).
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.core.framework import types_pb2  # noqa: E402
from tensorflow.python.framework import dtypes as dtypes_lib  # noqa: E402
from tensorflow.python.ops import gen_io_ops  # noqa: E402

from lineproto import BITS, PROTOCOL, Refused, Unsupported, load_description, save_description, serve  # noqa: E402

VERSION = tuple(int(x) for x in tf.__version__.split(".")[:2])

QUANTIZED = {"qint8": "int8", "quint8": "uint8", "qint16": "int16", "quint16": "uint16", "qint32": "int32"}

CODES = {}
for _name in ("NOT_FOUND", "DATA_LOSS", "INVALID_ARGUMENT", "UNIMPLEMENTED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
              "ALREADY_EXISTS", "OUT_OF_RANGE", "INTERNAL"):
    CODES[getattr(tf.errors, _name)] = _name


def _op(*names):
    for n in names:
        if hasattr(gen_io_ops, n):
            return getattr(gen_io_ops, n)
    return None


SAVE_V2 = _op("save_v2", "_save_v2")
RESTORE_V2 = _op("restore_v2", "_restore_v2")
SAVE_V1 = _op("save", "_save")
MERGE = _op("merge_v2_checkpoints", "_merge_v2_checkpoints")


def refusal(exc):
    """The reply for an exception TensorFlow raised."""
    if isinstance(exc, tf.errors.OpError):
        return Refused(CODES.get(exc.error_code, "UNKNOWN"), exc.message)
    return Refused("UNKNOWN", "%s: %s" % (type(exc).__name__, exc))


def makeable_dtypes():
    """The dtypes this release defines that a constant can be made of (0.12 and 1.4 cannot make bfloat16)."""
    out = []
    for name in BITS:
        try:
            dtype = dtypes_lib.as_dtype(name)
        except TypeError:
            continue
        if name == "bfloat16" and np.dtype(dtype.as_numpy_dtype) == np.dtype(np.uint16):
            continue
        out.append(name)
    return out


DTYPES = makeable_dtypes()


def session():
    return tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1))


def run(fetch):
    with session() as s:
        return s.run(fetch)


# -- descriptions ------------------------------------------------------------------------


def to_tensor(dtype, data, shape):
    if dtype == "string":
        arr = np.empty(len(data), dtype=object)
        arr[:] = list(data)
        return tf.constant(arr.reshape(shape), dtype=tf.string)
    if dtype not in DTYPES:
        raise Unsupported("TensorFlow %s cannot make a %s tensor" % (tf.__version__, dtype))
    bits = np.require(data, requirements="C")
    if dtype == "bool":
        return tf.constant(bits.astype(bool))
    target = dtypes_lib.as_dtype(dtype)
    # Through tf.bitcast where tf.constant would change the bits: it passes complex values through
    # Python floats (a signalling NaN comes out quiet), and 1.15 cannot make a small qint16/quint16
    # constant at all (make_tensor_proto uses the 8-bit appender: "Buffer dtype mismatch").
    if dtype in QUANTIZED:
        try:
            return tf.bitcast(tf.constant(bits.view(QUANTIZED[dtype])), target)
        except TypeError:  # 0.12's bitcast has no qint16/quint16 (and its tf.constant makes them)
            return tf.constant(bits.view(QUANTIZED[dtype]), dtype=target)
    if dtype in ("complex64", "complex128"):
        part = np.float32 if dtype == "complex64" else np.float64
        return tf.bitcast(tf.constant(bits.reshape(-1).view(part).reshape(list(bits.shape) + [2])), target)
    return tf.constant(bits.view(np.dtype(target.as_numpy_dtype)), dtype=target)


def parse_slice(spec, shape):
    index = []
    for ext, dim in zip(spec.split(":"), shape):
        if ext == "-":
            index.append(slice(0, dim))
        else:
            start, length = (int(v) for v in ext.split(","))
            index.append(slice(start, start + length))
    return tuple(index)


# -- reading -------------------------------------------------------------------------------


def _reader(prefix):
    """The release's CheckpointReader; a directory is resolved through its state file first (what
    ``tf.train.load_checkpoint``, ``tf.contrib.framework.load_checkpoint`` in 0.12 and 1.4, does)."""
    try:
        if os.path.isdir(prefix):
            latest = tf.train.latest_checkpoint(prefix)
            if latest is None:
                raise Refused("NOT_FOUND", "no checkpoint found in %s" % prefix)
            prefix = latest
        return tf.train.NewCheckpointReader(prefix), prefix
    except Refused:
        raise
    except Exception as exc:  # noqa: BLE001 -- TensorFlow's refusal
        raise refusal(exc)


def listing(reader):
    """{key: (dtype name, shape)} as the reader reports them (its Python layer refuses unknown dtypes with TypeError)."""
    try:
        return _listing(reader)
    except Exception as exc:  # noqa: BLE001 -- TensorFlow's refusal
        raise refusal(exc)


def _listing(reader):
    shapes = reader.get_variable_to_shape_map()
    if hasattr(reader, "get_variable_to_dtype_map"):
        dts = {k: v.name for k, v in reader.get_variable_to_dtype_map().items()}
    else:  # 0.12: the dtypes only appear in debug_string, one "key (DT_X) [shape]" line per tensor
        dts = {}
        for line in reader.debug_string().decode("utf-8", "surrogateescape").splitlines():
            key, sep, rest = line.rpartition(" (DT_")
            if sep:
                dts[key] = dtypes_lib.as_dtype(types_pb2.DataType.Value("DT_" + rest.split(")")[0])).name
    return {k: (dts.get(k, "unknown"), [int(d) for d in shapes[k]]) for k in shapes}


def _restore(prefix, key, dtype, spec=""):
    with tf.Graph().as_default():
        return run(RESTORE_V2(prefix, [key], [spec], [dtypes_lib.as_dtype(dtype)])[0])


def read(prefix):
    reader, prefix = _reader(prefix)
    found = listing(reader)
    out = []
    for key in sorted(found, key=lambda k: k.encode("utf-8", "surrogateescape")):
        dtype = found[key][0]
        try:
            try:
                value = reader.get_tensor(key)
            except Exception:  # noqa: BLE001 -- the Python reader refuses some dtypes and sliced V1 tensors
                value = _restore(prefix, key, dtype)
        except Exception as exc:  # noqa: BLE001
            raise refusal(exc)
        out.append((key, dtype, value))
    return out


def read_slice(prefix, key, spec):
    reader, prefix = _reader(prefix)
    found = listing(reader)
    if key not in found:
        raise Refused("NOT_FOUND", "no tensor %r" % key)
    dtype, shape = found[key]
    try:
        return [(key, dtype, _restore(prefix, key, dtype, " ".join(str(d) for d in shape) + " " + spec))]
    except Exception as exc:  # noqa: BLE001
        raise refusal(exc)


# -- writing ---------------------------------------------------------------------------------


def write(description, prefix):
    names, specs, values = [], [], []
    with tf.Graph().as_default():
        for key, dtype, shape, data, partitions in description:
            if not partitions:
                names.append(key)
                specs.append("")
                values.append(to_tensor(dtype, data, shape))
                continue
            whole = np.array(list(data), dtype=object).reshape(shape) if dtype == "string" else np.asarray(data)
            for p in partitions:
                piece = whole[parse_slice(p, shape)]
                names.append(key)
                specs.append(" ".join(str(d) for d in shape) + " " + p)
                values.append(to_tensor(dtype, list(piece.reshape(-1)) if dtype == "string" else piece, list(piece.shape)))
        try:
            run(SAVE_V2(prefix, names, specs, values))
        except Exception as exc:  # noqa: BLE001
            raise refusal(exc)


def write_v1(description, path):
    if any(p for _, _, _, _, p in description):
        raise Unsupported("write_v1 of partitioned tensors")
    with tf.Graph().as_default():
        tensors = [to_tensor(d, data, shape) for _, d, shape, data, _ in description]
        try:
            run(SAVE_V1(filename=path, tensor_names=[k for k, _, _, _, _ in description], data=tensors))
        except Exception as exc:  # noqa: BLE001
            raise refusal(exc)


def merge(prefixes, prefix):
    if MERGE is None:
        raise Unsupported("no MergeV2Checkpoints in TensorFlow %s" % tf.__version__)
    with tf.Graph().as_default():
        try:
            run(MERGE(list(prefixes), prefix, delete_old_dirs=False))
        except Exception as exc:  # noqa: BLE001
            raise refusal(exc)


# -- the state file ---------------------------------------------------------------------------


def read_state(directory):
    if not os.path.exists(os.path.join(directory, "checkpoint")):
        raise Refused("NOT_FOUND", "no state file in %s" % directory)
    try:
        from google.protobuf import text_format
        from tensorflow.python.training import checkpoint_state_pb2

        state = checkpoint_state_pb2.CheckpointState()
        with open(os.path.join(directory, "checkpoint"), encoding="utf-8") as f:
            text_format.Merge(f.read(), state)
    except Exception as exc:  # noqa: BLE001 -- a parse error is TensorFlow refusing the file
        raise Refused("DATA_LOSS", "%s: %s" % (type(exc).__name__, exc))
    return {"model_checkpoint_path": state.model_checkpoint_path,
            "all_model_checkpoint_paths": list(state.all_model_checkpoint_paths),
            "all_model_checkpoint_timestamps": list(getattr(state, "all_model_checkpoint_timestamps", [])),
            "last_preserved_timestamp": float(getattr(state, "last_preserved_timestamp", 0.0))}


def latest_checkpoint(directory):
    try:
        return tf.train.latest_checkpoint(directory)
    except Exception as exc:  # noqa: BLE001
        raise refusal(exc)


# -- the protocol ----------------------------------------------------------------------------


OPERATIONS = ["read", "validate", "list", "read_slice", "write", "write_v1", "read_state", "latest_checkpoint"] + (["merge"] if MERGE else [])
FEATURES = ["dtype:%s" % d for d in DTYPES] + ["string", "sliced", "multi_shard", "object_graph", "v1", "state_file", "zero_size", "scalar", "snappy"]


def handle(req):
    op = req.get("op")
    if op == "hello":
        return {"status": "ok", "protocol": PROTOCOL, "name": "tensorflow", "version": tf.__version__, "operations": OPERATIONS, "features": FEATURES}
    if op == "shutdown":
        return {"status": "ok"}
    if op == "read":
        save_description(read(req["prefix"]), req["out"])
        return {"status": "ok"}
    if op == "validate":
        read(req["prefix"])
        return {"status": "ok"}
    if op == "list":
        found = listing(_reader(req["prefix"])[0])
        keys = sorted(found, key=lambda k: k.encode("utf-8", "surrogateescape"))
        return {"status": "ok", "tensors": [{"key": k, "dtype": found[k][0], "shape": found[k][1]} for k in keys]}
    if op == "read_slice":
        save_description(read_slice(req["prefix"], req["key"], req["slice"]), req["out"])
        return {"status": "ok"}
    if op == "write":
        write(load_description(req["description"]), req["prefix"])
        return {"status": "ok"}
    if op == "write_v1":
        write_v1(load_description(req["description"]), req["path"])
        return {"status": "ok"}
    if op == "merge" and MERGE:
        merge(req["prefixes"], req["prefix"])
        return {"status": "ok"}
    if op == "read_state":
        return {"status": "ok", "state": read_state(req["directory"])}
    if op == "latest_checkpoint":
        return {"status": "ok", "prefix": latest_checkpoint(req["directory"])}
    return {"status": "unsupported", "message": "operation %r is not offered" % op}


if __name__ == "__main__":
    sys.exit(serve(handle))
