"""The one order in which a V2 checkpoint's files take their final names (spec: ``spec/errors.md`` §4).

Strategy
--------
A checkpoint is several files -- ``P.index`` and ``P.data-SSSSS-of-NNNNN`` --
and no file system renames several files at once.  What a reader can be
promised therefore rests on the order of single renames.  Every writer of
this package (``save``, ``BundleWriter``, ``save_sharded``/``merge_bundles``,
and the jobs built on them) hands its finished files to :func:`publish`,
which performs, in this order (PUB-1..PUB-4)::

    1. every file is complete under a temporary name      <final>.tempstate<decimal>
       and, with sync on, fsynced
    2. an existing P.index is removed (retired)            the old checkpoint ends here
       (directory fsynced)
    3. each data file is renamed to its final name          P.data-SSSSS-of-NNNNN
       (directory fsynced)
    4. the index is renamed to its final name               the new checkpoint begins here
       (directory fsynced); then data files of P with another shard count are removed

A reader takes a prefix for a checkpoint only when ``P.index`` exists, so a
kill at any moment leaves the old checkpoint whole (before 2), the new one
whole (after 4), or no index at all (between 2 and 4) -- never an index beside
data files of another save.  Between 2 and 4 the directory may hold data files
under final names with no index beside them: *orphans*, recognisable as such,
which :func:`leftovers` finds and ``tfckpt clean`` removes; the next save into
the directory removes writers' temporary files that have been silent for an
hour (:func:`sweep_temporaries`).

TensorFlow's ``BundleWriter`` renames the data file and then the index, and
writes over an existing index without retiring it first, so a kill between
its two renames leaves the old index beside the new data (spec/errors.md §5).

Two writers of one prefix (two processes, or two threads) would interleave those steps --
A retires the index, renames its data; B renames its data over A's; A renames its index
beside B's data -- so steps 2 to 4 run under an exclusive ``flock`` on the directory
(:func:`tfckpt.files.directory_lock`, the lock the state file's updates take; PUB-8): the
second writer's publish waits for the first's, and the last one wins whole.

Readers pair with step 2: :class:`~tfckpt.bundle.reader.BundleReader` checks,
each time it opens a data file, that ``P.index`` is still the file it read;
with this order a data file opened while that holds belongs to the same save.
"""

from __future__ import annotations

import os
import re
import time
from typing import Iterable, Optional, Sequence

from .. import errors
from ..files import directory_lock
from .naming import DATA_FILE_PATTERN, index_filename, is_data_file_of

__all__ = ["publish", "leftovers", "sweep_temporaries", "TEMP_PATTERN", "ORPHAN_GRACE_SECONDS"]

#: A temporary file of a writer: ``<final name>.tempstate<decimal>`` (TensorFlow's scheme, ours too).
TEMP_PATTERN = re.compile(r"\.tempstate\d+$")

#: How old (by modification time) a temporary file must be before the sweep after a save removes
#: it: a writer that is still running keeps writing to its temporary files, so only one that has
#: been silent this long is taken for the leftover of a killed writer.
ORPHAN_GRACE_SECONDS = 3600.0


