"""A local HTTP server that honours ``Range`` requests, for reading fixtures through ``http://``.

Strategy
--------
The suite's remote mode (``--fixtures-via http``) and tfckpt's remote tests serve a
directory of fixtures from ``127.0.0.1`` on a free port, in a daemon thread, and
count what implementations ask of it: requests, and bytes sent.  The standard
library's ``SimpleHTTPRequestHandler`` ignores ``Range``, so ``GET`` is answered
here: a single range ``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` gets ``206 Partial
Content`` with exactly those bytes, no range the whole file, a range past the end
``416``; ``HEAD`` gives the size and ``Accept-Ranges: bytes``.  A directory gets the
standard library's HTML listing (fsspec's HTTP file system lists directories from
their links).  Nothing is ever written.
"""

from __future__ import annotations

import http.server
import os
import re
import threading
from typing import Optional

__all__ = ["RangeServer"]

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class _Handler(http.server.SimpleHTTPRequestHandler):
    server: "_Server"

    def log_message(self, format, *args):  # noqa: A002 - quiet: the tests read the counters instead
        pass

    def _file(self) -> Optional[str]:
        path = self.translate_path(self.path)
        return path if os.path.isfile(path) else None

    def do_HEAD(self):  # noqa: N802
        path = self._file()
        if path is None:
            return super().do_HEAD()
        self.server.count(0)
        self.send_response(200)
        self.send_header("Content-Length", str(os.path.getsize(path)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()

    def do_GET(self):  # noqa: N802
        path = self._file()
        if path is None:
            self.server.count(0)
            return super().do_GET()  # a directory listing, or 404
        size = os.path.getsize(path)
        start, end, status = 0, size, 200
        wanted = self.headers.get("Range")
        if wanted:
            match = _RANGE.match(wanted.strip())
            if not match or (not match.group(1) and not match.group(2)):
                self.send_error(416, "one range of the form bytes=a-b only")
                return
            if match.group(1):
                start = int(match.group(1))
                end = min(size, int(match.group(2)) + 1) if match.group(2) else size
            else:
                start, end = max(0, size - int(match.group(2))), size
            if start >= size or start >= end:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.end_headers()
                return
            status = 206
        with open(path, "rb") as f:
            f.seek(start)
            body = f.read(end - start)
        self.server.count(len(body))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        self.end_headers()
        self.wfile.write(body)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, directory: str) -> None:
        handler = lambda *a, **k: _Handler(*a, directory=directory, **k)  # noqa: E731
        super().__init__(("127.0.0.1", 0), handler)
        self.lock = threading.Lock()
        self.requests = 0
        self.bytes_sent = 0

    def count(self, nbytes: int) -> None:
        with self.lock:
            self.requests += 1
            self.bytes_sent += nbytes


class RangeServer:
    """``with RangeServer(directory) as server: server.url(relative_path)``; counters in
    ``server.requests`` / ``server.bytes_sent`` (``reset()`` zeroes them)."""

    def __init__(self, directory: str) -> None:
        self.directory = os.path.abspath(directory)
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "RangeServer":
        self._server = _Server(self.directory)
        self._thread = threading.Thread(target=self._server.serve_forever, name="tfckpt-range-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "RangeServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        """The URL of ``path`` (absolute inside the directory, or relative to it)."""
        relative = os.path.relpath(os.path.abspath(os.path.join(self.directory, path)), self.directory)
        return f"{self.base}/{relative.replace(os.sep, '/')}"

    @property
    def requests(self) -> int:
        return self._server.requests

    @property
    def bytes_sent(self) -> int:
        return self._server.bytes_sent

    def reset(self) -> None:
        with self._server.lock:
            self._server.requests = 0
            self._server.bytes_sent = 0
