"""Where checkpoint files are read from: the local file system, or any fsspec URL.

Strategy
--------
A reader needs four things from storage (spec ``spec/storage.md``, STORE-1..5): whether a
path is a file or a directory, a directory's names, a small file's bytes (the ``checkpoint``
state file), and *positioned reads* -- ``length`` bytes at ``offset`` of a file whose size
is known -- for the ``.index`` table and the ``.data-*`` files.  Nothing else: no file is
loaded whole, mapped, or written.

* A local path (or a ``file://`` URL, which becomes its path) goes to ``os`` exactly as
  before this module existed: :func:`open_file` returns a plain file descriptor, read with
  ``os.pread``/``os.preadv`` by the callers, so local reading pays nothing for the seam.
* Any other URL (``gs://``, ``s3://``, ``https://``, ``memory://``, ...) goes to fsspec, the
  maintained file-system abstraction (optional extra ``tfckpt[remote]``).  :func:`open_file`
  returns a :class:`RemoteFile` whose reads are ``fs.cat_file(path, start, end)``: one
  ranged request per read, no cache, no whole-file download.  fsspec's and the
  transport's errors become :mod:`tfckpt.errors` errors naming the URL and the offset; so
  does a reply that is not bytes or holds more than the range asked for (a server that
  ignores ``Range``).  A shorter reply is what a read at the end of a file gives: the
  callers check lengths as they do for local files.

Writing to a URL is refused (STORE-5): a checkpoint is published by renames in a fixed
order (``spec/errors.md``, PUB-*), which object stores do not offer atomically.  Write
locally, then copy the finished files.
"""

from __future__ import annotations

import os
import posixpath
import re
from typing import Union

from . import errors

__all__ = ["is_url", "local_path", "isfile", "isdir", "listdir", "glob", "join", "isabs", "read_bytes",
           "open_file", "RemoteFile", "refuse_url"]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(path) -> bool:
    """Whether ``path`` is a URL other than ``file://`` (which is read as a local path)."""
    return isinstance(path, str) and bool(_URL.match(path)) and not path.startswith("file://")


def local_path(path):
    """``file:///a/b`` -> ``/a/b``; anything else unchanged."""
    if isinstance(path, str) and path.startswith("file://"):
        return path[len("file://"):]
    return path


def _fs(url: str):
    try:
        import fsspec
    except ImportError:
        raise errors.UnimplementedError(
            f"reading {url.split('://')[0]}:// URLs needs fsspec: pip install 'tfckpt[remote]'", file=url
        ) from None
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:  # a protocol whose implementation is not installed
        raise errors.UnimplementedError(f"cannot read this URL: {exc}", file=url) from None
    return fs, path


def _remote_error(exc: BaseException, url: str, offset=None) -> errors.CheckpointError:
    if isinstance(exc, FileNotFoundError):
        return errors.FileNotFound("no such file", file=url, offset=offset)
    if isinstance(exc, PermissionError):
        return errors.PermissionDeniedError(f"permission denied: {exc}", file=url, offset=offset)
    return errors.UnavailableError(f"storage error: {type(exc).__name__}: {exc}", file=url, offset=offset)


def isfile(path) -> bool:
    path = local_path(os.fspath(path))
    if not is_url(path):
        return os.path.isfile(path)
    fs, inner = _fs(path)
    try:
        # info(), not fs.isfile(): for http:// that is a HEAD request, where isfile() GETs the file.
        return fs.info(inner).get("type") == "file"
    except FileNotFoundError:
        return False
    except Exception as exc:  # noqa: BLE001 - the transport's own exceptions (aiohttp, botocore, ...)
        raise _remote_error(exc, path) from None


def isdir(path) -> bool:
    path = local_path(os.fspath(path))
    if not is_url(path):
        return os.path.isdir(path)
    fs, inner = _fs(path.rstrip("/"))
    try:
        return bool(fs.isdir(inner))
    except Exception as exc:  # noqa: BLE001
        raise _remote_error(exc, path) from None


