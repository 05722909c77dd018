"""Checkpoint series: the implementation runs TensorFlow's series and must leave what TensorFlow left.

``Required.Series.Checkpoints.<case>``: the checkpoints present after each save of a
series that TensorFlow 2.21's ``CheckpointManager`` or TF1 ``Saver`` ran with the same
numbers and clock values (fixtures of kind ``series``).  ``Required.Series.StateFile.<case>``:
the ``checkpoint`` file after the last save is TensorFlow's, byte for byte (for the
TF1 Saver, whose paths are the absolute ones it was given, with the directory
replaced by a placeholder in both).
"""

from __future__ import annotations

import os
import tempfile

import pytest

SERIES_RULES = ("STATE-25", "STATE-26", "STATE-28", "STATE-29", "STATE-30", "STATE-31", "STATE-32", "STATE-33")


@pytest.fixture(scope="module")
def series_base(tmp_path_factory):
    return str(tmp_path_factory.mktemp("series"))


def _run(check, case, base):
    check.require("manage")
    expected = case.expected["series"]
    series = {k: expected[k] for k in ("style", "max_to_keep", "keep_checkpoint_every_n_hours", "checkpoint_name",
                                         "start_clock", "saves")}
    directory = os.path.join(tempfile.mkdtemp(dir=base), "run")  # removed with the module's tmp dir
    after = check.call_ok(f"series {case.id}", check.impl.manage, directory, series)
    return expected, directory, after


@pytest.mark.conformance("Series.Checkpoints", level="Required")
@pytest.mark.spec(*SERIES_RULES)
def test_series_leaves_tensorflows_checkpoints(check, series_case, series_base):
    expected, _, after = _run(check, series_case, series_base)
    want = expected["checkpoints_after_each_save"]
    assert len(after) == len(want), f"{len(after)} saves reported, {len(want)} made"
    for i, (got, exp) in enumerate(zip(after, want)):
        assert got == exp, f"after save {i + 1} ({expected['saves'][i]}): checkpoints {got}, TensorFlow left {exp}"


@pytest.mark.conformance("Series.StateFile", level="Required")
@pytest.mark.spec(*SERIES_RULES, "STATE-27")
def test_series_state_file_is_tensorflows(check, series_case, series_base):
    expected, directory, _ = _run(check, series_case, series_base)
    with open(os.path.join(series_case.directory, series_case.expected["state_file"]), "rb") as handle:
        golden = handle.read().replace(os.fsencode(expected["directory_as_written"]), b"<DIR>")
    with open(os.path.join(directory, "checkpoint"), "rb") as handle:
        got = handle.read().replace(os.fsencode(directory), b"<DIR>")
    assert got == golden, f"state file differs from TensorFlow's:\n--- got\n{got.decode(errors='replace')}\n--- TensorFlow\n{golden.decode(errors='replace')}"
