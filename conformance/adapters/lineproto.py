"""The line protocol for standalone adapters on old Pythons (conformance/README.md, "In any language").

Strategy
--------
The suite's own server (``tfckpt_conformance.server``) needs Python 3.9+, but
some implementations under test only run under older interpreters (TensorFlow
0.12 to 1.15 under 3.6/3.7, ``tensorflow-checkpoint-reader`` under 3.8).  Their
adapters are standalone programs (``adapters/tf1/server.py``,
``adapters/tcr/server.py``) that share this module: Python 3.6 grammar, only
the standard library and numpy.  It does the translation every such adapter
needs and nothing that judges:

* ``load_description(dir)``: a ``write`` request's description directory as
  ``[(key, dtype, shape, data, partitions)]``: ``data`` a numpy array of the
  element bits (``BITS``, little-endian) or, for strings, a list of bytes;
* ``save_description(tensors, out)``: ``[(key, dtype, value)]`` as
  ``description.json`` plus ``raw/t<i>.bin`` element files;
* ``serve(handle)``: the request loop.  ``handle(req)`` returns the reply
  dict; raising :class:`Refused` answers ``error`` with a category,
  :class:`Unsupported` answers ``unsupported``, anything else is this
  program's own failure and answers ``crash``.  File descriptor 1 is moved to
  stderr while serving, so nothing the library prints can corrupt a reply.

Run from its own directory (``python conformance/adapters/<x>/server.py``), an
adapter finds this module by putting its parent directory on ``sys.path``.
"""

import base64
import json
import os
import sys
import traceback

import numpy as np

PROTOCOL = "tfckpt-conformance/1"

#: Bit-pattern numpy dtype of each dtype the old implementations know (spec/description-format.md).
BITS = {"float32": "<f4", "float64": "<f8", "int32": "<i4", "uint8": "u1", "int16": "<i2", "int8": "i1", "complex64": "<c8",
        "int64": "<i8", "bool": "u1", "qint8": "i1", "quint8": "u1", "qint32": "<i4", "bfloat16": "<u2", "qint16": "<i2",
        "quint16": "<u2", "uint16": "<u2", "complex128": "<c16", "float16": "<u2", "uint32": "<u4", "uint64": "<u8"}


class Refused(Exception):
    """The implementation refused the request: an ``error`` reply with a category."""

    def __init__(self, category, message):
        Exception.__init__(self, message)
        self.category, self.message = category, message


class Unsupported(Exception):
    """The implementation does not offer what the request needs: an ``unsupported`` reply (a skip)."""


def load_description(directory):
    """[(key, dtype, shape, data, partitions)] of a description directory (raw element files or strings)."""
    with open(os.path.join(directory, "description.json"), encoding="utf-8") as f:
        meta = json.load(f)
    out = []
    for t in meta["tensors"]:
        if t["dtype"] == "string":
            data = [base64.b64decode(s) for s in t.get("strings_base64", [])]
        elif t["dtype"] not in BITS:
            raise Unsupported("dtype %s" % t["dtype"])
        else:
            with open(os.path.join(directory, t["raw"]), "rb") as f:
                data = np.frombuffer(f.read(), dtype=BITS[t["dtype"]]).reshape(t["shape"])
        out.append((t["key"], t["dtype"], list(t["shape"]), data, t.get("partitions")))
    return out


def save_description(tensors, out):
    """Write [(key, dtype, value)] as description.json + raw/t<i>.bin into ``out``."""
    os.makedirs(os.path.join(out, "raw"), exist_ok=True)
    entries = []
    for i, (key, dtype, value) in enumerate(tensors):
        entry = {"key": key, "dtype": dtype, "shape": [int(d) for d in np.shape(value)]}
        if dtype == "string":
            entry["strings_base64"] = [base64.b64encode(bytes(x)).decode("ascii") for x in np.asarray(value, dtype=object).reshape(-1)]
        else:
            a = np.require(np.asarray(value), requirements="C")
            if a.dtype.fields:
                a = a.view(a.dtype.fields[list(a.dtype.fields)[0]][0])
            if dtype == "bool":
                a = a.astype(np.uint8)
            with open(os.path.join(out, "raw", "t%d.bin" % i), "wb") as f:
                f.write(a.view(BITS[dtype]).tobytes())  # a little-endian host (the suite refuses others)
            entry["raw"] = "raw/t%d.bin" % i
        entries.append(entry)
    with open(os.path.join(out, "description.json"), "w", encoding="utf-8") as f:
        json.dump({"format": "tfckpt-description/1", "tensors": entries}, f)


def serve(handle):
    """Answer requests from stdin until ``shutdown`` or end of input; returns the exit status."""
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req = json.loads(line)
        try:
            reply = handle(req)
        except Refused as exc:
            reply = {"status": "error", "category": exc.category, "message": exc.message[:2000]}
        except Unsupported as exc:
            reply = {"status": "unsupported", "message": str(exc)}
        except Exception:  # noqa: BLE001 -- an exception of the adapter itself is a crash
            reply = {"status": "crash", "message": traceback.format_exc(limit=8)}
        reply["id"] = req.get("id")
        out.write(json.dumps(reply, ensure_ascii=True) + "\n")
        out.flush()
        if req.get("op") == "shutdown":
            break
    return 0
