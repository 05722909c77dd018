"""Side-by-side benchmarks of tfckpt and TensorFlow 2.21, in one process.

Run with TensorFlow and tfckpt both importable::

    PYTHONPATH=reference python benchmarks/run.py            # or: tox -e bench
    python benchmarks/run.py --reps 3 --no-save               # a quick look, no results file
    python benchmarks/run.py --profile big-get                # cProfile tfckpt's side of one workload

Strategy
--------
*Same process, same files, same cache state.*  One interpreter imports both
TensorFlow and tfckpt.  Every workload's input is generated from a fixed seed
into a temporary directory, and every checkpoint that is read was written by
TensorFlow's own ``SaveV2`` op, so both readers face the same bytes.  Each
file is read once before timing and each side gets an untimed warm-up call,
so all reads are *warm page cache* reads (we cannot drop the cache without
root, so cold reads are not measured).

*Ratios, not absolute numbers.*  For each workload the two implementations
are timed alternately (TF, tfckpt, TF, tfckpt, ...) ``--reps`` times with
``time.perf_counter``; we report the minimum and the median of each and the
ratio of medians ``tfckpt / TF`` (above 1: tfckpt is slower).  Absolute times
depend on the machine; the ratio is what this benchmark is for.

*Memory is measured apart from time,* in a second process over the same
files (also with both libraries imported), because TensorFlow's default CPU
allocator (oneDNN builds) keeps freed memory in a pool: after the first call
of a size, its resident-set deltas read zero.  The second process sets
``TF_ENABLE_ONEDNN_OPTS=0``, which gives TF a plain allocator that returns
memory to the system (no checkpoint code path depends on oneDNN).  There each
side runs once as a warm-up and once while we watch: the peak resident set
size (``VmHWM`` in ``/proc/self/status``, reset through
``/proc/self/clear_refs``, after ``malloc_trim``) minus the resident size
before the call -- approximate, the same method for both sides; and, for
tfckpt only, the peak of Python-visible allocations by ``tracemalloc`` (numpy
reports its buffers to it; TF's C++ allocations are invisible to it).  The
returned value is still alive at the peak, so a reader's figure includes its
result.

*Checked, not timed.*  Outside the timed region each workload checks that
both sides produced the same thing: equal arrays for reads, and
byte-identical ``.index`` and ``.data`` files for writes.  A benchmark whose
two sides disagree stops with an error instead of printing a ratio.

The results (a Markdown table with the machine and the versions) are
printed and, unless ``--no-save``, written to
``benchmarks/results/<date>-<label>.md``; the label names the CPU, never the
host.
"""

from __future__ import annotations

import argparse
import cProfile
import ctypes
import datetime
import gc
import io
import json
import os
import platform
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from typing import Callable, Optional
from unittest import mock

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

try:
    import tfckpt  # noqa: E402
except ImportError:  # pragma: no cover - a usage error, explained
    sys.exit("benchmarks/run.py: cannot import tfckpt; run with PYTHONPATH=reference or through `tox -e bench`")

import tensorflow as tf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20211
MiB = 1 << 20

# -- workload sizes -----------------------------------------------------------------------------
SMALL_COUNT = 10_000
BIG_SHAPE = (65536, 1024)  # float32: exactly 256 MiB
PARTITIONS = 16  # the partitioned tensor is stored as 16 row blocks of 4096 rows (16 MiB each)
SLICE_ROWS = BIG_SHAPE[0] // 100  # "first 1% of rows": 655 rows
STRING_COUNT = 100_000
MANY_COUNT = 100_000  # the "list 100,000 keys" checkpoint: scalars and short vectors
SHARDS = 8
#: Total size of the sharded checkpoint (``--sharded-mib``; 1 GiB by default).
SHARDED_BYTES = 1 << 30


# ================================================================ measuring


def _status_kib(field_name: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field_name}")


