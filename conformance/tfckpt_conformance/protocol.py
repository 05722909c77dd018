"""The out-of-process protocol, runner side: drive any program as an :class:`Adapter` (spec/conformance.md CONF-10..CONF-19).

Strategy
--------
The implementation under test runs as one long-lived process.  The runner
writes one JSON object per line to its standard input and reads one JSON
object per line from its standard output; standard error is free for logs
(the runner keeps it in a file and shows its tail when the process dies)::

    -> {"id": 0, "op": "hello", "protocol": "tfckpt-conformance/1"}
    <- {"id": 0, "status": "ok", "name": "netron", "version": "9.3.3",
        "operations": ["read", "list"], "features": ["dtype:float32", ...]}
    -> {"id": 1, "op": "read", "prefix": "/tmp/x/ckpt", "verify": true, "out": "/tmp/x/out-1"}
    <- {"id": 1, "status": "ok"}                                  (description written to out)
    -> {"id": 2, "op": "read", "prefix": "/tmp/y/bad", "verify": true, "out": "/tmp/y/out-2"}
    <- {"id": 2, "status": "error", "category": "DATA_LOSS", "message": "..."}

Requests pass file paths, never file contents.  Every reply carries the id of
its request and one ``status``: ``ok``, ``error`` (a clean rejection with a
category), ``unsupported`` (skip), or ``crash`` (the implementation reports its
own internal failure).  Each request has a timeout; a process that exits,
closes its output, prints a line that is not a reply, or misses the timeout is
recorded as a crash or a timeout (:class:`AdapterCrash`, :class:`AdapterTimeout`),
killed, and started again -- with a new ``hello`` -- for the next request.
"""

from __future__ import annotations

import json
import os
import queue
import shlex
import subprocess
import tempfile
import threading
import time
from typing import Optional, Sequence, Union

from . import description as desc_mod
from .adapter import (
    Adapter,
    AdapterCrash,
    AdapterTimeout,
    CheckpointState,
    ImplementationError,
    KeyQuery,
    MetaGraphInfo,
    ResolvedKey,
    TensorInfo,
    Unsupported,
)
from .description import Description, TensorDescription

__all__ = ["PROTOCOL", "SubprocessAdapter"]

PROTOCOL = "tfckpt-conformance/1"

_EOF = object()