def listdir(path) -> list:
    """The names (not paths) in a directory."""
    path = local_path(os.fspath(path))
    if not is_url(path):
        return os.listdir(path)
    fs, inner = _fs(path)
    try:
        return [posixpath.basename(p.rstrip("/")) for p in fs.ls(inner, detail=False)]
    except FileNotFoundError:
        raise errors.FileNotFound("no such directory", file=path) from None
    except Exception as exc:  # noqa: BLE001
        raise _remote_error(exc, path) from None


def glob(pattern) -> list:
    """Paths matching a glob pattern (V1 checkpoints named by a pattern of their shards), sorted."""
    pattern = local_path(os.fspath(pattern))
    if not is_url(pattern):
        import glob as local_glob

        return sorted(local_glob.glob(pattern))
    fs, inner = _fs(pattern)
    try:
        return sorted(fs.unstrip_protocol(p) if "://" not in p else p for p in fs.glob(inner))
    except FileNotFoundError:
        return []
    except Exception as exc:  # noqa: BLE001
        raise _remote_error(exc, pattern) from None


def join(directory, *names) -> str:
    directory = os.fspath(directory)
    if is_url(directory):
        return posixpath.join(directory, *names)
    return os.path.join(directory, *names)


def isabs(path) -> bool:
    return is_url(path) or os.path.isabs(local_path(path))


def read_bytes(path) -> bytes:
    """A small file's bytes (the state file)."""
    path = local_path(os.fspath(path))
    if not is_url(path):
        with open(path, "rb") as handle:
            return handle.read()
    fs, inner = _fs(path)
    try:
        data = fs.cat_file(inner)
    except Exception as exc:  # noqa: BLE001
        raise _remote_error(exc, path) from None
    return _received(data, path, 0, None)


def _received(data, url: str, offset: int, asked) -> bytes:
    """What a file system returned for a read, as bytes: bytes-like, and no more than ``asked``.

    fsspec promises bytes; a file system (or a server ignoring the Range header) that sends
    something else, or more than the range, is a storage error, not data to use."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise errors.UnavailableError(f"storage returned {type(data).__name__}, not bytes", file=url, offset=offset)
    data = bytes(data)
    if asked is not None and len(data) > asked:
        raise errors.UnavailableError(f"storage returned {len(data)} bytes for a read of {asked}",
                                      file=url, offset=offset)
    return data


class RemoteFile:
    """Positioned reads of one file behind an fsspec URL: each read is one ranged request."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._fs, self._path = _fs(url)
        try:
            info = self._fs.info(self._path)
        except Exception as exc:  # noqa: BLE001
            raise _remote_error(exc, url) from None
        if info.get("type") != "file" or info.get("size") is None:
            raise errors.FileNotFound("not a file, or its size is unknown", file=url)
        self.size = int(info["size"])

    def pread(self, length: int, offset: int) -> bytes:
        if length <= 0 or offset >= self.size:
            return b""
        end = min(offset + length, self.size)
        try:
            data = self._fs.cat_file(self._path, start=offset, end=end)
        except Exception as exc:  # noqa: BLE001
            raise _remote_error(exc, self.url, offset) from None
        return _received(data, self.url, offset, end - offset)

    def readinto(self, view: memoryview, offset: int) -> int:
        data = self.pread(len(view), offset)
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._fs = None


def open_file(path) -> Union[int, RemoteFile]:
    """A local file descriptor (opened read-only) or a :class:`RemoteFile`; the caller closes it
    (:func:`close_file`).  Local errors are the ``OSError`` of ``os.open``."""
    path = local_path(os.fspath(path))
    if is_url(path):
        return RemoteFile(path)
    return os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))


def file_size(handle) -> int:
    return handle.size if isinstance(handle, RemoteFile) else os.fstat(handle).st_size


def close_file(handle) -> None:
    if isinstance(handle, RemoteFile):
        handle.close()
    else:
        os.close(handle)


def refuse_url(path, what: str = "writing") -> None:
    """STORE-5: writers take local paths only (the publish order needs atomic renames)."""
    if is_url(os.fspath(path)):
        raise errors.UnimplementedError(
            f"{what} to a URL is not supported: a checkpoint is published by ordered renames, which remote "
            "storage does not offer; write to a local directory and copy the finished files",
            file=os.fspath(path),
        )