def _reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _statm_rss_kib() -> int:
    with open("/proc/self/statm") as handle:
        resident_pages = int(handle.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") // 1024


def _release_free_memory() -> None:
    """Hand the C allocator's free pages back to the OS, so that RSS deltas start clean."""
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def peak_rss_delta(fn: Callable[[], object]) -> tuple[Optional[int], str]:
    """Bytes by which the resident set grew at its peak during ``fn()`` (result still alive)."""
    _release_free_memory()
    if _reset_peak_rss():
        before = _status_kib("VmRSS")
        result = fn()
        peak = _status_kib("VmHWM")
        del result
        return max(0, peak - before) * 1024, "peak"
    # Fallback: resident size after the call (the result is alive) -- a lower bound of the peak.
    before = _statm_rss_kib()
    result = fn()
    after = _statm_rss_kib()
    del result
    return max(0, after - before) * 1024, "after"


def tracemalloc_peak(fn: Callable[[], object]) -> int:
    """Peak of Python-visible allocations during ``fn()`` (numpy buffers included)."""
    _release_free_memory()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
        del result
    finally:
        tracemalloc.stop()
    return max(0, peak - base)


def _timed(fn: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    del result
    return elapsed


@dataclass
class Side:
    """One implementation's part of a workload."""

    run: Callable[[], object]
    #: Untimed, after every call (e.g. delete the files a writer made).
    cleanup: Callable[[], None] = lambda: None
    #: Untimed, before every timed call (e.g. drop the files from the page cache).
    prepare: Callable[[], None] = lambda: None
    times: list[float] = field(default_factory=list)
    rss: Optional[int] = None
    rss_kind: str = ""
    traced: Optional[int] = None

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def best(self) -> float:
        return min(self.times)


@dataclass
class Workload:
    key: str
    title: str
    tf: Optional[Side]
    ours: Side
    notes: str
    #: Untimed, once, before timing: raise if the two sides disagree.
    check: Callable[[], None] = lambda: None
    #: For a tfckpt-only variant: the key of the workload whose TF side it is compared with.
    tf_from: Optional[str] = None


def measure_time(workload: Workload, reps: int) -> None:
    sides = [side for side in (workload.tf, workload.ours) if side is not None]
    for side in sides:  # warm-up, untimed
        side.run()
        side.cleanup()
    for _ in range(reps):  # alternate the sides so that drift hits both alike
        for side in sides:
            side.prepare()
            side.times.append(_timed(side.run))
            side.cleanup()


def measure_floor(array: np.ndarray, reps: int) -> list[float]:
    """The hardware floor of reading one tensor from the page cache: memcpy + CRC32C, nothing else.

    A warm read copies the bytes out of the page cache and checksums them; no reader
    can do less.  The destination is allocated and faulted in once, outside the timing,
    so the floor is memory bandwidth alone (a reader returning a new array also pays
    for the fresh pages, so its time sits above this).
    """
    from tfckpt import checksums

    destination = np.empty_like(array)
    destination.fill(0)

    def once():
        np.copyto(destination, array)
        checksums.crc32c(destination)

    once()
    return [_timed(once) for _ in range(reps)]


def measure_memory(workload: Workload) -> dict:
    """In the memory process: one warm-up and one watched call per side."""
    found = {}
    for name, side in (("tf", workload.tf), ("ours", workload.ours)):
        if side is None:
            continue
        side.run()  # first-call costs (imports, op registration) are not the workload's
        side.cleanup()
        side.prepare()
        found[name + "_rss"], found["rss_kind"] = peak_rss_delta(side.run)
        side.cleanup()
    workload.ours.prepare()
    found["ours_traced"] = tracemalloc_peak(workload.ours.run)
    workload.ours.cleanup()
    return found


def memory_in_child(work: str, keys: list[str]) -> dict:
    """Run the memory measurements in a fresh process with oneDNN off (see the module docstring)."""
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0", TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, os.path.abspath(__file__), "--memory-child", work,
               "--sharded-mib", str(SHARDED_BYTES >> 20)]
    for key in keys:
        command += ["--only", key]
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# ================================================================ workloads


def _names_of_small(count: int) -> list[str]:
    # Realistic keys: long shared prefixes, which the index's prefix compression exploits.
    return [f"model/block_{i // 10:04d}/layer_{i % 10}/{'kernel' if i % 2 else 'bias'}" for i in range(count)]


def make_inputs(rng: np.random.Generator) -> dict:
    small_names = _names_of_small(SMALL_COUNT)
    small_arrays = []
    for i in range(SMALL_COUNT):
        shape = tuple(int(d) for d in rng.integers(1, 33, size=int(rng.integers(1, 3))))
        if i % 5 == 0:
            small_arrays.append(rng.integers(-(2**40), 2**40, size=shape, dtype=np.int64))
        else:
            small_arrays.append(rng.standard_normal(shape, dtype=np.float32))
    big = rng.standard_normal(BIG_SHAPE, dtype=np.float32)
    lengths = rng.integers(0, 17, size=STRING_COUNT)
    alphabet = rng.integers(0, 256, size=int(lengths.sum()), dtype=np.uint8).tobytes()
    strings = np.empty(STRING_COUNT, dtype=object)
    pos = 0
    for i, length in enumerate(lengths):
        strings[i] = alphabet[pos : pos + length]
        pos += length
    many_names = [f"layer_{i // 100:04d}/unit_{i % 100:02d}/w" for i in range(MANY_COUNT)]
    per_shard = SHARDED_BYTES // SHARDS // 4  # float32 elements per shard
    sharded = [rng.standard_normal(per_shard, dtype=np.float32) for _ in range(SHARDS)]
    return dict(small_names=small_names, small_arrays=small_arrays, big=big, strings=strings,
                many_names=many_names, sharded=sharded)


def tf_save(prefix: str, names, tensors, slices=None) -> None:
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=list(names),
        shape_and_slices=list(slices) if slices is not None else [""] * len(names),
        tensors=list(tensors),
    )


