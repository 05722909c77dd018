"""Reading through http://: requests and bytes fetched per operation, beside the file sizes.

    PYTHONPATH=reference:conformance python benchmarks/remote.py [--tensors 1000]

Strategy
--------
tfckpt writes a checkpoint of ``--tensors`` float32 tensors (1-4096 elements) and one of
64 MiB; the suite's ``RangeServer`` (a local server honouring Range requests) serves
them, counting requests and bytes sent.  Rows: opening (resolve + index), listing, one
``get_tensor`` of a small and of the big tensor, and reading every tensor.  The
ideal is the index's size for opening and exactly the tensor's bytes for a read
(spec/storage.md, STORE-1/STORE-3).  TensorFlow has no http:// file system, so there is
no TensorFlow column; its ``gs://`` reader is not reachable from this machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from rewrite import write_report  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tensors", type=int, default=1000)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args(argv)
    import tfckpt
    from tfckpt_conformance.range_server import RangeServer

    root = tempfile.mkdtemp(prefix="tfckpt-bench-remote-")
    try:
        rng = np.random.default_rng(0)
        small = {f"layer_{i:05d}/w": rng.standard_normal(int(rng.integers(1, 4097)), dtype=np.float32)
                 for i in range(args.tensors)}
        tfckpt.save(os.path.join(root, "small", "ckpt"), small)
        tfckpt.save(os.path.join(root, "big", "ckpt"), {"big": np.ones(16 << 20, np.float32)})
        rows = []
        with RangeServer(root) as server:
            def measure(what, fn, ideal):
                server.reset()
                start = time.perf_counter()
                fn()
                rows.append((what, server.requests, server.bytes_sent, ideal, time.perf_counter() - start))

            index = os.path.getsize(os.path.join(root, "small", "ckpt.index"))
            url = server.url("small/ckpt")
            holder = {}
            measure("open (resolve + index)", lambda: holder.setdefault("r", tfckpt.load_checkpoint(url)), index)
            reader = holder["r"]
            measure("list every key", reader.get_variable_to_shape_map, 0)
            key = sorted(small)[len(small) // 2]
            measure(f"get_tensor of one small tensor ({small[key].nbytes} B)", lambda: reader.get_tensor(key),
                    small[key].nbytes)
            measure("get_tensor of every small tensor", lambda: [reader.get_tensor(k) for k in small],
                    sum(v.nbytes for v in small.values()))
            big = tfckpt.load_checkpoint(server.url("big/ckpt"))
            measure("get_tensor of one 64 MiB tensor", lambda: big.get_tensor("big"), 64 << 20)
            reader.close()
            big.close()
        lines = [
            f"# Remote reads through http:// ({time.strftime('%Y-%m-%d')}, tfckpt {tfckpt.__version__})",
            "",
            f"A local Range-capable server (tfckpt_conformance.range_server); {args.tensors} small float32 tensors "
            "and one of 64 MiB, written by tfckpt.",
            "",
            "| operation | requests | bytes fetched | ideal bytes | time |",
            "|---|---:|---:|---:|---:|",
        ]
        lines += [f"| {w} | {r} | {b:,} | {i:,} | {t:.2f} s |" for w, r, b, i, t in rows]
        lines += ["", "Every read is one ranged request for exactly its bytes; a listing after opening fetches nothing."]
        write_report(lines, args.out, f"remote-{time.strftime('%Y-%m-%d')}.md")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
