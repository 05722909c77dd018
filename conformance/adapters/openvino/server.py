#!/usr/bin/env python
"""OpenVINO's TensorFlow frontend (PyPI ``openvino``) over the line protocol: what it reads of a V2 checkpoint.

Strategy
--------
OpenVINO has no checkpoint API: its TensorFlow frontend reads a checkpoint
only while it converts a graph whose variable nodes name the checkpoint's
tensors (a MetaGraph ``.meta`` beside ``<prefix>.index``, a SavedModel, or a
GraphDef with a V1 checkpoint).  So this adapter *asks OpenVINO the question
a user's conversion asks*, and the answer has two sources, kept apart:

* **from the suite's own minimal reader, not from OpenVINO**: the keys, and
  each key's dtype and shape.  ``tfckpt_conformance.sstable`` walks the index
  table and ``tfckpt_conformance.wire`` decodes each ``BundleEntryProto``
  (neither is the reference implementation; no checksum is checked there).
  They only say which variables the graph declares, with the dtype and shape
  attributes a TF1 graph would carry for them;
* **from OpenVINO**: everything it does with the files.  The adapter writes a
  MetaGraph into a scratch directory beside symlinks ``ckpt.index`` and
  ``ckpt.data-*`` to the checkpoint's files.  The graph is what a TF1
  ``Saver`` leaves: one ``VariableV2`` per key (named ``tfckpt/v<i>``, not
  after the key), ``save/RestoreV2`` whose ``tensor_names`` constant holds the
  keys, an ``Assign`` of each of its outputs to its variable (OpenVINO maps a
  variable to its key through exactly this pattern), and a ``Reshape`` of
  each variable to a placeholder shape as the signature's outputs (OpenVINO
  drops outputs that fold to constants, so a bare ``Identity`` would leave an
  empty model).  ``FrontEndManager().load_by_framework("tf")`` loads it --
  OpenVINO parses the index, the header, the object graph if any, and opens
  the data files -- and ``convert`` turns each variable into a ``Constant``.
  The reply is each Constant's element type (mapped to TensorFlow's name),
  shape and bytes, or OpenVINO's exception.

What follows from that split, said in conformance/README.md too: OpenVINO
never compares an entry's dtype or shape with the graph's (it checks only that
``size`` is the graph's element count times the element width), so corruption
of those fields is seen as far as that check reveals, and the dtype and shape
in a reply are the graph's, which are the entry's.  ``list`` and ``validate``
are not offered: OpenVINO has neither, and a listing would be the suite's own
reader's.  OpenVINO's exceptions carry no status code: a refusal is
``UNKNOWN`` with its message.

Keys the graph cannot ask OpenVINO for are left out of it: a dtype outside
the nine its variable reader has (uint8, int8, int16, int32, int64, float16,
float32, float64, bfloat16), a partitioned tensor (slices), a shape no graph
can declare (negative or unknown dimensions).  OpenVINO still parses the whole
index, so its refusal of such a checkpoint is the answer; if it accepts, the
reply is ``unsupported`` (a skip: what it would make of the left-out keys is
unknown).  When the suite's reader cannot walk the index at all (a corrupt or
missing ``.index``), the graph names no variable: OpenVINO's refusal is again
the answer, and if it accepts, the reply is a checkpoint of no tensors --
what that conversion gives its user.

Declared: ``read``; the nine dtypes; ``multi_shard``, ``zero_size``,
``scalar``.  Not: ``string``/``object_graph`` (string variables are not
read), ``sliced``, ``big_endian`` (OpenVINO refuses it), ``snappy`` (the
suite's reader walks only uncompressed blocks), ``v1``, ``variant``,
``state_file``.

Usage: ``<a Python 3.11 venv with requirements.txt>/bin/python conformance/adapters/openvino/server.py``
(``tox -e openvino`` makes one; conformance/README.md).
"""

import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # adapters/: lineproto
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # conformance/: the suite's sstable and wire readers

import numpy as np  # noqa: E402
import openvino  # noqa: E402
from openvino.frontend import FrontEndManager  # noqa: E402