def checkpoint_files(prefix: str) -> list[str]:
    directory, base = os.path.split(prefix)
    return sorted(os.path.join(directory, name) for name in os.listdir(directory) if name.startswith(base + "."))


def remove_checkpoint(prefix: str) -> None:
    for path in checkpoint_files(prefix):
        os.remove(path)


def read_whole(paths) -> None:
    """Pull files into the page cache."""
    for path in paths:
        with open(path, "rb") as handle:
            while handle.read(16 * MiB):
                pass


def assert_same_files(tf_prefix: str, our_prefix: str) -> None:
    for suffix in (".index", ".data-00000-of-00001"):
        with open(tf_prefix + suffix, "rb") as a, open(our_prefix + suffix, "rb") as b:
            if a.read() != b.read():
                raise AssertionError(f"tfckpt.save and SaveV2 differ in {suffix}")


def assert_equal_arrays(expected, got, what: str) -> None:
    expected = np.asarray(expected)
    got = np.asarray(got)
    if expected.shape != got.shape or expected.dtype != got.dtype or not np.array_equal(expected, got):
        raise AssertionError(f"{what}: the two implementations disagree")


def _prefixes(work: str) -> dict:
    names = ("small", "big", "strings", "partitioned", "many", "sharded")
    return {name: os.path.join(work, name, "ckpt") for name in names}


def tf_save_sharded(prefix: str, arrays) -> None:
    """TensorFlow's sharded save: one SaveV2 per shard under a temporary prefix, then MergeV2Checkpoints
    (what ``tensorflow/python/checkpoint/functional_saver.py`` does for several devices)."""
    parts = [f"{prefix}_temp/part-{i:05d}-of-{len(arrays):05d}" for i in range(len(arrays))]
    for i, (part, array) in enumerate(zip(parts, arrays)):
        tf_save(part, [f"shard_{i}"], [array])
    tf.raw_ops.MergeV2Checkpoints(checkpoint_prefixes=parts, destination_prefix=prefix, delete_old_dirs=True)


def drop_from_page_cache(paths) -> None:
    """posix_fadvise(DONTNEED) on each file: a cold read next time (no root needed for our own files)."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def write_inputs(work: str, inputs: dict) -> None:
    """The checkpoints that are read, all written by TensorFlow's SaveV2, then pulled into the page cache."""
    prefixes = _prefixes(work)
    for prefix in prefixes.values():
        os.makedirs(os.path.dirname(prefix))
    os.makedirs(os.path.join(work, "out"))
    big = inputs["big"]
    tf_save(prefixes["small"], inputs["small_names"], [tf.constant(a) for a in inputs["small_arrays"]])
    tf_save(prefixes["big"], ["big"], [tf.constant(big)])
    tf_save(prefixes["strings"], ["strings"], [tf.constant(inputs["strings"].tolist(), dtype=tf.string)])
    rows = BIG_SHAPE[0] // PARTITIONS
    full = " ".join(str(d) for d in BIG_SHAPE)
    tf_save(
        prefixes["partitioned"],
        ["part"] * PARTITIONS,
        [tf.constant(big[i * rows : (i + 1) * rows]) for i in range(PARTITIONS)],
        [f"{full} {i * rows},{rows}:-" for i in range(PARTITIONS)],
    )
    tf_save(prefixes["many"], inputs["many_names"], [tf.constant(np.float32(i)) for i in range(MANY_COUNT)])
    tf_save_sharded(prefixes["sharded"], [tf.constant(a) for a in inputs["sharded"]])
    read_whole(path for prefix in prefixes.values() for path in checkpoint_files(prefix))