class _Process:
    """One running instance of the implementation, with a thread reading its stdout lines."""

    def __init__(self, argv: Sequence[str], env: Optional[dict], cwd: Optional[str], log_path: str) -> None:
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            cwd=cwd,
        )
        self.lines: "queue.Queue[object]" = queue.Queue()
        self._reader = threading.Thread(target=self._read_lines, daemon=True)
        self._reader.start()

    def _read_lines(self) -> None:
        assert self.popen.stdout is not None
        try:
            for line in self.popen.stdout:
                self.lines.put(line)
        except (OSError, ValueError):
            pass
        self.lines.put(_EOF)

    def send(self, obj: dict) -> None:
        assert self.popen.stdin is not None
        data = (json.dumps(obj, ensure_ascii=True) + "\n").encode("ascii")
        self.popen.stdin.write(data)
        self.popen.stdin.flush()

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stderr_tail(self, limit: int = 2000) -> str:
        try:
            self._log.flush()
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - limit))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a process that ignores SIGKILL
            pass
        for stream in (self.popen.stdin, self.popen.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        self._log.close()

    def shutdown(self, request_id: int, timeout: float = 5.0) -> None:
        """Ask politely, then kill."""
        if self.popen.poll() is None:
            try:
                self.send({"id": request_id, "op": "shutdown"})
                self.popen.wait(timeout=timeout)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
        self.kill()


class SubprocessAdapter(Adapter):
    """An :class:`Adapter` whose implementation is a program speaking the protocol.

    ``command`` is a shell-like string or an argv list.  The process starts at
    construction (to learn its capabilities from ``hello``) and again after
    every crash or timeout.
    """

    def __init__(
        self,
        command: Union[str, Sequence[str]],
        *,
        timeout: float = 30.0,
        hello_timeout: float = 120.0,
        env: Optional[dict] = None,
        cwd: Optional[str] = None,
        workdir: Optional[str] = None,
    ) -> None:
        self.argv = shlex.split(command) if isinstance(command, str) else list(command)
        self.timeout = timeout
        self.hello_timeout = hello_timeout
        self.env = env
        self.cwd = cwd
        self._workdir = workdir or tempfile.mkdtemp(prefix="tfckpt-conformance-")
        self._next_id = 0
        self._proc: Optional[_Process] = None
        #: Number of times the process crashed or timed out and was restarted.
        self.restarts = 0
        hello = self._start()
        self.name = str(hello.get("name", "unnamed"))
        self.version = str(hello.get("version", ""))
        self.operations = frozenset(hello.get("operations", []))
        self.features = frozenset(hello.get("features", []))
        self.hello = hello

    # -- process management ---------------------------------------------------

    def _start(self) -> dict:
        log = os.path.join(self._workdir, "stderr.log")
        try:
            self._proc = _Process(self.argv, self.env, self.cwd, log)
        except OSError as exc:
            raise AdapterCrash(f"cannot start {self.argv!r}: {exc}") from exc
        reply = self._exchange({"op": "hello", "protocol": PROTOCOL}, self.hello_timeout)
        if reply.get("status") != "ok":
            raise AdapterCrash(f"hello was answered with {reply!r}")
        return reply

    def _exchange(self, request: dict, timeout: float) -> dict:
        proc = self._proc
        assert proc is not None
        rid = self._next_id
        self._next_id += 1
        request = {"id": rid, **request}
        op = request.get("op")
        try:
            proc.send(request)
        except (OSError, ValueError) as exc:
            self._fail(f"could not send {op!r} request: {exc}")
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self._fail(f"no answer to {op!r} within {timeout:g} s", timeout=True)
            try:
                line = proc.lines.get(timeout=left)
            except queue.Empty:
                self._fail(f"no answer to {op!r} within {timeout:g} s", timeout=True)
            if line is _EOF:
                try:
                    code = proc.popen.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    code = None
                self._fail(f"process closed its output during {op!r} (exit status {code})")
            text = line.decode("utf-8", "replace").strip()  # type: ignore[union-attr]
            if not text:
                continue
            try:
                reply = json.loads(text)
            except ValueError:
                self._fail(f"protocol violation: stdout line is not JSON: {text[:200]!r}")
            if not isinstance(reply, dict) or reply.get("id") != rid:
                self._fail(f"protocol violation: expected a reply with id {rid}, got {text[:200]!r}")
            if reply.get("status") not in ("ok", "error", "unsupported", "crash"):
                self._fail(f"protocol violation: unknown status in {text[:200]!r}")
            return reply

    def _fail(self, why: str, *, timeout: bool = False) -> None:
        proc = self._proc
        tail = proc.stderr_tail() if proc is not None else ""
        if proc is not None:
            proc.kill()
        self._proc = None
        self.restarts += 1
        message = f"{self.name if hasattr(self, 'name') else self.argv[0]}: {why}"
        if tail.strip():
            message += "\n--- stderr (tail) ---\n" + tail.rstrip()
        raise (AdapterTimeout if timeout else AdapterCrash)(message)

    def _request(self, request: dict) -> dict:
        if self._proc is None or not self._proc.alive():
            if self._proc is not None:
                self._proc.kill()
            self._start()
        reply = self._exchange(request, self.timeout)
        status = reply["status"]
        if status == "ok":
            return reply
        message = str(reply.get("message", ""))
        if status == "error":
            raise ImplementationError(str(reply.get("category", "UNKNOWN")), message)
        if status == "unsupported":
            raise Unsupported(message or request["op"])
        raise AdapterCrash(f"implementation reported a crash during {request['op']!r}: {message}")

    def _outdir(self) -> str:
        return tempfile.mkdtemp(prefix="out-", dir=self._workdir)

    def close(self) -> None:
        if self._proc is not None:
            self._proc.shutdown(self._next_id)
            self._proc = None

    # -- operations ---------------------------------------------------------------

    def read(self, prefix: str, *, verify: bool = True) -> Description:
        out = self._outdir()
        self._request({"op": "read", "prefix": prefix, "verify": verify, "out": out})
        return self._load(out, "read")

    def write(self, description: Description, prefix: str) -> None:
        src = self._outdir()
        desc_mod.save(description, src, raw_files=True)
        self._request({"op": "write", "description": src, "prefix": prefix})

    def validate(self, prefix: str) -> None:
        self._request({"op": "validate", "prefix": prefix})

    def list(self, prefix: str) -> list[TensorInfo]:
        reply = self._request({"op": "list", "prefix": prefix})
        try:
            return [TensorInfo(str(t["key"]), str(t["dtype"]), tuple(int(d) for d in t["shape"]))
                    for t in reply["tensors"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise AdapterCrash(f"protocol violation: malformed list reply ({exc})") from None

    def read_slice(self, prefix: str, key: str, slice_spec: str) -> TensorDescription:
        out = self._outdir()
        self._request({"op": "read_slice", "prefix": prefix, "key": key, "slice": slice_spec, "out": out})
        got = self._load(out, "read_slice")
        if len(got.tensors) != 1:
            raise AdapterCrash(f"protocol violation: read_slice answered {len(got.tensors)} tensors, not 1")
        return got.tensors[0]

    def read_state(self, directory: str) -> CheckpointState:
        reply = self._request({"op": "read_state", "directory": directory})
        state = reply.get("state")
        if not isinstance(state, dict):
            raise AdapterCrash("protocol violation: read_state reply without a 'state' object")
        return CheckpointState.from_json(state)

    def write_state(self, directory: str, state: CheckpointState) -> None:
        self._request({"op": "write_state", "directory": directory, "state": state.to_json()})

    def latest_checkpoint(self, directory: str) -> Optional[str]:
        reply = self._request({"op": "latest_checkpoint", "directory": directory})
        prefix = reply.get("prefix")
        if prefix is not None and not isinstance(prefix, str):
            raise AdapterCrash("protocol violation: latest_checkpoint 'prefix' must be a string or null")
        return prefix

    def merge(self, prefixes: list[str], prefix: str) -> None:
        self._request({"op": "merge", "prefixes": [str(p) for p in prefixes], "prefix": str(prefix)})

    def update_state(self, directory, model_checkpoint_path, all_model_checkpoint_paths, *,
                     all_model_checkpoint_timestamps=None, last_preserved_timestamp=None,
                     save_relative_paths=False) -> None:
        # The writer's path rewriting depends on the working directory (STATE-21): the
        # request carries the runner's, and the implementation resolves relative paths against it.
        self._request({
            "op": "update_state",
            "cwd": os.getcwd(),
            "directory": directory,
            "model_checkpoint_path": model_checkpoint_path,
            "all_model_checkpoint_paths": list(all_model_checkpoint_paths),
            "all_model_checkpoint_timestamps": (None if all_model_checkpoint_timestamps is None
                                                else [float(t) for t in all_model_checkpoint_timestamps]),
            "last_preserved_timestamp": (None if last_preserved_timestamp is None
                                         else float(last_preserved_timestamp)),
            "save_relative_paths": bool(save_relative_paths),
        })

    def manage(self, directory: str, series: dict) -> list[list[str]]:
        reply = self._request({"op": "manage", "directory": directory, "series": series})
        return [list(map(str, names)) for names in reply.get("after", [])]

    def rewrite(self, src: str, dst: str, request: dict) -> None:
        self._request({"op": "rewrite", "src": src, "dst": dst, "request": request})

    def freeze(self, graph: str, checkpoint: str, dst: str, request: dict) -> None:
        self._request({"op": "freeze", "graph": str(graph), "checkpoint": str(checkpoint), "dst": str(dst),
                       "request": request})

    def build_saved_model(self, graph: str, checkpoint, dst: str, request: dict) -> None:
        self._request({"op": "build_saved_model", "graph": str(graph),
                       "checkpoint": None if checkpoint is None else str(checkpoint), "dst": str(dst),
                       "request": request})

    def graph(self, path: str) -> dict:
        reply = self._request({"op": "graph", "path": str(path)})
        info = reply.get("graph")
        if not isinstance(info, dict):
            raise AdapterCrash("protocol violation: graph reply needs an object 'graph'")
        return info

    def resolve(self, location: str, query: KeyQuery) -> ResolvedKey:
        reply = self._request({"op": "resolve", "location": str(location), "query": query.to_json()})
        key, tensor_slice = reply.get("key"), reply.get("slice")
        if not isinstance(key, str) or not (tensor_slice is None or isinstance(tensor_slice, str)):
            raise AdapterCrash("protocol violation: resolve reply needs a string 'key' and a string or null 'slice'")
        return ResolvedKey(key, tensor_slice)

    def read_meta_graph(self, location: str) -> MetaGraphInfo:
        reply = self._request({"op": "read_meta_graph", "location": str(location)})
        try:
            return MetaGraphInfo.from_json(reply["meta_graph"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise AdapterCrash(f"protocol violation: malformed read_meta_graph reply ({exc!r})") from None

    def write_v1(self, description: Description, path: str) -> None:
        src = self._outdir()
        desc_mod.save(description, src, raw_files=True)
        self._request({"op": "write_v1", "description": src, "path": str(path)})

    def write_objects(self, description: Description, objects: dict, prefix: str) -> None:
        src = self._outdir()
        desc_mod.save(description, src, raw_files=True)
        self._request({"op": "write_objects", "description": src, "objects": objects, "prefix": str(prefix)})

    def restore_objects(self, description: Description, objects: dict, prefix: str) -> Description:
        src, out = self._outdir(), self._outdir()
        desc_mod.save(description, src, raw_files=True)
        self._request({"op": "restore_objects", "description": src, "objects": objects, "prefix": str(prefix),
                       "out": out})
        return self._load(out, "restore_objects")

    @staticmethod
    def _load(out: str, op: str) -> Description:
        try:
            return desc_mod.load(out)
        except desc_mod.DescriptionError as exc:
            raise AdapterCrash(f"protocol violation: {op} answered ok but its description is unusable: {exc}") from None
