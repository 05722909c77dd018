"""Rewrite throughput and memory, side by side with TensorFlow (issue: rewriting a 2 GB checkpoint).

    PYTHONPATH=reference python benchmarks/rewrite.py --mb 2048     # the issue's size
    PYTHONPATH=reference python benchmarks/rewrite.py               # 512 MB, a few minutes

Strategy
--------
TensorFlow writes a checkpoint of ``--mb`` MB in ``--tensors`` float32 tensors
(``SaveV2``).  Each side then produces the same rewrite -- every key renamed
``x`` -> ``renamed/x``, what ``Saver(var_list={new: old})`` restores and saves:

* TensorFlow: ``RestoreV2`` of each tensor and one ``SaveV2`` of all of them under
  the new names (how a program does it: everything restored, then saved);
* tfckpt: ``tfckpt.rewrite(src, dst, rename=...)``, streaming.

Both outputs are compared byte for byte (they must be identical), the two are
timed alternately ``--reps`` times (median ratio reported), and memory is taken
in separate child processes as the peak resident set (``VmHWM``) above the
resident set before the job, plus ``tracemalloc``'s peak for tfckpt.  Warm page
cache; fsync on for tfckpt (its default), off for SaveV2 (TensorFlow has none).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def _status_kib(field: str) -> int:
    """A ``/proc/self/status`` figure in KiB (``VmHWM``: peak resident set; ``VmRSS``: resident set now)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def write_report(lines, directory: str, name: str) -> None:
    """Print the report and write it as ``directory/name``."""
    report = "\n".join(lines) + "\n"
    print(report)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "w") as f:
        f.write(report)


def make_source(work: str, mb: int, count: int) -> str:
    import tensorflow as tf

    per = mb * (1 << 20) // 4 // count
    rng = np.random.default_rng(0)
    prefix = os.path.join(work, "src", "ckpt")
    os.makedirs(os.path.dirname(prefix))
    names = [f"layer_{i:04d}/kernel" for i in range(count)]
    tensors = [tf.constant(rng.standard_normal(per, dtype=np.float32)) for _ in names]
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * count, tensors=tensors)
    return prefix


def tf_rewrite(src: str, dst: str) -> None:
    import tensorflow as tf

    reader = tf.train.load_checkpoint(src)
    names = sorted(reader.get_variable_to_shape_map())
    values = [tf.raw_ops.RestoreV2(prefix=src, tensor_names=[n], shape_and_slices=[""], dtypes=[tf.float32])[0]
              for n in names]
    tf.raw_ops.SaveV2(prefix=dst, tensor_names=["renamed/" + n for n in names], shape_and_slices=[""] * len(names),
                      tensors=values)


def ours_rewrite(src: str, dst: str) -> None:
    import tfckpt

    tfckpt.rewrite(src, dst, rename=[(r"^", "renamed/")])


def _clear(prefix: str) -> None:
    shutil.rmtree(os.path.dirname(prefix), ignore_errors=True)
    os.makedirs(os.path.dirname(prefix), exist_ok=True)


def child(which: str, src: str, dst: str) -> None:
    """Run one side once in a fresh process; print its memory figures as JSON."""
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import tensorflow  # noqa: F401 - both libraries imported, as in the timing process
    import tfckpt  # noqa: F401
    import tracemalloc

    before = _status_kib("VmRSS")
    tracemalloc.start()
    (tf_rewrite if which == "tf" else ours_rewrite)(src, dst)
    traced = tracemalloc.get_traced_memory()[1]
    print(json.dumps({"peak_rss_above_start_mib": (_status_kib("VmHWM") - before) / 1024, "tracemalloc_peak_mib": traced / (1 << 20)}))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=int, default=512)
    ap.add_argument("--tensors", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--child", nargs=3, metavar=("WHICH", "SRC", "DST"), help=argparse.SUPPRESS)
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="directory for the results file")
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.child:
        child(*args.child)
        return 0
    import tensorflow as tf
    import tfckpt

    work = tempfile.mkdtemp(prefix="tfckpt-bench-rewrite-")
    try:
        src = make_source(work, args.mb, args.tensors)
        dst_tf, dst_ours = os.path.join(work, "tf", "ckpt"), os.path.join(work, "ours", "ckpt")
        times = {"tf": [], "ours": []}
        for _ in range(args.reps):
            for which, fn, dst in (("tf", tf_rewrite, dst_tf), ("ours", ours_rewrite, dst_ours)):
                _clear(dst)
                start = time.perf_counter()
                fn(src, dst)
                times[which].append(time.perf_counter() - start)
        for suffix in (".index", ".data-00000-of-00001"):
            with open(dst_tf + suffix, "rb") as a, open(dst_ours + suffix, "rb") as b:
                assert a.read() == b.read(), f"rewrite output {suffix} differs from TensorFlow's"
        memory = {}
        for which, dst in (("tf", dst_tf), ("ours", dst_ours)):
            _clear(dst)
            out = subprocess.run([sys.executable, __file__, "--child", which, src, dst], capture_output=True, text=True,
                                 check=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
            memory[which] = json.loads(out.stdout.strip().splitlines()[-1])
        largest = args.mb / args.tensors
        tf_med, our_med = statistics.median(times["tf"]), statistics.median(times["ours"])
        lines = [
            f"# Rewrite benchmark ({time.strftime('%Y-%m-%d')}, TensorFlow {tf.__version__}, tfckpt {tfckpt.__version__})",
            "",
            f"{args.mb} MB in {args.tensors} float32 tensors ({largest:.0f} MB each), every key renamed; "
            f"{args.reps} alternating repetitions, warm page cache, {os.cpu_count()} cores. Outputs byte-identical.",
            "",
            "| | median time | peak RSS above start | tracemalloc peak |",
            "|---|---:|---:|---:|",
            f"| TensorFlow: RestoreV2 each + one SaveV2 | {tf_med:.2f} s | {memory['tf']['peak_rss_above_start_mib']:.0f} MiB | n/a |",
            f"| tfckpt.rewrite (streaming, fsync on) | {our_med:.2f} s | {memory['ours']['peak_rss_above_start_mib']:.0f} MiB | "
            f"{memory['ours']['tracemalloc_peak_mib']:.0f} MiB |",
            "",
            f"Ratio tfckpt / TensorFlow: {our_med / tf_med:.2f} (time). The largest tensor is {largest:.0f} MB; "
            f"tfckpt holds about one tensor at a time, TensorFlow's program holds all {args.mb} MB.",
        ]
        write_report(lines, args.out, f"rewrite-{time.strftime('%Y-%m-%d')}-{args.mb}mb.md")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