def build_workloads(work: str, inputs: dict) -> list[Workload]:
    """The workloads over the files :func:`write_inputs` made in ``work``."""
    small_names, small_arrays = inputs["small_names"], inputs["small_arrays"]
    big, strings = inputs["big"], inputs["strings"]
    prefixes = _prefixes(work)
    small_ckpt, big_ckpt = prefixes["small"], prefixes["big"]
    str_ckpt, part_ckpt = prefixes["strings"], prefixes["partitioned"]
    # Writers get their input as TF already holds it: conversion is not part of SaveV2's time.
    small_tensors = [tf.constant(a) for a in small_arrays]
    big_tensor = tf.constant(big)
    full = " ".join(str(d) for d in BIG_SHAPE)

    slice_spec = f"0,{SLICE_ROWS}:-"
    out_dir = os.path.join(work, "out")
    tf_out = os.path.join(out_dir, "tf")
    our_out = os.path.join(out_dir, "ours")

    def clean_tf_out():
        remove_checkpoint(tf_out)

    def clean_our_out():
        remove_checkpoint(our_out)

    def tf_get_all():
        reader = tf.train.load_checkpoint(small_ckpt)
        return [reader.get_tensor(name) for name in small_names]

    def our_get_all(**options):
        reader = tfckpt.load_checkpoint(small_ckpt, **options)
        return [reader.get_tensor(name) for name in small_names]

    def tf_restore_slice(prefix, name):
        return tf.raw_ops.RestoreV2(
            prefix=prefix, tensor_names=[name], shape_and_slices=[f"{full} {slice_spec}"], dtypes=[tf.float32]
        )[0].numpy()

    big_dict = {"big": big}
    small_dict = dict(zip(small_names, small_arrays))

    # --- checks, run once outside the timed region
    def check_list():
        theirs = tf.train.load_checkpoint(small_ckpt).get_variable_to_shape_map()
        ours = tfckpt.load_checkpoint(small_ckpt).get_variable_to_shape_map()
        if theirs != ours or len(ours) != SMALL_COUNT:
            raise AssertionError("variable maps differ")

    def check_big():
        assert_equal_arrays(big, tf.train.load_checkpoint(big_ckpt).get_tensor("big"), "TF get_tensor")
        assert_equal_arrays(big, tfckpt.load_checkpoint(big_ckpt).get_tensor("big"), "tfckpt get_tensor")

    def check_all():
        for expected, a, b in zip(small_arrays, tf_get_all(), our_get_all()):
            assert_equal_arrays(expected, a, "TF get_tensor")
            assert_equal_arrays(expected, b, "tfckpt get_tensor")

    def check_strings():
        theirs = tf.train.load_checkpoint(str_ckpt).get_tensor("strings")
        ours = tfckpt.load_checkpoint(str_ckpt).get_tensor("strings")
        if list(theirs) != list(strings) or list(ours) != list(strings):
            raise AssertionError("string tensors differ")

    def check_slice(prefix, name):
        def check():
            expected = big[:SLICE_ROWS]
            assert_equal_arrays(expected, tf_restore_slice(prefix, name), "RestoreV2 slice")
            assert_equal_arrays(expected, tfckpt.load_checkpoint(prefix).get_slice(name, slice_spec), "get_slice")

        return check

    def check_write(names, tensors, mapping):
        def check():
            tf_save(tf_out, names, tensors)
            tfckpt.save(our_out, mapping)
            try:
                assert_same_files(tf_out, our_out)
            finally:
                clean_tf_out()
                clean_our_out()

        return check

    # fdatasync too: tfckpt's big-tensor path starts fdatasyncs while it writes (bundle/writer.py)
    no_fsync = mock.patch.multiple("os", fsync=lambda fd: None, fdatasync=lambda fd: None)

    def our_save_no_fsync(mapping):
        with no_fsync:
            return tfckpt.save(our_out, mapping)

    many_ckpt, sharded_ckpt = prefixes["many"], prefixes["sharded"]
    many_names = inputs["many_names"]
    sharded_arrays = inputs["sharded"]
    sharded_names = [f"shard_{i}" for i in range(SHARDS)]
    sharded_tensors = [tf.constant(a) for a in sharded_arrays]
    sharded_dicts = [{name: array} for name, array in zip(sharded_names, sharded_arrays)]
    first_small = min(small_names)
    big_files = checkpoint_files(big_ckpt)

    def check_many():
        theirs = tf.train.load_checkpoint(many_ckpt).get_variable_to_shape_map()
        ours = tfckpt.load_checkpoint(many_ckpt).get_variable_to_shape_map()
        if theirs != ours or len(ours) != MANY_COUNT:
            raise AssertionError("variable maps of the 100,000-key checkpoint differ")

    def tf_get_sharded():
        reader = tf.train.load_checkpoint(sharded_ckpt)
        return [reader.get_tensor(name) for name in sharded_names]

    def our_get_sharded():
        return list(tfckpt.load_checkpoint(sharded_ckpt).get_tensors(sharded_names).values())

    def check_sharded_read():
        for expected, a, b in zip(sharded_arrays, tf_get_sharded(), our_get_sharded()):
            assert_equal_arrays(expected, a, "TF sharded get_tensor")
            assert_equal_arrays(expected, b, "tfckpt get_tensors")

    def clean_sharded(prefix):
        def clean():
            remove_checkpoint(prefix)
            shutil.rmtree(prefix + "_temp", ignore_errors=True)

        return clean

    def our_save_sharded():
        from tfckpt.bundle.merge import save_sharded

        return save_sharded(our_out, sharded_dicts)

    def check_sharded_write():
        tf_save_sharded(tf_out, sharded_tensors)
        our_save_sharded()
        try:
            theirs, ours = checkpoint_files(tf_out), checkpoint_files(our_out)
            if [os.path.basename(p)[2:] for p in theirs] != [os.path.basename(p)[4:] for p in ours]:
                raise AssertionError(f"sharded saves made different files: {theirs} vs {ours}")
            for a, b in zip(theirs, ours):
                with open(a, "rb") as x, open(b, "rb") as y:
                    if x.read() != y.read():
                        raise AssertionError(f"sharded saves differ in {os.path.basename(a)}")
        finally:
            clean_sharded(tf_out)()
            clean_sharded(our_out)()

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.abspath(tfckpt.__file__)))] + env.get("PYTHONPATH", "").split(os.pathsep)
    )
    tf_inspect = [sys.executable, "-m", "tensorflow.python.tools.inspect_checkpoint",
                  f"--file_name={small_ckpt}", f"--tensor_name={first_small}"]
    our_show = [sys.executable, "-m", "tfckpt", "show", small_ckpt, first_small]

    def run_command(command):
        def run():
            return subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)

        return run

    def check_startup():
        for command in (tf_inspect, our_show):
            out = run_command(command)().stdout
            if not out.strip():
                raise AssertionError(f"{command[2]} printed nothing")

    def cold_big():
        drop_from_page_cache(big_files)

    return [
        Workload(
            "startup",
            "process start-up to first tensor (subprocess)",
            Side(run_command(tf_inspect)),
            Side(run_command(our_show)),
            "`python -m tensorflow.python.tools.inspect_checkpoint --file_name=P --tensor_name=K` vs "
            "`python -m tfckpt show P K`: interpreter start, imports, open, one tensor printed",
            check_startup,
        ),
        Workload(
            "list-100k",
            f"open + list {MANY_COUNT:,} keys",
            Side(lambda: tf.train.load_checkpoint(many_ckpt).get_variable_to_shape_map()),
            Side(lambda: tfckpt.load_checkpoint(many_ckpt).get_variable_to_shape_map()),
            "`get_variable_to_shape_map()` on both sides; scalars written by SaveV2",
            check_many,
        ),
        Workload(
            "big-get-cold",
            "get_tensor, one 256 MiB float32, cold page cache",
            Side(lambda: tf.train.load_checkpoint(big_ckpt).get_tensor("big"), prepare=cold_big),
            Side(lambda: tfckpt.load_checkpoint(big_ckpt).get_tensor("big"), prepare=cold_big),
            "`posix_fadvise(DONTNEED)` on the checkpoint's files before every call (untimed); both read the disk",
        ),
        Workload(
            "sharded-get",
            f"read a {SHARDED_BYTES / (1 << 30):g} GiB checkpoint in {SHARDS} shards",
            Side(tf_get_sharded),
            Side(our_get_sharded),
            f"TF: `get_tensor` per key; tfckpt: `get_tensors(keys)` (shards in parallel threads); "
            f"one float32 tensor per shard, written by SaveV2 + MergeV2Checkpoints",
            check_sharded_read,
        ),
        Workload(
            "sharded-save",
            f"write a {SHARDED_BYTES / (1 << 30):g} GiB checkpoint in {SHARDS} shards",
            Side(lambda: tf_save_sharded(tf_out, sharded_tensors), clean_sharded(tf_out)),
            Side(our_save_sharded, clean_sharded(our_out)),
            f"TF: {SHARDS} `SaveV2` + `MergeV2Checkpoints`; tfckpt: `save_sharded` (parts in parallel threads, "
            f"fsynced); every file byte-identical (checked)",
            check_sharded_write,
        ),
        Workload(
            "list",
            f"open + list {SMALL_COUNT:,} small tensors",
            Side(lambda: tf.train.load_checkpoint(small_ckpt).get_variable_to_shape_map()),
            Side(lambda: tfckpt.load_checkpoint(small_ckpt).get_variable_to_shape_map()),
            "`load_checkpoint(p).get_variable_to_shape_map()` on both sides",
            check_list,
        ),
        Workload(
            "big-get",
            "get_tensor, one 256 MiB float32",
            Side(lambda: tf.train.load_checkpoint(big_ckpt).get_tensor("big")),
            Side(lambda: tfckpt.load_checkpoint(big_ckpt).get_tensor("big")),
            "open + `get_tensor`; CRC32C verified (both defaults)",
            check_big,
        ),
        Workload(
            "big-get-nocrc",
            "get_tensor, 256 MiB, tfckpt `verify_checksums=False`",
            None,
            Side(lambda: tfckpt.load_checkpoint(big_ckpt, verify_checksums=False).get_tensor("big")),
            "tfckpt without the CRC check vs TF with it (TF cannot skip it); shows what the CRC costs",
            tf_from="big-get",
        ),
        Workload(
            "get-all",
            f"get_tensor of all {SMALL_COUNT:,} small tensors",
            Side(tf_get_all),
            Side(our_get_all),
            "open + one `get_tensor` per key, in key order; 1-1024 elements each, float32/int64",
            check_all,
        ),
        Workload(
            "strings",
            f"get_tensor, {STRING_COUNT:,} short strings",
            Side(lambda: tf.train.load_checkpoint(str_ckpt).get_tensor("strings")),
            Side(lambda: tfckpt.load_checkpoint(str_ckpt).get_tensor("strings")),
            "0-16 random bytes each; object array of bytes on both sides",
            check_strings,
        ),
        Workload(
            "slice-partitioned",
            f"slice of first 1% rows, 256 MiB tensor in {PARTITIONS} partitions",
            Side(lambda: tf_restore_slice(part_ckpt, "part")),
            Side(lambda: tfckpt.load_checkpoint(part_ckpt).get_slice("part", slice_spec)),
            f"TF: `RestoreV2` with `\"{full} {slice_spec}\"`; tfckpt: open + `get_slice`; one 16 MiB partition is read",
            check_slice(part_ckpt, "part"),
        ),
        Workload(
            "slice-whole",
            "slice of first 1% rows, 256 MiB tensor stored whole",
            Side(lambda: tf_restore_slice(big_ckpt, "big")),
            Side(lambda: tfckpt.load_checkpoint(big_ckpt).get_slice("big", slice_spec)),
            "same calls; a tensor stored whole is read (and checksummed) whole by both, then cut",
            check_slice(big_ckpt, "big"),
        ),
        Workload(
            "big-save",
            "write one 256 MiB float32",
            Side(lambda: tf_save(tf_out, ["big"], [big_tensor]), clean_tf_out),
            Side(lambda: tfckpt.save(our_out, big_dict), clean_our_out),
            "`SaveV2` (input already a tf.Tensor) vs `tfckpt.save`; outputs byte-identical (checked); "
            "tfckpt fsyncs data and index, TF does not",
            check_write(["big"], [big_tensor], big_dict),
        ),
        Workload(
            "big-save-nofsync",
            "write one 256 MiB float32, tfckpt fsync patched out",
            None,
            Side(lambda: our_save_no_fsync(big_dict), clean_our_out),
            "`os.fsync` and `os.fdatasync` replaced by no-ops for the call: the same durability as TF's SaveV2",
            tf_from="big-save",
        ),
        Workload(
            "small-save",
            f"write {SMALL_COUNT:,} small tensors",
            Side(lambda: tf_save(tf_out, small_names, small_tensors), clean_tf_out),
            Side(lambda: tfckpt.save(our_out, small_dict), clean_our_out),
            "`SaveV2` (inputs already tf.Tensors) vs `tfckpt.save`; outputs byte-identical (checked)",
            check_write(small_names, small_tensors, small_dict),
        ),
        Workload(
            "small-save-nofsync",
            f"write {SMALL_COUNT:,} small tensors, tfckpt fsync patched out",
            None,
            Side(lambda: our_save_no_fsync(small_dict), clean_our_out),
            "as above, `os.fsync` a no-op",
            tf_from="small-save",
        ),
    ]