from lineproto import PROTOCOL, Refused, Unsupported, save_description, serve  # noqa: E402
from tfckpt_conformance import sstable, wire  # noqa: E402

#: TensorFlow DataType enum -> name, for the dtypes OpenVINO's variable reader has.
DTYPES = {1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 9: "int64", 14: "bfloat16",
          19: "float16"}
#: OpenVINO element type name -> TensorFlow dtype name (what a Constant OpenVINO made says it holds).
OV_TYPES = {"f32": "float32", "f64": "float64", "i32": "int32", "u8": "uint8", "i16": "int16", "i8": "int8",
            "i64": "int64", "bf16": "bfloat16", "f16": "float16"}
DT_INT32, DT_STRING = 3, 7


# -- the few protobuf messages the graph needs, encoded by hand (the venv has no TensorFlow protos) ---------------

def _varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _num(field, value):
    return _varint(field << 3) + _varint(value)


def _bytes(field, payload):
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _shape(dims):  # TensorShapeProto: dim (2) { size (1) }
    return b"".join(_bytes(2, _num(1, d)) for d in dims)


def _node(name, op, inputs=(), attrs=()):  # GraphDef.node (1): NodeDef name 1, op 2, input 3, attr 5
    body = _bytes(1, name) + _bytes(2, op) + b"".join(_bytes(3, i) for i in inputs)
    body += b"".join(_bytes(5, _bytes(1, key) + _bytes(2, value)) for key, value in attrs)
    return _bytes(1, body)


def _type_attr(dtype):  # AttrValue.type (6)
    return _num(6, dtype)


def _strings_const(name, strings):  # Const of a string vector: AttrValue.tensor (8) = TensorProto dtype 1, shape 2, string_val 8
    tensor = _num(1, DT_STRING) + _bytes(2, _shape([len(strings)])) + b"".join(_bytes(8, s) for s in strings)
    return _node(name, "Const", (), [("dtype", _type_attr(DT_STRING)), ("value", _bytes(8, tensor))])


def _tensor_info(name, dtype):  # TensorInfo name 1, dtype 2
    return _bytes(1, name) + _num(2, dtype)


def meta_graph(variables):
    """A MetaGraphDef restoring ``variables`` ([(key bytes, dtype enum, dims)]) as a TF1 Saver graph does."""
    keys = [key for key, _, _ in variables]
    nodes = [_strings_const("save/filename", [b"ckpt"]),
             _strings_const("save/RestoreV2/tensor_names", keys),
             _strings_const("save/RestoreV2/shape_and_slices", [b""] * len(keys))]
    dtypes = b"".join(_varint(dtype) for _, dtype, _ in variables)
    nodes.append(_node("save/RestoreV2", "RestoreV2",
                       ["save/filename", "save/RestoreV2/tensor_names", "save/RestoreV2/shape_and_slices"],
                       [("dtypes", _bytes(1, _bytes(6, dtypes)))]))  # AttrValue.list (1) { type (6), packed }
    inputs, outputs = [], []
    for i, (_, dtype, dims) in enumerate(variables):
        var, shape_in = "tfckpt/v%d" % i, "tfckpt/shape%d" % i
        nodes += [
            _node(var, "VariableV2", (), [("dtype", _type_attr(dtype)), ("shape", _bytes(7, _shape(dims)))]),
            _node("save/Assign_%d" % i, "Assign", [var, "save/RestoreV2:%d" % i], [("T", _type_attr(dtype))]),
            _node(shape_in, "Placeholder", (), [("dtype", _type_attr(DT_INT32)), ("shape", _bytes(7, _shape([len(dims)])))]),
            _node("tfckpt/out%d" % i, "Reshape", [var, shape_in], [("T", _type_attr(dtype)), ("Tshape", _type_attr(DT_INT32))]),
        ]
        inputs.append(("shape%d" % i, _tensor_info(shape_in + ":0", DT_INT32)))
        outputs.append(("out%d" % i, _tensor_info("tfckpt/out%d:0" % i, dtype)))
    graph = b"".join(nodes) + _bytes(4, _num(1, 27))  # GraphDef.versions (4) { producer (1) }
    # SignatureDef inputs 1, outputs 2 (map<string, TensorInfo>), method_name 3
    signature = b"".join(_bytes(1, _bytes(1, k) + _bytes(2, v)) for k, v in inputs)
    signature += b"".join(_bytes(2, _bytes(1, k) + _bytes(2, v)) for k, v in outputs)
    signature += _bytes(3, "tensorflow/serving/predict")
    # MetaGraphDef graph_def 2, signature_def 5 (map<string, SignatureDef>)
    return _bytes(2, graph) + _bytes(5, _bytes(1, "serving_default") + _bytes(2, signature))