def _sync_directory(directory: str) -> None:
    """Make the renames in ``directory`` durable, in order, where the platform allows it."""
    try:
        fd = os.open(directory or ".", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # e.g. Windows: directories cannot be opened; renames are ordered there anyway
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def publish(prefix: str, index_temp: str, data_files: Sequence[tuple[str, str]], *, sync: bool = True) -> None:
    """Move a finished checkpoint's files to their final names in the order above.

    ``data_files`` pairs each complete data file (temporary or, for a merge, an
    input bundle's data file) with its final name; ``index_temp`` is the
    complete index under its temporary name.  On failure the files not yet
    renamed are left for the caller to delete.
    """
    index_path = index_filename(prefix)
    directory = os.path.dirname(prefix)
    with directory_lock(directory or "."):  # PUB-8: one publish at a time per directory
        _publish(prefix, index_path, directory, index_temp, data_files, sync)


def _publish(prefix, index_path, directory, index_temp, data_files, sync) -> None:
    with errors.os_errors("retiring the checkpoint being replaced", file=index_path):
        if os.path.lexists(index_path):
            if os.path.isdir(index_path):
                raise errors.FailedPreconditionError("a directory stands where the index must go", file=index_path)
            os.remove(index_path)  # PUB-2
            if sync:
                _sync_directory(directory)
    for source, target in data_files:
        with errors.os_errors(f"renaming {os.path.basename(source)}", file=target):
            os.replace(source, target)  # PUB-3
    if sync and data_files:
        _sync_directory(directory)
    with errors.os_errors("publishing the index", file=index_path):
        os.replace(index_temp, index_path)  # PUB-4
        if sync:
            _sync_directory(directory)
    _remove_stale_shards(prefix, {os.path.basename(t) for _, t in data_files})
    sweep_temporaries(directory)


def sweep_temporaries(directory: str, *, older_than: float = ORPHAN_GRACE_SECONDS) -> None:
    """After a save: delete writers' temporary files silent for ``older_than`` seconds (PUB-6).

    Orphan data files are not swept here: a data file without its index may be
    one half of a copy in progress.  ``tfckpt clean`` removes those on request.
    """
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return
    now = time.time()
    for name in names:
        if TEMP_PATTERN.search(name):
            path = os.path.join(directory, name)
            if _old(path, older_than, now):
                try:
                    os.remove(path)
                except OSError:
                    pass


def _remove_stale_shards(prefix: str, current: set) -> None:
    """Delete ``P.data-*`` files of an earlier save of ``P`` with another shard count (PUB-5)."""
    directory = os.path.dirname(prefix) or "."
    base = os.path.basename(prefix)
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if name in current:
            continue
        if is_data_file_of(name, base):
            try:
                os.remove(os.path.join(directory, name))
            except OSError:
                pass


def leftovers(directory: str, *, older_than: float = 0.0, extra_patterns: Iterable[re.Pattern] = (),
              now: Optional[float] = None) -> list[str]:
    """Paths in ``directory`` that an interrupted write left behind (PUB-6), oldest rule first.

    * temporary files of any writer (``*.tempstate<decimal>``, and names matching
      ``extra_patterns``, e.g. the state file's ``checkpoint.tmp<hex>``);
    * orphan data files: ``P.data-SSSSS-of-NNNNN`` with no ``P.index`` beside them;
    * the per-shard bundles of an unfinished sharded save, in ``<P>_temp/`` or
      ``<P>_temp_<hex>/`` subdirectories (TensorFlow 2 and TensorFlow 1 naming).

    Only files last modified more than ``older_than`` seconds ago are listed.
    """
    now = time.time() if now is None else now
    patterns = [TEMP_PATTERN, *extra_patterns]
    found = []
    try:
        entries = list(os.scandir(directory))
    except OSError as exc:
        raise errors.from_os_error(exc, "listing the directory", file=directory) from exc
    names = {e.name for e in entries}
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                if re.search(r"_temp(_[0-9a-f]+)?$", entry.name):
                    found += [p for p in _sharded_parts(entry.path) if _old(p, older_than, now)]
                continue
            if not entry.is_file(follow_symlinks=False):
                continue
        except OSError:
            continue
        name = entry.name
        orphan = False
        match = DATA_FILE_PATTERN.search(name)
        if match and not TEMP_PATTERN.search(name):
            orphan = name[: match.start()] + ".index" not in names
        if (orphan or any(p.search(name) for p in patterns)) and _old(entry.path, older_than, now):
            found.append(entry.path)
    return sorted(found)


def _sharded_parts(directory: str) -> list[str]:
    """The files of an unfinished sharded save's temporary directory (``part-SSSSS-of-NNNNN.*``)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return [os.path.join(directory, n) for n in sorted(names)
            if re.match(r"part-\d{5}-of-\d{5}(\.index|\.data-\d{5,}-of-\d{5,})?(\.tempstate\d+)?$", n)]


def _old(path: str, older_than: float, now: float) -> bool:
    if older_than <= 0:
        return True
    try:
        return now - os.stat(path).st_mtime > older_than
    except OSError:
        return False