# ================================================================ reporting


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def fmt_mem(size: Optional[int]) -> str:
    if size is None:
        return "—"
    if size >= 10 * MiB:
        return f"{size / MiB:.0f} MiB"
    return f"{size / MiB:.1f} MiB"


def environment() -> dict:
    import crc32c
    from tfckpt import accel
    import google.protobuf
    from google.protobuf.internal import api_implementation
    import importlib.metadata as metadata

    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        ncpu = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        ncpu = os.cpu_count()
    commit = "unknown"
    try:
        repo = os.path.dirname(HERE)
        commit = subprocess.run(
            ["git", "-C", repo, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        if subprocess.run(["git", "-C", repo, "status", "--porcelain", "reference"], capture_output=True, text=True).stdout:
            commit += " (reference/ modified)"
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        crc_version = metadata.version("crc32c")
    except metadata.PackageNotFoundError:
        crc_version = "?"
    return {
        "cpu": cpu,
        "ncpu": ncpu,
        "memory": f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / (1 << 30):.0f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "load": f"{os.getloadavg()[0]:.1f}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "tensorflow": tf.__version__,
        "protobuf": f"{google.protobuf.__version__} ({api_implementation.Type()} backend)",
        "crc32c": f"{crc_version} ({'hardware-accelerated' if crc32c.hardware_based else 'software'})",
        "tfckpt": f"{tfckpt.__version__} at {commit}",
        "path": "C accelerator on" if accel.enabled() else "pure Python (C accelerator off)",
    }


def machine_lines(env: dict) -> list[str]:
    """The machine and versions, as the results files state them."""
    return [
        f"Machine: {env['ncpu']} CPUs ({env['cpu']}), {env['memory']} RAM, {env['os']}; "
        f"1-minute load average at start {env['load']}.  ",
        f"Versions: Python {env['python']}, numpy {env['numpy']}, TensorFlow {env['tensorflow']}, "
        f"protobuf {env['protobuf']}, crc32c {env['crc32c']}, tfckpt {env['tfckpt']}, {env['path']}.",
    ]


def default_label(env: dict) -> str:
    slug = re.sub(r"\(r\)|\(tm\)|cpu|@.*$", "", env["cpu"].lower())
    slug = re.sub(r"[^a-z0-9]+", "-", slug).strip("-")
    return f"{env['ncpu']}cpu-{slug or 'unknown'}"


def render(workloads: list[Workload], env: dict, reps: int, memory: bool, elapsed: float,
           floor: Optional[list[float]] = None) -> str:
    by_key = {w.key: w for w in workloads}
    lines = [
        "| # | workload | TF median (min) | tfckpt median (min) | tfckpt / TF | peak extra RSS TF / tfckpt"
        " | tfckpt tracemalloc peak | notes |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for number, w in enumerate(workloads, 1):
        tf_side = w.tf if w.tf is not None else by_key[w.tf_from].tf
        ratio = w.ours.median / tf_side.median
        tf_cell = f"{fmt_time(tf_side.median)} ({fmt_time(tf_side.best)})"
        if w.tf is None:
            tf_cell = f"*{tf_cell}*"
        rss_tf = fmt_mem(w.tf.rss) if w.tf is not None else "—"
        lines.append(
            f"| {number} | {w.title} | {tf_cell} | {fmt_time(w.ours.median)} ({fmt_time(w.ours.best)}) "
            f"| **{ratio:.2f}×** | {rss_tf} / {fmt_mem(w.ours.rss)} | {fmt_mem(w.ours.traced)} | {w.notes} |"
        )
    table = "\n".join(lines)
    if floor and "big-get" in by_key:
        number = [w.key for w in workloads].index("big-get") + 1
        floor_median = statistics.median(floor)
        table += (
            f"\n\nHardware floor, measured in this run: copying the {BIG_SHAPE[0] * BIG_SHAPE[1] * 4 >> 20} MiB "
            f"tensor into memory already mapped (`np.copyto`) plus CRC32C over it takes {fmt_time(floor_median)} "
            f"({fmt_time(min(floor))}). Row {number} (`big-get`, open + `get_tensor` with the checksum) takes "
            f"**{by_key['big-get'].ours.median / floor_median:.2f}×** that floor; TensorFlow "
            f"{by_key['big-get'].tf.median / floor_median:.2f}×."
        )
    rss_kind = {w.ours.rss_kind for w in workloads} - {""}
    how_rss = (
        "peak resident set (VmHWM, reset through /proc/self/clear_refs) minus the resident set before the call"
        if rss_kind == {"peak"}
        else "resident set after the call minus before (from /proc/self/statm; a lower bound of the peak)"
    )
    header = "\n".join(
        [
            f"# tfckpt vs TensorFlow — {datetime.date.today().isoformat()}",
            "",
            *machine_lines(env),
            "",
            f"Method: one process, both libraries imported; inputs from seed {SEED}, written by TF `SaveV2` "
            f"into a temporary directory; warm page cache (every file read once before timing, one untimed "
            f"warm-up call per side); {reps} alternating timed repetitions per side; times are median (min); "
            f"ratio = tfckpt median / TF median (above 1: tfckpt slower). "
            + (
                f"Memory (approximate; measured in a second process with `TF_ENABLE_ONEDNN_OPTS=0`, since TF's "
                f"default pooled CPU allocator never shows a delta after its first call): {how_rss}, result still "
                "alive; tracemalloc peak = Python-visible allocations of tfckpt (numpy buffers included). "
                if memory
                else "Memory not measured (`--no-memory`). "
            )
            + "Rows in *italics* reuse the TF timing of the row above for comparison. "
            f"Whole run: {elapsed:.0f} s.",
            "",
        ]
    )
    return header + "\n" + table + "\n"


def profile_workload(workload: Workload, top: int) -> str:
    workload.ours.run()  # warm-up
    workload.ours.cleanup()
    profiler = cProfile.Profile()
    profiler.enable()
    result = workload.ours.run()
    profiler.disable()
    del result
    workload.ours.cleanup()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


# ================================================================ main


def select(workloads: list[Workload], keys: list[str], parser) -> list[Workload]:
    if not keys:
        return workloads
    wanted = set(keys)
    unknown = wanted - {w.key for w in workloads}
    if unknown:
        parser.error(f"unknown workload(s) {sorted(unknown)} (see --list)")
    # keep a variant's reference workload so that its ratio can be computed
    wanted |= {w.tf_from for w in workloads if w.key in wanted and w.tf_from}
    return [w for w in workloads if w.key in wanted]


def main(argv=None) -> int:
    global SHARDED_BYTES
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions per side (default 5)")
    parser.add_argument("--only", action="append", default=[], metavar="KEY", help="run only these workloads")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurements")
    parser.add_argument("--no-save", action="store_true", help="print only; write no results file")
    parser.add_argument("--label", help="results file label (default: CPU count and model)")
    parser.add_argument("--workdir", help="parent of the temporary directory (default: the system's)")
    parser.add_argument("--profile", metavar="KEY", help="cProfile tfckpt's side of one workload and exit")
    parser.add_argument("--list", action="store_true", help="list the workload keys and exit")
    parser.add_argument("--sharded-mib", type=int, default=1024,
                        help="total size of the 8-shard checkpoint in MiB (default 1024)")
    parser.add_argument("--memory-child", metavar="WORK", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    SHARDED_BYTES = args.sharded_mib << 20

    if args.memory_child:  # internal: the memory process, over the parent's files
        workloads = select(build_workloads(args.memory_child, make_inputs(np.random.default_rng(SEED))), args.only, parser)
        print(json.dumps({w.key: measure_memory(w) for w in workloads}))
        return 0

    started = time.perf_counter()
    env = environment()
    work = tempfile.mkdtemp(prefix="tfckpt-bench-", dir=args.workdir)
    try:
        log(f"generating inputs (seed {SEED}) in {work}")
        inputs = make_inputs(np.random.default_rng(SEED))
        write_inputs(work, inputs)
        workloads = build_workloads(work, inputs)
        if args.list:
            for w in workloads:
                print(f"{w.key:20} {w.title}")
            return 0
        if args.profile:
            chosen = [w for w in workloads if w.key == args.profile]
            if not chosen:
                parser.error(f"unknown workload {args.profile!r} (see --list)")
            print(profile_workload(chosen[0], 25))
            return 0
        workloads = select(workloads, args.only, parser)
        for w in workloads:
            log(f"checking and timing {w.key}")
            w.check()
            measure_time(w, args.reps)
        if not args.no_memory:
            log("measuring memory in a second process")
            for key, found in memory_in_child(work, [w.key for w in workloads]).items():
                w = next(w for w in workloads if w.key == key)
                if w.tf is not None:
                    w.tf.rss, w.tf.rss_kind = found["tf_rss"], found["rss_kind"]
                w.ours.rss, w.ours.rss_kind, w.ours.traced = found["ours_rss"], found["rss_kind"], found["ours_traced"]
        floor = None
        if any(w.key == "big-get" for w in workloads):
            log("timing the hardware floor (memcpy + CRC32C of the big tensor)")
            floor = measure_floor(inputs["big"], args.reps)
        report = render(workloads, env, args.reps, not args.no_memory, time.perf_counter() - started, floor)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(report)
    if not args.no_save:
        label = args.label or default_label(env)
        path = os.path.join(HERE, "results", f"{datetime.date.today().isoformat()}-{label}.md")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(report)
        log(f"written to {os.path.relpath(path)}")
    return 0


_T0 = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _T0:6.1f} s] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