# -- what the suite's reader says the graph must declare ---------------------------------------------------------

def variables_of(prefix):
    """What the graph declares: ([(key bytes, dtype enum, dims)] in stored order, [why each other key is left out]),
    or None when the suite's reader cannot walk the index."""
    try:
        entries = sstable.read_table_file(prefix + ".index")
    except (OSError, sstable.SSTableError):
        return None
    declared, left_out, seen = [], [], set()
    for key, value in entries:
        if key == b"" or key in seen:  # the header; a repeated key (OpenVINO keeps one entry per key)
            continue
        seen.add(key)
        why = _undeclarable(key, value)
        if why:
            left_out.append(why)
        else:
            declared.append((key,) + _dtype_and_dims(value))
    return declared, left_out


def _dtype_and_dims(value):
    entry = wire.decode(value)
    shape = wire.decode(wire.first(entry, 2, b""))
    dims = [wire.varint_to_int32(wire.first(wire.decode(d.value), 1, 0)) for d in wire.fields(shape, 2)]
    return wire.first(entry, 1, 0), dims  # (varint_to_int32 sign-extends the 64-bit varint of an int64 too)


def _undeclarable(key, value):
    """Why a graph cannot ask OpenVINO for this entry, or None."""
    name = key.decode("utf-8", "replace")
    if key.startswith(b"\x00"):
        return "%r is the slice entry of a partitioned tensor" % name
    try:
        entry = wire.decode(value)
        dtype, dims = _dtype_and_dims(value)
        unknown_rank = wire.first(wire.decode(wire.first(entry, 2, b"")), 3, 0)
    except wire.WireError as exc:
        return "the suite's reader cannot decode the entry of %r (%s)" % (name, exc)
    if wire.fields(entry, 7):
        return "%r is partitioned (its entry has slices)" % name
    if dtype not in DTYPES:
        return "%r has dtype %d, which OpenVINO's variable reader does not have" % (name, dtype)
    if unknown_rank or any(d < 0 for d in dims):
        return "%r has a shape no graph can declare (%s)" % (name, "unknown rank" if unknown_rank else dims)
    return None


# -- OpenVINO ----------------------------------------------------------------------------------------------------

def _link_checkpoint(prefix, scratch):
    """``scratch/ckpt.index`` and ``scratch/ckpt.data-*`` as symlinks to the checkpoint's files (those that exist)."""
    directory, base = os.path.split(os.path.abspath(prefix))
    for name in sorted(os.listdir(directory or ".")):
        if name == base + ".index" or name.startswith(base + ".data-"):
            os.symlink(os.path.join(directory, name), os.path.join(scratch, "ckpt" + name[len(base):]))


