"""The suite's remote mode: golden fixtures read through ``http://`` or ``memory://`` URLs.

Strategy
--------
``pytest conformance/tests --fixtures-via http`` serves the fixture directory from
:class:`~tfckpt_conformance.range_server.RangeServer` (a local server honouring ``Range``)
and hands implementations URLs instead of paths for the golden families (``golden_case``:
Read, List, Validate, ReadSlice, KeyOrder); expected values are still read from the local
descriptions.  ``--fixtures-via memory`` copies the fixtures into fsspec's in-process
memory file system -- for in-process adapters only (``--impl``), since another process
cannot see it.  Implementations that do not read URLs are told so by their failures; the
mode exists for those that claim remote reading (tfckpt's ``storage`` module, spec STORE-*).
"""

from __future__ import annotations

import os
from typing import Optional

__all__ = ["RemoteFixtures", "MODES"]

MODES = ("local", "http", "memory")


class RemoteFixtures:
    def __init__(self, mode: str, directory: str) -> None:
        self.mode = mode
        self.directory = os.path.abspath(directory)
        self._server = None
        if mode == "http":
            from .range_server import RangeServer

            self._server = RangeServer(self.directory).start()
        elif mode == "memory":
            import fsspec

            fs = fsspec.filesystem("memory")
            for root, _, files in os.walk(self.directory):
                for name in files:
                    local = os.path.join(root, name)
                    with open(local, "rb") as f:
                        fs.pipe(self._memory_path(local), f.read())
        else:
            raise ValueError(f"unknown fixture mode {mode!r}")

    def _memory_path(self, local: str) -> str:
        relative = os.path.relpath(local, self.directory).replace(os.sep, "/")
        return f"/tfckpt-conformance-fixtures/{relative}"

    def url(self, local: Optional[str]) -> Optional[str]:
        """The URL under which ``local`` (a path inside the fixture directory) is served."""
        if local is None:
            return None
        if self.mode == "http":
            return self._server.url(local)
        return "memory://" + self._memory_path(os.path.abspath(local))

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
