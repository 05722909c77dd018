"""File names of a V2 checkpoint (spec: ``spec/overview.md``; ``tensor_bundle/naming.cc``).

A checkpoint is named by its *prefix* ``P``; its files are::

    P.index                          the SSTable of header and entries
    P.data-00000-of-00001            data shard 0 of 1 (five digits, zero padded)
    P.data-SSSSS-of-NNNNN            data shard S of N after a sharded save

Writers create both under temporary names (``<final>.tempstate<decimal>``) and
rename them into place.
"""

from __future__ import annotations

import os
import re

__all__ = ["index_filename", "data_filename", "DATA_FILE_PATTERN", "is_checkpoint_file", "is_data_file_of", "prefix_of"]

#: Matches the suffix of a data file; group 1 is the shard id, group 2 the count.
DATA_FILE_PATTERN = re.compile(r"\.data-(\d{5,})-of-(\d{5,})$")


def index_filename(prefix: str) -> str:
    """``MetaFilename``: ``<prefix>.index``."""
    return f"{prefix}.index"


def data_filename(prefix: str, shard_id: int, num_shards: int) -> str:
    """``DataFilename``: ``<prefix>.data-%05d-of-%05d``."""
    return f"{prefix}.data-{shard_id:05d}-of-{num_shards:05d}"


def prefix_of(path: str) -> str:
    """The prefix of a path naming an ``.index`` or ``.data-*`` file, else the path itself.

    Users often pass ``model.ckpt-100.index`` or a data file where a prefix is
    wanted; accepting them is a kindness TensorFlow does not offer.
    """
    path = os.fspath(path)
    if path.endswith(".index"):
        return path[: -len(".index")]
    match = DATA_FILE_PATTERN.search(path)
    if match:
        return path[: match.start()]
    return path


def is_checkpoint_file(name: str) -> bool:
    return name.endswith(".index") or DATA_FILE_PATTERN.search(name) is not None


def is_data_file_of(name: str, base: str) -> bool:
    """Whether the file name ``name`` is ``<base>.data-SSSSS-of-NNNNN`` (any shard count)."""
    match = DATA_FILE_PATTERN.search(name)
    return match is not None and name[: match.start()] == base