def convert(prefix, variables):
    """OpenVINO's conversion of the graph declaring ``variables``: [(key, dtype name, numpy array)]."""
    scratch = tempfile.mkdtemp(prefix="tfckpt-openvino-")
    try:
        if os.path.isdir(os.path.dirname(os.path.abspath(prefix))):
            _link_checkpoint(prefix, scratch)
        path = os.path.join(scratch, "ckpt.meta")
        with open(path, "wb") as f:
            f.write(meta_graph(variables))
        frontend = FrontEndManager().load_by_framework("tf")
        try:
            model = frontend.convert(frontend.load(path))
        except Exception as exc:  # noqa: BLE001 -- OpenVINO's refusal (it has no status codes)
            raise Refused("UNKNOWN", "OpenVINO: %s: %s" % (type(exc).__name__, str(exc).strip()))
        results = {r.get_friendly_name(): r for r in model.get_results()}
        out = []
        for i, (key, _, _) in enumerate(variables):
            result = results.get("out%d" % i)
            if result is None:
                raise Refused("UNKNOWN", "OpenVINO's model has no output for key %r" % key.decode("utf-8", "replace"))
            node = result.input_value(0).get_node()
            while node.get_type_name() != "Constant" and node.get_input_size():
                node = node.input_value(0).get_node()  # the Reshape, unless OpenVINO folded it away
            if node.get_type_name() != "Constant":
                raise Refused("UNKNOWN", "OpenVINO made a %s, not a Constant, of variable %r"
                              % (node.get_type_name(), key.decode("utf-8", "replace")))
            ov_type = node.get_element_type().get_type_name()
            if ov_type not in OV_TYPES:
                raise Refused("UNKNOWN", "OpenVINO's Constant for %r has element type %s" % (key, ov_type))
            shape = [int(d) for d in node.get_output_shape(0)]
            try:
                data = np.array(node.get_data(), copy=True)  # own the bytes: OpenVINO maps the data file
            except ValueError as exc:  # OpenVINO accepted a shape whose byte count overflows: no array holds it
                raise Unsupported("OpenVINO accepted %r as a Constant of shape %s, which no numpy array can hold (%s)"
                                  % (key.decode("utf-8", "replace"), shape, exc))
            out.append((key.decode("utf-8", "surrogateescape"), OV_TYPES[ov_type], data.reshape(shape)))
        return out
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def read(prefix):
    listed = variables_of(prefix)
    declared, left_out = listed if listed is not None else ([], [])
    tensors = convert(prefix, declared)  # OpenVINO's refusal, if any, is the answer
    if left_out:
        raise Unsupported("OpenVINO converted the graph of the %d keys it can read; it cannot read: %s"
                          % (len(declared), "; ".join(left_out)))
    return tensors


def in_child(work):
    """Run ``work`` in a forked child without this process's pipes, and answer as it ended.

    OpenVINO dies of SIGSEGV on some files; on some of them a process it leaves behind keeps every inherited
    descriptor, so the runner's end of the reply pipe would never see EOF and the whole run would stall.  The
    child closes every descriptor above stderr before OpenVINO runs; when it dies of a signal, this process
    dies of the same one, so the runner records the crash as OpenVINO's and restarts the server."""
    fd, outcome = tempfile.mkstemp(prefix="tfckpt-openvino-outcome-")
    os.close(fd)
    pid = os.fork()
    if pid == 0:
        os.closerange(3, 65536)
        try:
            work()
            result = ("ok",)
        except Refused as exc:
            result = ("refused", exc.category, exc.message)
        except Unsupported as exc:
            result = ("unsupported", str(exc))
        except BaseException:  # noqa: BLE001 -- the adapter's own failure: a crash reply
            import traceback
            result = ("crash", traceback.format_exc(limit=8))
        with open(outcome, "w", encoding="utf-8") as f:
            json.dump(result, f)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    try:
        if os.WIFSIGNALED(status):
            os.kill(os.getpid(), os.WTERMSIG(status))
        with open(outcome, encoding="utf-8") as f:
            result = json.load(f)
    finally:
        os.unlink(outcome)
    if result[0] == "refused":
        raise Refused(result[1], result[2])
    if result[0] == "unsupported":
        raise Unsupported(result[1])
    if result[0] == "crash":
        raise RuntimeError(result[1])


OPERATIONS = ["read"]
FEATURES = ["dtype:%s" % d for d in sorted(DTYPES.values())] + ["multi_shard", "zero_size", "scalar"]


def handle(req):
    op = req.get("op")
    if op == "hello":
        return {"status": "ok", "protocol": PROTOCOL, "name": "openvino", "version": openvino.__version__.split("-")[0],
                "operations": OPERATIONS, "features": FEATURES}
    if op == "shutdown":
        return {"status": "ok"}
    if op == "read":
        in_child(lambda: save_description(read(req["prefix"]), req["out"]))
        return {"status": "ok"}
    return {"status": "unsupported", "message": "operation %r is not offered (OpenVINO only converts graphs)" % op}


if __name__ == "__main__":
    sys.exit(serve(handle))
