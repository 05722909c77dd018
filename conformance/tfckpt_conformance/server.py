"""The out-of-process protocol, implementation side, for adapters written in Python.

Strategy
--------
``serve(adapter)`` turns any in-process :class:`~tfckpt_conformance.adapter.Adapter`
into a program speaking the line protocol of ``protocol.py`` on stdin/stdout.
It exists so that the protocol is exercised in every run (the reference is
shipped both ways) and as a worked example for other languages.

Standard output belongs to the protocol alone: before serving, file
descriptor 1 is pointed at standard error, so a stray ``print`` or a C library
writing to stdout cannot corrupt a reply.

Usage::

    python -m tfckpt_conformance.server package.module:AdapterClass
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import traceback
from typing import IO

from . import description as desc_mod
from .adapter import Adapter, AdapterCrash, CheckpointState, ImplementationError, KeyQuery, Unsupported
from .description import Description
from .protocol import PROTOCOL

__all__ = ["serve", "handle", "main"]


def handle(adapter: Adapter, request: dict) -> dict:
    """Answer one request (without its id)."""
    op = request.get("op")
    try:
        if op == "hello":
            return {"status": "ok", "protocol": PROTOCOL, **adapter.describe()}
        if op == "shutdown":
            return {"status": "ok"}
        if op not in adapter.operations:
            return {"status": "unsupported", "message": f"operation {op!r} is not offered"}
        if op == "read":
            got = adapter.read(request["prefix"], verify=bool(request.get("verify", True)))
            desc_mod.save(got, request["out"])
            return {"status": "ok"}
        if op == "write":
            adapter.write(desc_mod.load(request["description"]), request["prefix"])
            return {"status": "ok"}
        if op == "validate":
            adapter.validate(request["prefix"])
            return {"status": "ok"}
        if op == "list":
            infos = adapter.list(request["prefix"])
            return {"status": "ok", "tensors": [{"key": i.key, "dtype": i.dtype, "shape": list(i.shape)} for i in infos]}
        if op == "read_slice":
            tensor = adapter.read_slice(request["prefix"], request["key"], request["slice"])
            desc_mod.save(Description([tensor]), request["out"])
            return {"status": "ok"}
        if op == "read_state":
            return {"status": "ok", "state": adapter.read_state(request["directory"]).to_json()}
        if op == "write_state":
            adapter.write_state(request["directory"], CheckpointState.from_json(request["state"]))
            return {"status": "ok"}
        if op == "latest_checkpoint":
            return {"status": "ok", "prefix": adapter.latest_checkpoint(request["directory"])}
        if op == "merge":
            adapter.merge(list(request["prefixes"]), request["prefix"])
            return {"status": "ok"}
        if op == "update_state":
            with _working_directory(request.get("cwd")):
                adapter.update_state(
                    request["directory"],
                    request["model_checkpoint_path"],
                    list(request.get("all_model_checkpoint_paths") or []),
                    all_model_checkpoint_timestamps=request.get("all_model_checkpoint_timestamps"),
                    last_preserved_timestamp=request.get("last_preserved_timestamp"),
                    save_relative_paths=bool(request.get("save_relative_paths", False)),
                )
            return {"status": "ok"}
        if op == "resolve":
            found = adapter.resolve(request["location"], KeyQuery.from_json(request["query"]))
            return {"status": "ok", "key": found.key, "slice": found.slice}
        if op == "read_meta_graph":
            return {"status": "ok", "meta_graph": adapter.read_meta_graph(request["location"]).to_json()}
        if op == "rewrite":
            adapter.rewrite(request["src"], request["dst"], request["request"])
            return {"status": "ok"}
        if op == "freeze":
            adapter.freeze(request["graph"], request["checkpoint"], request["dst"], request["request"])
            return {"status": "ok"}
        if op == "build_saved_model":
            adapter.build_saved_model(request["graph"], request.get("checkpoint"), request["dst"], request["request"])
            return {"status": "ok"}
        if op == "graph":
            return {"status": "ok", "graph": adapter.graph(request["path"])}
        if op == "manage":
            return {"status": "ok", "after": adapter.manage(request["directory"], request["series"])}
        if op == "write_v1":
            adapter.write_v1(desc_mod.load(request["description"]), request["path"])
            return {"status": "ok"}
        if op == "write_objects":
            adapter.write_objects(desc_mod.load(request["description"]), request["objects"], request["prefix"])
            return {"status": "ok"}
        if op == "restore_objects":
            restored = adapter.restore_objects(desc_mod.load(request["description"]), request["objects"], request["prefix"])
            desc_mod.save(restored, request["out"])
            return {"status": "ok"}
        return {"status": "unsupported", "message": f"unknown operation {op!r}"}
    except ImplementationError as exc:
        return {"status": "error", "category": exc.reported_category, "message": exc.message}
    except Unsupported as exc:
        return {"status": "unsupported", "message": str(exc)}
    except AdapterCrash as exc:
        return {"status": "crash", "message": str(exc)}
    except Exception:  # an uncaught exception in the implementation is a crash, reported as such
        return {"status": "crash", "message": traceback.format_exc(limit=8)}


@contextlib.contextmanager
def _working_directory(path):
    """Run one request as if the process's working directory were ``path`` (the runner's)."""
    if not path:
        yield
        return
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def serve(adapter: Adapter, stdin: IO[str] = None, stdout: IO[str] = None) -> int:  # type: ignore[assignment]
    """Serve requests until ``shutdown`` or end of input; returns the exit status."""
    if stdout is None:
        stdout = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
        os.dup2(2, 1)  # anything else written to fd 1 now goes to stderr
        sys.stdout = sys.stderr
    if stdin is None:
        stdin = sys.stdin
    for line in stdin:
        line = line.strip()
        if not line:
            continue
        try:
            request = json.loads(line)
        except ValueError:
            print(f"not JSON: {line[:200]!r}", file=sys.stderr)
            return 2
        reply = handle(adapter, request)
        reply = {"id": request.get("id"), **reply}
        stdout.write(json.dumps(reply, ensure_ascii=True) + "\n")
        stdout.flush()
        if request.get("op") == "shutdown":
            break
    adapter.close()
    return 0


def load_adapter_class(spec: str):
    """``package.module:Class`` -> the class."""
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise SystemExit(f"expected module:Class, got {spec!r}")
    return getattr(importlib.import_module(module_name), attr)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m tfckpt_conformance.server package.module:AdapterClass", file=sys.stderr)
        return 2
    return serve(load_adapter_class(argv[0])())


if __name__ == "__main__":
    sys.exit(main())
