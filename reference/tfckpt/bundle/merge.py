"""Sharded saves: merging per-device bundles into one checkpoint (spec: ``spec/sharded.md``).

TensorFlow's counterpart: ``MergeBundles`` in
``tensorflow/core/util/tensor_bundle/tensor_bundle.cc`` (the ``MergeV2Checkpoints``
op) and the Python side in ``tensorflow/python/checkpoint/functional_saver.py``.

Strategy
--------
A sharded save first writes one complete bundle per device under a temporary
prefix (``<prefix>_temp/part-00000-of-00002`` and so on), then merges them:

1. the input bundles are taken in the given order; every data file an entry
   refers to gets a new shard number in order of first reference;
2. each such data file is *renamed* to ``<prefix>.data-<new>-of-<count>``
   (no bytes are copied);
3. the merged ``.index`` holds every entry with its ``shard_id`` rewritten, and
   a header whose ``num_shards`` is the number of data files renamed in step 2;
   a partitioned tensor split over several inputs gets the concatenation of
   their ``slices`` lists;
4. the input ``.index`` files are deleted, and the temporary directory too
   when it is empty.

Two departures from TensorFlow, neither visible in the bytes of an ordinary
merge: we write the merged index under a temporary name first and publish it
with the renamed data files in the package's one order (:mod:`.publish`:
an existing index retired, data renamed, the index last), where TensorFlow
renames the data files and then writes the index in place; and ``num_shards`` counts the data files
actually referenced, where TensorFlow sums the inputs' ``num_shards``.  The two
agree unless an input bundle holds no tensor, and then TensorFlow's sum names
data files that do not exist, so its own reader cannot open the result
(spec ``SHARD-3``).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Mapping, Optional, Sequence, Union

from .. import errors
from ..proto import tensor_bundle_pb2
from .naming import data_filename, index_filename
from .reader import BundleReader, key_text
from .publish import publish
from ..storage import refuse_url, staged
from .writer import ArrayLike, BundleWriter, write_index_temp

__all__ = ["merge_bundles", "save_sharded", "sharded_filename"]


def sharded_filename(prefix: str, shard: int, num_shards: int) -> str:
    """``ShardedFilename``: ``<prefix>-%05d-of-%05d`` (``tensorflow/core/kernels/save_op.cc``)."""
    return f"{prefix}-{shard:05d}-of-{num_shards:05d}"


def merge_bundles(
    prefixes: Sequence[Union[str, "os.PathLike[str]"]],
    merged_prefix: Union[str, "os.PathLike[str]"],
    *,
    allow_missing_files: bool = False,
    delete_inputs: bool = True,
) -> None:
    """Merge the bundles at ``prefixes`` into one checkpoint at ``merged_prefix``.

    Local paths only: a merge moves the inputs' data files into place by renames (STORE-5);
    :func:`save_sharded` to a URL merges in its staging directory and uploads the result.
    """
    merged_prefix = os.fspath(merged_prefix)
    for path in (merged_prefix, *map(os.fspath, prefixes)):
        refuse_url(path, "merging bundles")
    directory = os.path.dirname(merged_prefix)
    if directory:
        with errors.os_errors("creating the merged checkpoint's directory", file=directory):
            os.makedirs(directory, exist_ok=True)
    merged: dict[bytes, tensor_bundle_pb2.BundleEntryProto] = {}
    renames: dict[str, int] = {}
    first_header = None
    used = []
    for prefix in map(os.fspath, prefixes):
        if not os.path.exists(index_filename(prefix)):
            if allow_missing_files:
                continue
            raise errors.InvalidArgumentError("bundle to merge does not exist", file=index_filename(prefix))
        with BundleReader(prefix) as reader:
            header = reader.header
            if first_header is None:
                first_header = header
            else:
                if header.endianness != first_header.endianness:
                    raise errors.InvalidArgumentError(
                        "bundles to merge differ in endianness", file=index_filename(prefix)
                    )
                if header.version.SerializeToString() != first_header.version.SerializeToString():
                    raise errors.InvalidArgumentError("bundles to merge differ in version", file=index_filename(prefix))
            for entry in reader.iter_entries():
                proto = tensor_bundle_pb2.BundleEntryProto()
                proto.CopyFrom(entry.proto)
                existing = merged.get(entry.key)
                if existing is not None:
                    if not existing.slices or not proto.slices:
                        raise errors.InvalidArgumentError(
                            "duplicate tensor in bundles to merge", file=index_filename(prefix), key=key_text(entry.key)
                        )
                    if existing.dtype != proto.dtype or existing.shape != proto.shape:
                        raise errors.InvalidArgumentError(
                            "partitioned tensor's dtype or shape differs between bundles",
                            file=index_filename(prefix),
                            key=key_text(entry.key),
                        )
                    existing.slices.extend(proto.slices)
                    continue
                if not proto.slices:
                    source = data_filename(prefix, proto.shard_id, header.num_shards)
                    proto.shard_id = renames.setdefault(source, len(renames))
                merged[entry.key] = proto
        used.append(prefix)
    if first_header is None:
        raise errors.InvalidArgumentError("at least one bundle to merge must exist, but none did")
    header = tensor_bundle_pb2.BundleHeaderProto()
    header.CopyFrom(first_header)
    header.num_shards = len(renames)
    index_temp = write_index_temp(index_filename(merged_prefix), header, merged)
    moves = [(source, data_filename(merged_prefix, new_id, len(renames))) for source, new_id in renames.items()]
    try:
        publish(merged_prefix, index_temp, moves)
    except BaseException:
        if os.path.exists(index_temp):
            os.remove(index_temp)
        raise
    if delete_inputs:
        for prefix in used:
            try:
                os.remove(index_filename(prefix))
            except OSError:
                pass


def _write_part(part: str, tensors: Mapping) -> None:
    with BundleWriter(part) as writer:
        for name, value in tensors.items():
            writer.add(name, value)


def save_sharded(
    prefix: Union[str, "os.PathLike[str]"],
    shards: Sequence[Mapping[Union[str, bytes], ArrayLike]],
    *,
    threads: Optional[int] = None,
) -> str:
    """Save ``shards`` (one name -> array mapping per data file) as TensorFlow 2's sharded save does.

    Each mapping is written as ``<prefix>_temp/part-SSSSS-of-NNNNN`` and the
    parts are merged into ``<prefix>``; the result has ``len(shards)`` data files.
    The parts are written by ``threads`` threads at once (default: one per
    shard, at most the CPU count; 1 writes them one after the other).  The
    bytes do not depend on it.
    """
    with staged(prefix, "writing a sharded checkpoint") as local:
        _save_sharded_local(local, shards, threads)
    return os.fspath(prefix)


def _save_sharded_local(prefix: str, shards, threads) -> None:
    temp_prefix = os.path.join(prefix + "_temp", "part")
    parts = [sharded_filename(temp_prefix, shard, len(shards)) for shard in range(len(shards))]
    if threads is None:
        threads = min(len(shards), os.cpu_count() or 1)
    if threads > 1 and len(shards) > 1:
        # Parts are independent files; the CRC32C and the writes release the GIL.  Every part
        # is finished (or aborted) before the first failure, if any, is raised.
        with ThreadPoolExecutor(max_workers=threads) as pool:
            futures = [pool.submit(_write_part, part, tensors) for part, tensors in zip(parts, shards)]
        for future in futures:
            future.result()
    else:
        for part, tensors in zip(parts, shards):
            _write_part(part, tensors)
    merge_bundles(parts, prefix)
    try:
        os.rmdir(os.path.dirname(temp_prefix))
    except OSError:
        pass
