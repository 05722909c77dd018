"""Writing files so that they appear under their final name only when complete.

TensorFlow writes every checkpoint file under a temporary name and renames it
into place (``BundleWriter``: ``<name>.tempstate<random decimal>``; the state
file: ``<name>.tmp<hex uuid>``).  :func:`atomic_output` does the same: it yields
a file object open on the temporary path, and on success flushes, fsyncs and
renames it over the final path; on any failure it deletes the temporary file.
A missing parent directory is created first, as every writer of this package
does (spec ERR-7).  An operating-system failure (no space, no permission, a
directory in the way) becomes a :mod:`tfckpt.errors` error naming the final file.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import IO, Iterator

from . import errors

__all__ = ["atomic_output", "tempstate_name", "directory_lock"]


def tempstate_name(final_path: str) -> str:
    """``<final>.tempstate<random uint64 in decimal>``, TensorFlow's temporary-name scheme."""
    import secrets  # imported by the first writer, not by readers

    return f"{final_path}.tempstate{secrets.randbits(64)}"


@contextlib.contextmanager
def atomic_output(final_path: str, temp_path: str, mode: str = "xb", *, sync: bool = True, **open_args) -> Iterator[IO]:
    from . import storage

    if storage.is_url(final_path):  # written locally, then uploaded whole and moved into place (STORE-5)
        with storage.staged(final_path, f"writing {final_path.rsplit('/', 1)[-1]}", single_file=True) as local:
            with atomic_output(local, local + ".part", mode, sync=False, **open_args) as handle:
                yield handle
        return
    try:
        with errors.os_errors(f"writing {os.path.basename(final_path)}", file=final_path):
            directory = os.path.dirname(final_path)
            if directory:
                os.makedirs(directory, exist_ok=True)
            with open(temp_path, mode, **open_args) as handle:
                yield handle
                handle.flush()
                if sync:
                    os.fsync(handle.fileno())
            os.replace(temp_path, final_path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temp_path)
        raise


# -- serialising writers across processes (STATE-34, PUB-8) -----------------------------------------

_held: dict = {}  # realpath of a locked directory -> the thread holding its lock, in this process
_held_guard = threading.Lock()


@contextlib.contextmanager
def directory_lock(directory) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``directory`` itself (no lock file is made), reentrant
    within one process; a no-op where ``fcntl`` is missing (Windows).  The state file's
    read-modify-write (STATE-34) and the renames that publish a checkpoint (PUB-8) take it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    directory = os.fspath(directory) or "."
    from . import storage

    if storage.is_url(directory):  # remote storage has no locks: one writer at a time is the caller's
        yield
        return
    with errors.os_errors("creating the checkpoint directory", file=directory):
        os.makedirs(directory, exist_ok=True)
    key = os.path.realpath(directory)
    with _held_guard:
        reentered = _held.get(key) == threading.get_ident()
    if reentered:  # the outer holder releases it
        yield
        return
    with errors.os_errors("locking the checkpoint directory", file=directory):
        fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with _held_guard:
            _held[key] = threading.get_ident()
        try:
            yield
        finally:
            with _held_guard:
                del _held[key]
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
