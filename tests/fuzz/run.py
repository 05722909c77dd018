"""The fuzzing campaign: coverage-guided (atheris, i.e. libFuzzer) over every target in targets.py.

Usage (``tox -e fuzz`` runs it; not part of ``.ci/run``)::

    python tests/fuzz/run.py --seconds 120            # every target, 120 s each
    python tests/fuzz/run.py --target bundle --seconds 600
    python tests/fuzz/run.py --seed                   # (re)build corpus/ seeds from fixtures/

Why atheris: it is the maintained coverage-guided fuzzer for Python (Google's,
libFuzzer inside), it instruments pure-Python code, and it installs from the
package index here.  Each target runs in its own child process with libFuzzer's
limits -- ``-timeout`` (a hang is a finding), ``-rss_limit_mb`` and
``-malloc_limit_mb`` (an allocation the input does not justify is a finding) --
over a working copy of the committed corpus (``corpus/<target>/``, small
seeds made from the TensorFlow-written fixtures, plus minimised inputs that
once found new coverage or a bug).  Findings (crash-*, timeout-*, oom-* files)
land in ``findings/<target>/``; each should become a regression test and a
corpus entry.  The report (inputs run, coverage, findings per target) is
written to ``reports/last.md`` and ``reports/last.json`` (``--report NAME`` for another name).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")
FINDINGS = os.path.join(HERE, "findings")
REPORTS = os.path.join(HERE, "reports")

#: The largest seed kept in the committed corpus (bytes).
MAX_SEED = 16 * 1024

_CHILD = """
import sys
sys.path[:0] = [{here!r}, {reference!r}]
import atheris
with atheris.instrument_imports(include=["tfckpt"]):
    import targets
target = targets.TARGETS[{name!r}]
atheris.Setup(sys.argv, target)
atheris.Fuzz()
"""


def run_target(name: str, seconds: int, *, rss_mb: int, timeout: int, work: str) -> dict:
    corpus = os.path.join(work, name)
    shutil.copytree(os.path.join(CORPUS, name), corpus, dirs_exist_ok=True)
    findings = os.path.join(FINDINGS, name)
    os.makedirs(findings, exist_ok=True)
    code = _CHILD.format(here=HERE, reference=os.path.join(REPO, "reference"), name=name)
    argv = [sys.executable, "-c", code, corpus, f"-max_total_time={seconds}", f"-timeout={timeout}",
            f"-rss_limit_mb={rss_mb}", f"-malloc_limit_mb={rss_mb}", "-max_len=65536", "-print_final_stats=1",
            f"-artifact_prefix={findings}{os.sep}", "-close_fd_mask=1"]
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True)
    log = proc.stderr
    runs = _last_int(r"stat::number_of_executed_units:\s*(\d+)", log) or _last_int(r"Done (\d+) runs", log) or 0
    cov = _last_int(r"\bcov: (\d+)", log)
    ft = _last_int(r"\bft: (\d+)", log)
    artifacts = sorted(os.listdir(findings))
    result = {
        "target": name, "seconds": round(time.monotonic() - started, 1), "inputs": runs, "coverage_edges": cov,
        "features": ft, "exit_status": proc.returncode, "findings": artifacts,
        "corpus_size": len(os.listdir(corpus)),
    }
    if proc.returncode not in (0,) and not artifacts:
        result["log_tail"] = log[-3000:]
    return result


def _last_int(pattern: str, text: str):
    found = re.findall(pattern, text)
    return int(found[-1]) if found else None


def seed() -> None:
    """Seeds from the TensorFlow-written fixtures: small files only, one per case."""
    sys.path[:0] = [HERE, os.path.join(REPO, "reference")]
    import targets

    fixtures = os.path.join(REPO, "fixtures", "tf-2.21.0")
    manifest = json.load(open(os.path.join(fixtures, "manifest.json")))
    wanted: dict[str, list[tuple[str, bytes]]] = {name: [] for name in targets.TARGETS}

    def read(path):
        with open(path, "rb") as handle:
            return handle.read()

    for case in manifest["cases"]:
        if case["result"] != "valid":
            continue
        d = os.path.join(fixtures, case["id"])
        files = case["files"]
        prefix = case["prefix"]
        if prefix + ".index" in files and prefix + ".data-00000-of-00001" in files:
            wanted["bundle"].append((case["id"], targets.join(read(os.path.join(d, prefix + ".index")),
                                                              read(os.path.join(d, prefix + ".data-00000-of-00001")))))
        if "v1" in case["tags"] and prefix in files:
            wanted["v1"].append((case["id"], read(os.path.join(d, prefix))))
        for f in files:
            base = os.path.basename(f)
            if base == "checkpoint":
                wanted["state_file"].append((case["id"], read(os.path.join(d, f))))
            elif base.endswith(".meta"):
                wanted["meta_graph"].append((case["id"], read(os.path.join(d, f))))
            elif base.endswith(".pb") and base != "saved_model.pb":
                wanted["graph_def"].append((case["id"], read(os.path.join(d, f))))
            elif base == "saved_model.pb":
                wanted["saved_model"].append((case["id"], read(os.path.join(d, f))))
        if "arrays.npz" in files:  # the fixture's expected values, written by numpy
            arrays = read(os.path.join(d, "arrays.npz"))
            wanted["npz_input"].append((case["id"], arrays))
            safetensors = _safetensors_seed(os.path.join(d, "arrays.npz"))
            if safetensors:
                wanted["safetensors_input"].append((case["id"], safetensors))
            weights = _weights_h5_seed(os.path.join(d, "arrays.npz"))
            if weights:
                wanted["weights_h5"].append((case["id"], weights))
        if "object_graph" in case["tags"] and prefix + ".index" in files:
            import tfckpt
            from tfckpt.objects import object_graph as og

            try:
                with tfckpt.load_checkpoint(os.path.join(d, prefix)) as reader:
                    wanted["object_graph"].append((case["id"], reader.get_tensor(og.OBJECT_GRAPH_KEY).item()))
            except Exception:  # noqa: BLE001 - a seed we cannot make is just not made
                pass
    # remote: 4 control bytes (targets.remote) + a bundle or a V1 file; clean storage, then a few faults.
    wanted["remote"] = ([(cid, b"\0\0\0\0" + data) for cid, data in wanted["bundle"][:12]]
                        + [(cid, b"\x10\0\0\0" + data) for cid, data in wanted["v1"][:4]])
    faults = {"short": b"\0\x11\x03\x01", "long": b"\0\x22\x05\x00", "size": b"\x05\0\x07\0",
              "error": b"\0\x04\x01\x02"}
    for fault, control in faults.items():
        wanted["remote"] += [(f"{cid}-{fault}", control + data[4:]) for cid, data in wanted["remote"][:2]]
    for name, seeds in wanted.items():
        out = os.path.join(CORPUS, name)
        os.makedirs(out, exist_ok=True)
        kept = [(cid, data) for cid, data in seeds if len(data) <= MAX_SEED][:40]
        for cid, data in kept:
            with open(os.path.join(out, f"seed-{cid}"), "wb") as handle:
                handle.write(data)
        print(f"{name}: {len(kept)} seeds")


def _safetensors_seed(npz_path: str) -> bytes:
    """The numeric arrays of a fixture's ``arrays.npz`` as a ``.safetensors`` file (the library writes it)."""
    import numpy as np
    from safetensors.numpy import save

    with np.load(npz_path, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files if archive[k].dtype.kind in "biufc"
                  and archive[k].dtype.name != "complex128"}
    return save(arrays) if arrays else b""


