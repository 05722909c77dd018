"""Freezing a graph of about 10,000 nodes with a 1 GB checkpoint, side by side with TensorFlow.

    PYTHONPATH=reference python benchmarks/freeze.py               # the issue's size: 1 GiB, ~10,000 nodes
    PYTHONPATH=reference python benchmarks/freeze.py --mb 64 --reps 1   # a quick look

Strategy
--------
A ``tf.compat.v1`` graph of ``--variables`` float32 reference variables (random
uniform initialisers, so each adds about ten nodes) whose values total ``--mb``
MB, each reduced by ``Sum`` and added up into one output ``total``, is saved by a
``Saver`` (``.meta`` + checkpoint).  Each side freezes it for ``total`` and
writes the ``.pb``:

* TensorFlow: what ``freeze_graph.py`` does -- ``import_meta_graph``, ``restore``,
  ``convert_variables_to_constants``, ``SerializeToString``;
* tfckpt, in memory: ``tfckpt.freeze(prefix, meta, ["total"])`` and ``write_frozen_graph``;
* tfckpt, streaming: ``write_frozen(dst, prefix, meta, ["total"])`` (what ``tfckpt freeze``
  runs), which writes each frozen node as soon as its value is read.

The two results are compared byte for byte (TensorFlow's re-serialised
deterministically, FREEZE-1), timed alternately ``--reps`` times (median ratio
reported), and memory is taken in child processes as in ``rewrite.py``: the
peak resident set (``VmHWM``) above the resident set before the job, and
``tracemalloc``'s peak for tfckpt.  The frozen graph itself holds every value,
so an in-memory freezer's floor is one copy of the constants plus their
serialisation; a streaming one needs one variable's value at a time.
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
sys.path.insert(0, HERE)
from rewrite import _status_kib  # noqa: E402


def make_model(work: str, mb: int, count: int) -> str:
    import tensorflow as tf

    v1 = tf.compat.v1
    per = mb * (1 << 20) // 4 // count
    prefix = os.path.join(work, "model.ckpt")
    with tf.Graph().as_default() as g:
        v1.set_random_seed(1)
        total = None
        for i in range(count):
            w = v1.get_variable(f"layer_{i:04d}/kernel", [per], initializer=v1.random_uniform_initializer(-1, 1))
            s = tf.reduce_sum(w)
            total = s if total is None else total + s
        tf.identity(total, name="total")
        saver = v1.train.Saver()
        with v1.Session(graph=g) as sess:
            sess.run(v1.global_variables_initializer())
            saver.save(sess, prefix, write_state=False)
        nodes = len(g.as_graph_def().node)
    return prefix, nodes


def tf_freeze(prefix: str, dst: str) -> None:
    import tensorflow as tf

    v1 = tf.compat.v1
    meta = tf.compat.v1.MetaGraphDef.FromString(open(prefix + ".meta", "rb").read())
    with tf.Graph().as_default() as g:
        saver = v1.train.import_meta_graph(meta)
        with v1.Session(graph=g) as sess:
            saver.restore(sess, prefix)
            frozen = v1.graph_util.convert_variables_to_constants(sess, meta.graph_def, ["total"])
    with open(dst, "wb") as f:
        f.write(frozen.SerializeToString())


def ours_freeze(prefix: str, dst: str) -> None:
    import tfckpt
    from tfckpt.graph.freeze import write_frozen_graph

    write_frozen_graph(dst, tfckpt.freeze(prefix, prefix + ".meta", ["total"]))


def stream_freeze(prefix: str, dst: str) -> None:
    from tfckpt.graph.freeze import write_frozen

    write_frozen(dst, prefix, prefix + ".meta", ["total"])


SIDES = {"tf": tf_freeze, "ours": ours_freeze, "stream": stream_freeze}


def child(which: str, prefix: str, dst: str) -> None:
    """Run one side once in a fresh process; print its memory figures as JSON."""
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import tensorflow  # noqa: F401 - both libraries imported, as in the timing process
    import tfckpt  # noqa: F401
    import tracemalloc

    before = _status_kib("VmRSS")
    tracemalloc.start()
    SIDES[which](prefix, dst)
    traced = tracemalloc.get_traced_memory()[1]
    print(json.dumps({"peak_rss_above_start_mib": (_status_kib("VmHWM") - before) / 1024,
                      "tracemalloc_peak_mib": traced / (1 << 20)}))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=int, default=1024)
    ap.add_argument("--variables", type=int, default=588, help="each adds 17 nodes")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--child", nargs=3, metavar=("WHICH", "PREFIX", "DST"), help=argparse.SUPPRESS)
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="directory for the results file")
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.child:
        child(*args.child)
        return 0
    import tensorflow as tf
    import tfckpt
    from tfckpt.proto import graph_pb2

    work = tempfile.mkdtemp(prefix="tfckpt-bench-freeze-")
    try:
        prefix, nodes = make_model(work, args.mb, args.variables)
        dst = {which: os.path.join(work, f"{which}.pb") for which in SIDES}
        times = {which: [] for which in SIDES}
        for _ in range(args.reps):
            for which, fn in SIDES.items():
                if os.path.exists(dst[which]):
                    os.remove(dst[which])
                start = time.perf_counter()
                fn(prefix, dst[which])
                times[which].append(time.perf_counter() - start)
        with open(dst["tf"], "rb") as a:
            theirs = graph_pb2.GraphDef.FromString(a.read()).SerializeToString(deterministic=True)
        for which in ("ours", "stream"):
            with open(dst[which], "rb") as b:
                assert b.read() == theirs, f"the frozen graph ({which}) differs from TensorFlow's"
        frozen_nodes = len(graph_pb2.GraphDef.FromString(theirs).node)
        size_mib = len(theirs) / (1 << 20)
        del theirs
        memory = {}
        for which in SIDES:
            os.remove(dst[which])
            out = subprocess.run([sys.executable, __file__, "--child", which, prefix, dst[which]], capture_output=True,
                                 text=True, check=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
            memory[which] = json.loads(out.stdout.strip().splitlines()[-1])
        tf_med, our_med = statistics.median(times["tf"]), statistics.median(times["ours"])
        stream_med = statistics.median(times["stream"])
        lines = [
            f"# Freeze benchmark ({time.strftime('%Y-%m-%d')}, TensorFlow {tf.__version__}, tfckpt {tfckpt.__version__})",
            "",
            f"A tf.compat.v1 graph of {nodes} nodes, {args.variables} float32 variables totalling {args.mb} MB, frozen "
            f"for one output ({frozen_nodes} nodes, {size_mib:.0f} MiB .pb); {args.reps} alternating repetitions, warm "
            f"page cache, {os.cpu_count()} cores. Outputs byte-identical (deterministic serialisation).",
            "",
            "| | median time | peak RSS above start | tracemalloc peak |",
            "|---|---:|---:|---:|",
            f"| TensorFlow: import_meta_graph + restore + convert_variables_to_constants + write | {tf_med:.2f} s | "
            f"{memory['tf']['peak_rss_above_start_mib']:.0f} MiB | n/a |",
            f"| tfckpt.freeze + write_frozen_graph | {our_med:.2f} s | {memory['ours']['peak_rss_above_start_mib']:.0f} MiB | "
            f"{memory['ours']['tracemalloc_peak_mib']:.0f} MiB |",
            f"| tfckpt.graph.freeze.write_frozen (streaming; `tfckpt freeze`) | {stream_med:.2f} s | "
            f"{memory['stream']['peak_rss_above_start_mib']:.0f} MiB | {memory['stream']['tracemalloc_peak_mib']:.0f} MiB |",
            "",
            f"Ratio tfckpt / TensorFlow (time): {our_med / tf_med:.2f} in memory, {stream_med / tf_med:.2f} streaming. "
            f"The constants are {size_mib:.0f} MiB: the in-memory result holds them all (its floor: the constants "
            f"plus their serialisation); the streaming writer holds one variable's value at a time.",
        ]
        report = "\n".join(lines) + "\n"
        print(report)
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, f"freeze-{time.strftime('%Y-%m-%d')}-{args.mb}mb.md"), "w") as f:
            f.write(report)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
