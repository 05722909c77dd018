"""How the cost of tfckpt and TensorFlow grows with the number of keys and with bytes.

Run like ``run.py`` (both libraries in one process)::

    TF_CPP_MIN_LOG_LEVEL=3 PYTHONPATH=reference python benchmarks/growth.py
    python benchmarks/plot_growth.py benchmarks/results/<date>-growth.json   # needs matplotlib

Strategy
--------
Two series, each point written by TensorFlow's ``SaveV2`` into a temporary
directory and then read (warm page cache) by both libraries, alternately,
``--reps`` times; the minimum of each side is kept (the least disturbed run on
a shared machine):

* *keys*: ``N`` float32 scalars for N = 10^3, 10^4, 10^5 (``--max-keys``
  for 10^6): ``open + get_variable_to_shape_map()`` and ``open + get_tensor``
  of every key;
* *bytes*: one float32 tensor of 1 MiB, 16 MiB, 256 MiB, 1 GiB
  (``--max-mib``): ``open + get_tensor`` and a save (``SaveV2`` vs
  ``tfckpt.save``, tfckpt fsyncing as by default).

The table is printed and, with the raw numbers, written to
``results/<date>-growth.md`` and ``.json`` beside ``run.py``'s results.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the same process setup, helpers and environment report)

np, tf, tfckpt = run.np, run.tf, run.tfckpt


def _best(fn, reps):
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        del result
    return min(times)


def _pair(tf_fn, our_fn, reps, cleanup=lambda: None):
    tf_times, our_times = [], []
    for fn, times in ((tf_fn, tf_times), (our_fn, our_times)):
        fn()
        cleanup()
    for _ in range(reps):
        for fn, times in ((tf_fn, tf_times), (our_fn, our_times)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
            cleanup()
    return min(tf_times), min(our_times)


def key_series(work, counts, reps):
    rows = []
    for count in counts:
        prefix = os.path.join(work, f"keys{count}", "ckpt")
        names = [f"layer_{i // 100:05d}/unit_{i % 100:02d}/w" for i in range(count)]
        run.tf_save(prefix, names, [tf.constant(np.float32(i)) for i in range(count)])
        run.read_whole(run.checkpoint_files(prefix))
        tf_list, our_list = _pair(lambda: tf.train.load_checkpoint(prefix).get_variable_to_shape_map(),
                                  lambda: tfckpt.load_checkpoint(prefix).get_variable_to_shape_map(), reps)

        def tf_all():
            reader = tf.train.load_checkpoint(prefix)
            return [reader.get_tensor(n) for n in names]

        def our_all():
            reader = tfckpt.load_checkpoint(prefix)
            return [reader.get_tensor(n) for n in names]

        tf_get, our_get = _pair(tf_all, our_all, reps)
        rows.append(dict(keys=count, tf_list=tf_list, ours_list=our_list, tf_get_all=tf_get, ours_get_all=our_get))
        shutil.rmtree(os.path.dirname(prefix))
        run.log(f"keys {count}: list {our_list / tf_list:.2f}x, get-all {our_get / tf_get:.2f}x")
    return rows


def byte_series(work, sizes, reps):
    rows = []
    rng = np.random.default_rng(run.SEED)
    for size in sizes:
        prefix = os.path.join(work, f"bytes{size}", "ckpt")
        array = rng.standard_normal(size // 4, dtype=np.float32)
        tensor = tf.constant(array)
        run.tf_save(prefix, ["x"], [tensor])
        run.read_whole(run.checkpoint_files(prefix))
        tf_get, our_get = _pair(lambda: tf.train.load_checkpoint(prefix).get_tensor("x"),
                                lambda: tfckpt.load_checkpoint(prefix).get_tensor("x"), reps)
        out_tf, out_ours = os.path.join(work, "out", "tf"), os.path.join(work, "out", "ours")
        os.makedirs(os.path.dirname(out_tf), exist_ok=True)

        def clean():
            run.remove_checkpoint(out_tf) if os.path.exists(out_tf + ".index") else None
            run.remove_checkpoint(out_ours) if os.path.exists(out_ours + ".index") else None

        tf_save, our_save = _pair(lambda: run.tf_save(out_tf, ["x"], [tensor]),
                                  lambda: tfckpt.save(out_ours, {"x": array}), reps, clean)
        rows.append(dict(bytes=size, tf_get=tf_get, ours_get=our_get, tf_save=tf_save, ours_save=our_save))
        del tensor, array
        shutil.rmtree(os.path.dirname(prefix))
        run.log(f"bytes {size >> 20} MiB: get {our_get / tf_get:.2f}x, save {our_save / tf_save:.2f}x")
    return rows


def render(env, keys, sizes, reps, elapsed) -> str:
    f = run.fmt_time
    lines = [
        f"# Growth: tfckpt vs TensorFlow — {datetime.date.today().isoformat()}",
        "",
        *run.machine_lines(env),
        "",
        f"Method: `benchmarks/growth.py`; files written by SaveV2, warm page cache, both sides alternately, "
        f"best of {reps}; ratio = tfckpt / TF (above 1: tfckpt slower). Whole run: {elapsed:.0f} s.",
        "",
        "| keys | list TF | list tfckpt | ratio | get all TF | get all tfckpt | ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in keys:
        lines.append(f"| {r['keys']:,} | {f(r['tf_list'])} | {f(r['ours_list'])} | **{r['ours_list'] / r['tf_list']:.2f}×** "
                     f"| {f(r['tf_get_all'])} | {f(r['ours_get_all'])} | **{r['ours_get_all'] / r['tf_get_all']:.2f}×** |")
    lines += ["", "| bytes | get TF | get tfckpt | ratio | save TF | save tfckpt (fsync) | ratio |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sizes:
        lines.append(f"| {r['bytes'] >> 20} MiB | {f(r['tf_get'])} | {f(r['ours_get'])} | **{r['ours_get'] / r['tf_get']:.2f}×** "
                     f"| {f(r['tf_save'])} | {f(r['ours_save'])} | **{r['ours_save'] / r['tf_save']:.2f}×** |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--max-keys", type=int, default=100_000, help="largest key count (powers of 10 from 1,000)")
    parser.add_argument("--max-mib", type=int, default=1024, help="largest tensor in MiB (1, 16, 256, 1024, 4096)")
    parser.add_argument("--workdir")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    env = run.environment()
    counts = [10**k for k in range(3, 8) if 10**k <= args.max_keys]
    sizes = [m << 20 for m in (1, 16, 256, 1024, 4096) if m <= args.max_mib]
    work = tempfile.mkdtemp(prefix="tfckpt-growth-", dir=args.workdir)
    try:
        keys = key_series(work, counts, args.reps)
        byte_rows = byte_series(work, sizes, args.reps)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = render(env, keys, byte_rows, args.reps, time.perf_counter() - started)
    print(report)
    if not args.no_save:
        base = os.path.join(run.HERE, "results", f"{datetime.date.today().isoformat()}-growth")
        with open(base + ".md", "w", encoding="utf-8") as handle:
            handle.write(report)
        with open(base + ".json", "w", encoding="utf-8") as handle:
            json.dump(dict(environment=env, keys=keys, bytes=byte_rows), handle, indent=1)
        run.log(f"written to {os.path.relpath(base)}.md/.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
