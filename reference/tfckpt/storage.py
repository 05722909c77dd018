"""Where checkpoint files are read from: the local file system, or any fsspec URL.

Strategy
--------
A reader needs four things from storage (spec ``spec/storage.md``, STORE-1..4): whether a
path is a file or a directory, a directory's names, a small file's bytes (the ``checkpoint``
state file), and *positioned reads* -- ``length`` bytes at ``offset`` of a file whose size
is known -- for the ``.index`` table and the ``.data-*`` files.  No checkpoint file is
loaded whole or mapped (a ``.meta`` or ``saved_model.pb`` is one message, read whole).

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

Writing to a URL (STORE-5, STORE-6) is staging then upload.  A writer given a URL writes
the finished files in a private local staging directory exactly as it would locally, then
:func:`upload_checkpoint` (or :func:`upload_file`, for one-file outputs) moves them to the
URL in the publish order of ``spec/errors.md`` (PUB-1..5), with storage operations in place
of renames::

    1. every file is uploaded complete under <final>.tempstate<decimal>
    2. an existing P.index is deleted                       the old checkpoint ends here
    3. each data file is moved to its final name            (fs.mv)
    4. the index is moved to its final name                 the new checkpoint begins here
    5. P.data-* of another shard count are deleted

A move is a rename on file systems and a server-side copy on object stores; either way the
final name shows a whole object or none, so a reader of the URL sees the old checkpoint,
the new one, or no index -- never an index beside another save's data.  HTTP(S) has no
write, move or delete and is refused before anything is created.

A filesystem *object* (an fsspec ``AbstractFileSystem`` holding credentials or options) is
named by :func:`fs_url`, which binds it to a URL of this process (``<protocol>+fs<N>://path``)
that every entry point accepts; the public readers also take ``filesystem=``.
"""

from __future__ import annotations

import os
import posixpath
import re
from typing import Union

from . import errors

__all__ = ["is_url", "local_path", "isfile", "isdir", "listdir", "glob", "join", "isabs", "read_bytes",
           "open_file", "RemoteFile", "refuse_url", "read_head", "fs_url", "on_filesystem", "staged", "upload_checkpoint",
           "upload_file", "check_writable"]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(path) -> bool:
    """Whether ``path`` is a URL other than ``file://`` (which is read as a local path)."""
    return isinstance(path, str) and bool(_URL.match(path)) and not path.startswith("file://")


def local_path(path):
    """``file:///a/b`` -> ``/a/b``; anything else unchanged."""
    if isinstance(path, str) and path.startswith("file://"):
        return path[len("file://"):]
    return path


#: Filesystem objects bound by :func:`fs_url`: number -> fs (kept alive for the process).
_BOUND: dict = {}
_BOUND_URL = re.compile(r"^[A-Za-z][A-Za-z0-9.-]*\+fs(\d+)://")


def fs_url(fs, path: str) -> str:
    """A URL naming ``path`` on the fsspec filesystem object ``fs``, for any tfckpt entry point.

    >>> fs = fsspec.filesystem("s3", profile="research")      # doctest: +SKIP
    >>> tfckpt.load_checkpoint(tfckpt.storage.fs_url(fs, "bucket/run/ckpt-5"))  # doctest: +SKIP

    The URL (``s3+fs1://bucket/run/ckpt-5``) is valid in this process only; the object is kept
    alive for the process's lifetime.  Binding the same object twice gives the same number.
    """
    for number, bound in _BOUND.items():
        if bound is fs:
            break
    else:
        number = len(_BOUND) + 1
        _BOUND[number] = fs
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return f"{protocol}+fs{number}://{fs._strip_protocol(os.fspath(path))}"


def on_filesystem(path, filesystem=None):
    """``path`` itself, or with ``filesystem`` given, the URL of ``path`` on that fsspec object."""
    if filesystem is None:
        return path
    return fs_url(filesystem, path)


def _fs(url: str):
    bound = _BOUND_URL.match(url)
    if bound:
        fs = _BOUND.get(int(bound.group(1)))
        if fs is None:
            raise errors.InvalidArgumentError("a filesystem URL of another process (see storage.fs_url)", file=url)
        return fs, url[bound.end():]
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


def read_head(path, length: int) -> bytes:
    """The first ``length`` bytes of a file (sniffing its format), one ranged read for a URL."""
    path = local_path(os.fspath(path))
    if not is_url(path):
        with open(path, "rb") as handle:
            return handle.read(length)
    handle = RemoteFile(path)
    try:
        return handle.pread(length, 0)
    finally:
        handle.close()


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
    """For writers that stay local-only: refuse a URL before creating anything (STORE-5)."""
    if is_url(os.fspath(path)):
        raise errors.UnimplementedError(
            f"{what} to a URL is not supported; write to a local directory and copy the finished files",
            file=os.fspath(path),
        )


# -- writing to a URL: stage locally, upload in the publish order (STORE-5, STORE-6) ---------------

#: Protocols with no write, move or delete: refused before anything is created.
_READ_ONLY = ("http", "https")


def check_writable(url: str, what: str = "writing") -> None:
    """Refuse a URL whose storage cannot be written with the publish order (HTTP), before any work."""
    fs, _ = _fs(url)
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    if any(p in _READ_ONLY for p in protocols):
        raise errors.UnimplementedError(
            f"{what}: {protocols[0]}:// storage has no write, move or delete; write to a local directory "
            "or to storage that has them (gs://, s3://, memory://, ...)",
            file=url,
        )