def _weights_h5_seed(npz_path: str) -> bytes:
    """The numeric arrays of a fixture's ``arrays.npz`` as a ``.weights.h5`` in Keras's layout
    (``/vars`` named, one ``layers/<n>/vars/0`` per array), written by h5py."""
    import io

    import h5py
    import numpy as np

    buffer = io.BytesIO()
    with np.load(npz_path, allow_pickle=False) as archive, h5py.File(buffer, "w", libver="latest") as f:
        f.create_group("vars").attrs["name"] = "sequential"
        arrays = [archive[k] for k in archive.files if archive[k].dtype.kind in "biuf"]
        for i, value in enumerate(arrays[:3]):
            f.create_group(f"layers/dense_{i}/vars").attrs["name"] = f"dense_{i}"
            f.create_dataset(f"layers/dense_{i}/vars/0", data=value)
    return buffer.getvalue() if arrays else b""


def report(results: list[dict], name: str = "last") -> None:
    os.makedirs(REPORTS, exist_ok=True)
    total = sum(r["inputs"] for r in results)
    found = sum(len(r["findings"]) for r in results)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "python": platform.python_version(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores", "total_inputs": total, "findings": found,
            "commit": subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                                     text=True).stdout.strip()}
    with open(os.path.join(REPORTS, name + ".json"), "w") as handle:
        json.dump({"run": meta, "targets": results}, handle, indent=1)
    lines = [f"# Fuzzing report ({meta['date']}, commit {meta['commit']})", "",
             f"atheris (libFuzzer), Python {meta['python']}, {meta['machine']}. "
             f"{total:,} inputs, {found} findings.", "",
             "| target | seconds | inputs | coverage (edges) | features | corpus | findings |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for r in results:
        lines.append(f"| {r['target']} | {r['seconds']} | {r['inputs']:,} | {r['coverage_edges']} | {r['features']} | "
                     f"{r['corpus_size']} | {', '.join(r['findings']) or 'none'} |")
    with open(os.path.join(REPORTS, name + ".md"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", action="append", help="a target of targets.py (default: all)")
    ap.add_argument("--seconds", type=int, default=60, help="time per target")
    ap.add_argument("--rss-mb", type=int, default=2048, help="memory limit of one target process")
    ap.add_argument("--timeout", type=int, default=10, help="seconds one input may take")
    ap.add_argument("--report", default="last", help="report name under reports/ (default: last)")
    ap.add_argument("--seed", action="store_true", help="rebuild corpus/ seeds from fixtures/ and stop")
    args = ap.parse_args(argv)
    if args.seed:
        seed()
        return 0
    sys.path[:0] = [HERE, os.path.join(REPO, "reference")]
    import targets

    names = args.target or list(targets.TARGETS)
    work = tempfile.mkdtemp(prefix="tfckpt-fuzz-corpus-")
    results = []
    for name in names:
        results.append(run_target(name, args.seconds, rss_mb=args.rss_mb, timeout=args.timeout, work=work))
        print(json.dumps(results[-1]), flush=True)
    report(results, args.report)
    return 1 if any(r["findings"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
