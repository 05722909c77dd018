"""diff, convert and verify on a big checkpoint: time and peak memory, beside what a TensorFlow
program does for the same job (issue 12: "memory bounded by its largest tensor plus a few MiB").

    PYTHONPATH=reference python benchmarks/jobs_memory.py --mb 2048     # the issue's size
    PYTHONPATH=reference python benchmarks/jobs_memory.py --mb 256      # a quick look

Strategy
--------
TensorFlow writes the source (``--mb`` MB in ``--tensors`` float32 tensors, ``SaveV2``;
``rewrite.make_source``) and a second checkpoint with one tensor changed.  Each job then
runs once in a fresh child process, which reports its wall time and its peak resident
set above the resident set before the job (``VmHWM - VmRSS``, ``rewrite._status_kib``):

* ``tfckpt diff A B``, against a TensorFlow program reading both with
  ``tf.train.load_checkpoint`` and comparing tensor by tensor;
* ``tfckpt convert A out.safetensors`` / ``out.npz``, against a program that reads every
  tensor with TensorFlow's reader and calls ``safetensors.numpy.save_file`` / ``numpy.savez``
  (both need every tensor in memory);
* ``tfckpt convert out.safetensors prefix`` (the way back: validated by the library, then read
  tensor by tensor);
* ``tfckpt verify A`` (every checksum), against TensorFlow reading every tensor.

Warm page cache; the progress bar is off (children have no terminal).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from rewrite import _status_kib, make_source, write_report  # noqa: E402  (one helper for both benchmarks)


def _tf_read_all(prefix):
    import tensorflow as tf

    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name in sorted(reader.get_variable_to_shape_map())}


def _tf_diff(a, b):
    import numpy as np
    import tensorflow as tf

    ra, rb = tf.train.load_checkpoint(a), tf.train.load_checkpoint(b)
    for name in sorted(ra.get_variable_to_shape_map()):
        np.max(np.abs(ra.get_tensor(name) - rb.get_tensor(name)))


def _tf_safetensors(a, out):
    from safetensors.numpy import save_file

    save_file(_tf_read_all(a), out)


def _tf_npz(a, out):
    import numpy as np

    np.savez(out, **_tf_read_all(a))


def _tf_verify(a):
    import tensorflow as tf

    reader = tf.train.load_checkpoint(a)
    for name in sorted(reader.get_variable_to_shape_map()):
        reader.get_tensor(name)


def _ours(argv):
    from tfckpt.cli.main import main

    status = main(argv)
    assert status in (0, 1), status  # diff exits 1 when the checkpoints differ


JOBS = {
    # name: (tfckpt, TensorFlow program or None); paths filled in from the work directory
    "diff A B": (lambda w: _ours(["diff", w["a"], w["b"]]), lambda w: _tf_diff(w["a"], w["b"])),
    "convert A -> .safetensors": (lambda w: _ours(["convert", "--quiet", w["a"], w["st"]]),
                                  lambda w: _tf_safetensors(w["a"], w["st"])),
    "convert A -> .npz": (lambda w: _ours(["convert", "--quiet", w["a"], w["npz"]]), lambda w: _tf_npz(w["a"], w["npz"])),
    "convert .safetensors -> checkpoint": (lambda w: _ours(["convert", "--quiet", w["st_in"], w["back"]]), None),
    "verify A": (lambda w: _ours(["verify", "--quiet", w["a"]]), lambda w: _tf_verify(w["a"])),
}


def child(job: str, side: str, work: dict) -> None:
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import numpy  # noqa: F401 - imported before the baseline on both sides
    if side == "tf":
        import tensorflow  # noqa: F401
    import tfckpt  # noqa: F401

    before = _status_kib("VmRSS")
    start = time.perf_counter()
    JOBS[job][0 if side == "ours" else 1](work)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_rss_above_start_mib": (_status_kib("VmHWM") - before) / 1024}))


def _run_child(job, side, work):
    for key in ("st", "npz", "back"):
        path = work[key]
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)
        os.makedirs(os.path.dirname(path), exist_ok=True)
    out = subprocess.run([sys.executable, __file__, "--child", job, side, json.dumps(work)], capture_output=True,
                         text=True, check=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=int, default=512)
    ap.add_argument("--tensors", type=int, default=64)
    ap.add_argument("--child", nargs=3, metavar=("JOB", "SIDE", "WORK"), help=argparse.SUPPRESS)
    ap.add_argument("--no-tensorflow", action="store_true", help="tfckpt's side only")
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="directory for the results file")
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.child:
        child(args.child[0], args.child[1], json.loads(args.child[2]))
        return 0
    import numpy as np
    import tensorflow as tf

    import tfckpt

    root = tempfile.mkdtemp(prefix="tfckpt-bench-jobs-")
    try:
        a = make_source(root, args.mb, args.tensors)
        with tfckpt.load_checkpoint(a) as reader:
            values = {k: reader.get_tensor(k) for k in reader.keys()}
        first = sorted(values)[0]
        values[first] = values[first] + np.float32(1)
        b = os.path.join(root, "b", "ckpt")
        tfckpt.save(b, values)
        del values
        work = {"a": a, "b": b, "st": os.path.join(root, "st", "out.safetensors"),
                "npz": os.path.join(root, "npz", "out.npz"), "back": os.path.join(root, "back", "ckpt"),
                "st_in": os.path.join(root, "st_in", "in.safetensors")}
        os.makedirs(os.path.dirname(work["st_in"]))
        from tfckpt.jobs.convert import convert

        convert(a, work["st_in"])
        rows = []
        for job, (_, theirs) in JOBS.items():
            ours = _run_child(job, "ours", work)
            tf_side = _run_child(job, "tf", work) if theirs is not None and not args.no_tensorflow else None
            rows.append((job, ours, tf_side))
        largest = args.mb / args.tensors
        lines = [
            f"# diff / convert / verify memory ({time.strftime('%Y-%m-%d')}, TensorFlow {tf.__version__}, "
            f"tfckpt {tfckpt.__version__})",
            "",
            f"{args.mb} MB in {args.tensors} float32 tensors ({largest:.0f} MB each), written by TensorFlow's SaveV2; "
            f"one run per side in a fresh process, warm page cache, {os.cpu_count()} cores.",
            "",
            "| job | tfckpt time | tfckpt peak RSS above start | TF program time | TF peak RSS above start | time ratio |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for job, ours, theirs in rows:
            t = (f"{theirs['seconds']:.2f} s | {theirs['peak_rss_above_start_mib']:.0f} MiB | "
                 f"{ours['seconds'] / theirs['seconds']:.2f}") if theirs else "n/a | n/a | n/a"
            lines.append(f"| {job} | {ours['seconds']:.2f} s | {ours['peak_rss_above_start_mib']:.0f} MiB | {t} |")
        lines += ["", f"The largest tensor is {largest:.0f} MB."]
        write_report(lines, args.out, f"jobs-memory-{time.strftime('%Y-%m-%d')}-{args.mb}mb.md")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
