"""Tests of the conformance suite itself (ordinary run): helpers to run the suite in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SUITE = os.path.join(REPO, "conformance", "tests")


def pytest_configure(config):
    config.addinivalue_line("markers", "spec(*ids): the spec requirement ids a test checks")


def _env():
    paths = [HERE, os.path.join(REPO, "reference"), os.path.join(REPO, "conformance")]
    old = os.environ.get("PYTHONPATH")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths + ([old] if old else [])))
    env.pop("TFCKPT_CONFORMANCE_PROFILE", None)
    return env


class SuiteRun:
    def __init__(self, proc, results_path):
        self.returncode = proc.returncode
        self.output = proc.stdout + proc.stderr
        self.results = {}
        if os.path.exists(results_path):
            with open(results_path, encoding="utf-8") as f:
                self.results = {t["id"]: t for t in json.load(f)["tests"]}

    def outcome(self, test_id):
        return self.results.get(test_id, {}).get("outcome")

    def message(self, test_id):
        return self.results.get(test_id, {}).get("message", "")

    def failed(self):
        return sorted(k for k, v in self.results.items() if v["outcome"] in ("failed", "error"))


@pytest.fixture
def run_suite(tmp_path):
    """Run ``pytest conformance/tests`` in a subprocess with the given options; returns a SuiteRun."""

    def run(*args, expected_failures=None, fixture_dir=None, timeout=300):
        results = str(tmp_path / f"results-{len(os.listdir(tmp_path))}.json")
        xf = expected_failures or str(tmp_path / "no-expected-failures.txt")
        cmd = [sys.executable, "-m", "pytest", SUITE, "-p", "no:cacheprovider", "-q",
               "--trusted-reader", "reference", "--results", results, "--expected-failures", xf,
               "--basetemp", str(tmp_path / "base")]
        if fixture_dir:
            cmd += ["--fixture-dir", str(fixture_dir)]
        cmd += list(args)
        proc = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=timeout)
        return SuiteRun(proc, results)

    return run


@pytest.fixture(scope="session")
def mini_fixtures(tmp_path_factory):
    """A two-case fixture set: one valid checkpoint and a copy with one data byte flipped (DATA_LOSS).

    Written with the reference writer -- these check the suite's machinery, not
    the format, so they need not come from TensorFlow.
    """
    import tfckpt
    from tfckpt_conformance import description as D

    root = tmp_path_factory.mktemp("mini-fixtures")
    desc = D.Description([
        D.tensor_from_array("dense/kernel", "float32", np.arange(6, dtype=np.float32).reshape(2, 3)),
        D.TensorDescription("vocab", "string", (3,), strings=[b"", b"abc", b"\xff" * 130]),
        D.tensor_from_array("h", "bfloat16", np.array([0x3F80, 0x8000, 0x7FC1], dtype=np.uint16)),
    ])
    cases = []
    for cid, flip in (("mini-valid", False), ("mini-data-crc", True)):
        case_dir = root / cid
        case_dir.mkdir()
        prefix = str(case_dir / "ckpt")
        tfckpt.save(prefix, {"dense/kernel": np.arange(6, dtype=np.float32).reshape(2, 3),
                             "vocab": np.array([b"", b"abc", b"\xff" * 130], dtype=object),
                             "h": np.array([0x3F80, 0x8000, 0x7FC1], dtype=np.uint16).view(
                                 tfckpt.as_dtype("bfloat16").numpy_dtype)})
        D.save(desc, str(case_dir))
        data = case_dir / "ckpt.data-00000-of-00001"
        if flip:
            raw = bytearray(data.read_bytes())
            raw[0] ^= 0x01  # inside dense/kernel, the first tensor written
            data.write_bytes(bytes(raw))
        entry = {"id": cid, "kind": "checkpoint", "comment": cid, "prefix": "ckpt",
                 "files": ["ckpt.index", "ckpt.data-00000-of-00001", "description.json", "arrays.npz"],
                 "tags": ["dtype:float32", "dtype:bfloat16", "string"],
                 "result": "invalid" if flip else "valid",
                 "expected": {"category": "DATA_LOSS"} if flip else {"description": "description.json"}}
        if flip:
            entry["reason"] = "one byte of tensor data flipped"
            entry["tf_behaviour"] = {"outcome": "error", "category": "DATA_LOSS"}
        cases.append(entry)
    manifest = {"schema": "tfckpt-fixtures-manifest/1", "producer": {"tensorflow": "none (test)"},
                "numberOfCases": len(cases), "tags": {}, "cases": cases}
    (root / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return root
