"""The suite's machinery: the protocol runner, descriptions, expected-failure files, reports."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

from tfckpt_conformance import description as D
from tfckpt_conformance import report, update_expected_failures
from tfckpt_conformance.adapter import AdapterCrash, AdapterTimeout, ImplementationError, Unsupported
from tfckpt_conformance.protocol import SubprocessAdapter

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "fake_servers.py")


def _fake(mode, timeout=2.0):
    return SubprocessAdapter([sys.executable, FAKE, mode], timeout=timeout, hello_timeout=30)


@pytest.mark.spec("CONF-13", "CONF-14", "CONF-15", "CONF-16", "CONF-19")
def test_protocol_hello_replies_and_shutdown():
    a = _fake("ok")
    try:
        assert a.name == "fake-ok" and a.operations == {"read", "list"} and "dtype:float32" in a.features
        assert [(i.key, i.dtype, i.shape) for i in a.list("/nowhere")] == [("w", "float32", (2,))]
        with pytest.raises(ImplementationError) as err:
            a.read("/nowhere")
        assert err.value.category == "DATA_LOSS"
        with pytest.raises(Unsupported):
            a.validate("/nowhere")
    finally:
        a.close()


@pytest.mark.spec("CONF-6", "CONF-18")
def test_protocol_timeout_kills_and_restarts():
    a = _fake("hang", timeout=1.0)
    try:
        with pytest.raises(AdapterTimeout, match="no answer to 'list' within 1 s"):
            a.list("/x")
        assert a.restarts == 1
        with pytest.raises(ImplementationError):  # a fresh process answers the next request
            a.read("/x")
    finally:
        a.close()


@pytest.mark.spec("CONF-6", "CONF-18")
def test_protocol_dead_process_is_a_crash_and_is_restarted():
    a = _fake("die")
    try:
        with pytest.raises(AdapterCrash, match=r"exit status 3"):
            a.list("/x")
        with pytest.raises(ImplementationError):
            a.read("/x")
        assert a.restarts == 1
    finally:
        a.close()


@pytest.mark.spec("CONF-13", "CONF-16")
def test_protocol_garbage_on_stdout_is_a_crash():
    a = _fake("garbage")
    try:
        with pytest.raises(AdapterCrash, match="not JSON"):
            a.list("/x")
    finally:
        a.close()


@pytest.mark.spec("CONF-17", "CONF-29")
def test_description_raw_files_and_bitwise_comparison(tmp_path):
    nan_a = np.array([0x7FC00001, 0x80000000], dtype=np.uint32).view(np.float32)
    nan_b = np.array([0x7FC00002, 0x80000000], dtype=np.uint32).view(np.float32)
    a = D.Description([D.tensor_from_array("x", "float32", nan_a)])
    D.save(a, str(tmp_path / "a"), raw_files=True)
    meta = json.loads((tmp_path / "a" / "description.json").read_text())
    del meta["tensors"][0]["array"]  # keep only the raw file, as a non-Python adapter would
    os.remove(tmp_path / "a" / "arrays.npz")
    (tmp_path / "a" / "description.json").write_text(json.dumps(meta))
    back = D.load(str(tmp_path / "a"))
    assert D.compare(a, back) == []
    diffs = D.compare(a, D.Description([D.tensor_from_array("x", "float32", nan_b)]))
    assert diffs == ["tensor 'x': data differs in 1 of 2 elements; first at index [0]: expected 0x7fc00001 (nan), "
                     "got 0x7fc00002 (nan)"]
    neg_zero = D.Description([D.tensor_from_array("x", "float32", np.array([0.0, -0.0], np.float32))])
    assert D.compare(neg_zero, D.Description([D.tensor_from_array("x", "float32", np.zeros(2, np.float32))]))


@pytest.mark.spec("CONF-29")
def test_description_diff_names_key_dtype_shape_and_strings():
    base = D.Description([D.TensorDescription("s", "string", (2,), strings=[b"ab", b""])])
    other = D.Description([D.TensorDescription("s", "string", (2,), strings=[b"ab", b"x"])])
    assert "first at index [1]: expected b'' (length 0), got b'x' (length 1)" in D.compare(base, other)[0]
    wrong = D.Description([D.tensor_from_array("s", "int8", np.zeros(2, np.int8))])
    assert D.compare(base, wrong) == ["tensor 's': dtype: expected string, got int8"]
    assert D.compare(base, D.Description([])) == ["missing tensors: ['s']"]


def _results(outcomes):
    return {"format": "tfckpt-conformance-results/1", "implementation": "demo", "full_run": True, "level": "all",
            "adapter": {"version": "1"}, "how": "in-process: x",
            "tests": [{"id": i, "level": i.split(".")[0], "outcome": o, "message": f"msg {i}", "tags": ["string"],
                       "producer": "demo", "consumer": "reference"} for i, o in outcomes]}


@pytest.mark.spec("CONF-27")
def test_update_expected_failures_keeps_comments(tmp_path):
    results = tmp_path / "demo.json"
    results.write_text(json.dumps(_results([("Required.A.x", "failed"), ("Required.A.y", "xfailed"),
                                            ("Required.A.z", "xpassed"), ("Required.A.w", "passed")])))
    target = tmp_path / "demo.txt"
    target.write_text("# header\n\nRequired.A.y  # finding: known bug\nRequired.A.z  # fixed since\n"
                      "? Required.A.w  # depends on generated data\n")
    assert update_expected_failures.main(["demo", "--results", str(results), "--file", str(target)]) == 0
    assert target.read_text() == ("# header\n\nRequired.A.w  # depends on generated data\n".replace("Required.A.w", "? Required.A.w")
                                  + "Required.A.x  # msg Required.A.x\nRequired.A.y  # finding: known bug\n")


@pytest.mark.spec("CONF-27")
def test_expected_failure_file_is_strict(run_suite, mini_fixtures, tmp_path):
    xf = tmp_path / "xf.txt"
    xf.write_text("Required.Read.Golden.mini-valid  # listed but passes\n")
    run = run_suite("--impl", "reference", "-k", "test_read_golden", expected_failures=str(xf),
                    fixture_dir=mini_fixtures)
    assert run.returncode == 1
    assert run.outcome("Required.Read.Golden.mini-valid") == "xpassed"
    assert "listed as an expected failure" in run.output
    xf.write_text("Required.Read.Golden.no-such-case\n")
    run = run_suite("--impl", "reference", "-k", "test_read_golden", expected_failures=str(xf),
                    fixture_dir=mini_fixtures)
    assert run.returncode != 0 and "match no test" in run.output


@pytest.mark.spec("CONF-28")
def test_report_renders_matrices(tmp_path):
    (tmp_path / "demo.json").write_text(json.dumps(_results([("Required.Read.Golden.a", "passed"),
                                                             ("Recommended.Write.Bytes.b", "failed")])))
    out = tmp_path / "matrix.md"
    assert report.main(["--results", str(tmp_path), "--output", str(out), "--root", str(tmp_path)]) == 0
    text = out.read_text()
    assert "| demo | 1 | in-process | 1 / 0 / 0 | 0 / 1 / 0 | Required: all pass |" in text
    assert "| `string` | 1 ✓ · **1 ✗** |" in text
    assert "| demo | 1 ✓ · **1 ✗** |" in text  # producer demo x consumer reference