def _storage_error(exc: BaseException, url: str, what: str) -> errors.CheckpointError:
    """:func:`_remote_error` with the step of the upload that failed in front of its message."""
    error = _remote_error(exc, url)
    error.args = (f"{what}: {error.args[0]}",) + error.args[1:]
    return error


def _call(url: str, what: str, function, *args):
    try:
        return function(*args)
    except errors.CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - the transport's own exceptions
        raise _storage_error(exc, url, what) from None


def upload_checkpoint(local_prefix: str, url_prefix: str) -> None:
    """Upload the finished V2 checkpoint at ``local_prefix`` to ``url_prefix`` in the publish order."""
    from .bundle.naming import is_data_file_of

    directory, base = os.path.split(local_prefix)
    data = [name for name in sorted(os.listdir(directory or ".")) if is_data_file_of(name, base)]
    files = [(os.path.join(directory, n), url_prefix + n[len(base):]) for n in data]
    files.append((local_prefix + ".index", url_prefix + ".index"))
    _upload_in_order(files, url_prefix, stale_data_of=url_prefix)


def upload_file(local_path: str, url: str) -> None:
    """Upload one finished file to ``url``: complete under a temporary name, then moved into place."""
    _upload_in_order([(local_path, url)], url, retire=False)


def _upload_in_order(files, url: str, *, retire: bool = True, stale_data_of=None) -> None:
    """``files`` pairs local paths with final URLs; the last is the one that commits (the index)."""
    from .files import tempstate_name

    fs, _ = _fs(url)
    inner = {final: _fs(final)[1] for _, final in files}
    temps = {}
    try:  # a missing parent directory is created, as locally (ERR-7); object stores have none to create
        fs.makedirs(posixpath.dirname(inner[files[-1][1]]), exist_ok=True)
    except Exception:  # noqa: BLE001 - the upload's own error will say what is wrong
        pass
    try:
        for local, final in files:  # 1: complete under temporary names
            temp = tempstate_name(inner[final])
            _call(final, "uploading", fs.put_file, local, temp)
            temps[final] = temp
        commit_final = files[-1][1]
        if retire and _call(commit_final, "checking", fs.exists, inner[commit_final]):  # 2: retire
            _call(commit_final, "retiring the checkpoint being replaced", fs.rm_file, inner[commit_final])
        for local, final in files:  # 3, then 4 for the last
            _move(fs, temps[final], inner[final], os.path.getsize(local), final)
            del temps[final]
    finally:
        for temp in temps.values():  # what a failure left: best-effort removal
            try:
                fs.rm_file(temp)
            except Exception:  # noqa: BLE001
                pass
    if stale_data_of is not None:
        _remove_stale_remote_shards(fs, stale_data_of, {inner[f] for _, f in files})


def _move(fs, temp: str, target: str, size: int, url: str) -> None:
    """``fs.mv``; a move that raised after its copy landed (an object store's copy-then-delete
    failing at the delete) counts as done: the final name already holds the whole file, and
    the old file under that name was deleted before (step 2), so it can only be this one."""
    try:
        fs.mv(temp, target)
    except Exception as exc:  # noqa: BLE001
        try:
            landed = fs.exists(target) and fs.size(target) == size
        except Exception:  # noqa: BLE001
            landed = False
        if not landed:
            raise _storage_error(exc, url, "moving into place") from None
        try:
            if fs.exists(temp):
                fs.rm_file(temp)
        except Exception:  # noqa: BLE001 - a leftover temporary name, never a final one
            pass


def _remove_stale_remote_shards(fs, url_prefix: str, current: set) -> None:
    from .bundle.naming import is_data_file_of

    prefix = _fs(url_prefix)[1]
    directory, base = posixpath.split(prefix)
    try:
        names = fs.ls(directory, detail=False)
    except Exception:  # noqa: BLE001
        return
    for name in names:
        leaf = posixpath.basename(name.rstrip("/"))
        path = posixpath.join(directory, leaf)
        if is_data_file_of(leaf, base) and path not in current:
            try:
                fs.rm_file(path)
            except Exception:  # noqa: BLE001
                pass


class staged:
    """``with staged(prefix, what) as local:`` -- a local prefix to write; for a URL, uploaded after.

    For a local ``prefix`` this is ``prefix`` itself and nothing else happens.  For a URL the
    writable check runs first, ``local`` is a prefix in a fresh private directory, and leaving
    the block normally uploads the checkpoint there (:func:`upload_checkpoint`, or
    :func:`upload_file` with ``single_file=True``); the staging directory is always removed.
    """

    def __init__(self, prefix, what: str = "writing", *, single_file: bool = False) -> None:
        self.target = os.fspath(prefix)
        self.what = what
        self.single_file = single_file
        self.directory = None  # the staging directory, while there is one
        self.local = self.target  # what the writer writes: the target, or its stand-in in the staging directory

    def __enter__(self) -> str:
        if is_url(self.target):
            check_writable(self.target, self.what)
            import tempfile

            self.directory = tempfile.mkdtemp(prefix="tfckpt-staging-")
            self.local = os.path.join(self.directory, posixpath.basename(self.target.rstrip("/")) or "file")
        return self.local

    def commit(self) -> None:
        """Upload what was written at :attr:`local` to the URL (nothing to do for a local target)."""
        if self.directory is None:
            return
        if self.single_file:
            upload_file(self.local, self.target)
        else:
            upload_checkpoint(self.local, self.target)

    def close(self) -> None:
        if self.directory is not None:
            import shutil

            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.commit()
        finally:
            self.close()
