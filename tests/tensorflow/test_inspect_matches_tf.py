"""``tfckpt inspect`` prints what TensorFlow 2.21's ``inspect_checkpoint`` prints, byte for byte.

Both run in this process on every valid checkpoint and writer fixture, in every mode
of the tool (debug string, ``--all_tensor_names``, ``--all_tensors``, one tensor, a
missing tensor, a count exclude pattern, print options).  The expected bytes are
TensorFlow's own output, captured here; nothing of ours is pasted in.
"""

import contextlib
import io
import json
import os

import numpy as np
import pytest

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "tf-2.21.0")
with open(os.path.join(FIXTURES, "manifest.json")) as _f:
    _MANIFEST = json.load(_f)
CASES = [
    case
    for case in _MANIFEST["cases"]
    if case["kind"] in ("checkpoint", "writer") and case["result"] == "valid" and case.get("prefix")
]
MODES = {
    "debug-string": {},
    "all-tensor-names": {"all_tensor_names": True},
    "all-tensors": {"all_tensors": True},
    "exclude": {"all_tensor_names": True, "count_exclude_pattern": "^[a-m]"},
    "missing-tensor": {"tensor_name": "no/such/tensor"},
}

#: Where TensorFlow's tool stops with an error of TensorFlow's reader while tfckpt reads the
#: tensor (strict: TensorFlow must still print this message there, or the test fails).
TF_CANNOT_READ = {
    ("v1-saveslices-partitioned", "all-tensors"): "Sliced checkpoints are not supported",
    ("v1-save-dtypes", "all-tensors"): "Data type not supported",
    ("valid-v1-unpacked-floats", "all-tensors"): "Data type not supported",  # V1 complex, as in v1-save-dtypes
}


def _capture(fn, *args, **kwargs) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        fn(*args, **kwargs)
    return out.getvalue()


def _tf(prefix: str, mode: dict) -> str:
    from tensorflow.python.tools import inspect_checkpoint

    return _capture(
        inspect_checkpoint.print_tensors_in_checkpoint_file,
        prefix,
        mode.get("tensor_name", ""),
        mode.get("all_tensors", False),
        all_tensor_names=mode.get("all_tensor_names", False),
        count_exclude_pattern=mode.get("count_exclude_pattern", ""),
    )


def _ours(prefix: str, mode: dict, extra=()) -> str:
    from tfckpt.cli.main import main

    argv = ["inspect", f"--file_name={prefix}"]
    for flag in ("tensor_name", "count_exclude_pattern"):
        if mode.get(flag):
            argv.append(f"--{flag}={mode[flag]}")
    for flag in ("all_tensors", "all_tensor_names"):
        if mode.get(flag):
            argv.append(f"--{flag}")
    return _capture(main, argv + list(extra))


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_inspect_equals_tensorflow(case):
    prefix = os.path.join(FIXTURES, case["id"], case["prefix"])
    import tensorflow  # noqa: F401  (TensorFlow's reader, before either prints)

    v1 = not os.path.exists(prefix + ".index")
    for name, mode in MODES.items():
        expected, ours = _tf(prefix, mode), _ours(prefix, mode)
        if v1 and name == "debug-string":
            # TensorSliceReader::DebugString walks a std::unordered_map: no defined order.
            expected, ours = sorted(expected.splitlines()), sorted(ours.splitlines())
        if (case["id"], name) in TF_CANNOT_READ:
            assert TF_CANNOT_READ[case["id"], name] in expected, expected
            continue
        assert ours == expected, f"{case['id']} mode {name}"


def test_one_tensor_and_printoptions_equal_tensorflow():
    import tensorflow as tf

    case = next(c for c in CASES if c["id"] == "dtype-float32-rank2")
    prefix = os.path.join(FIXTURES, case["id"], case["prefix"])
    name = tf.train.list_variables(prefix)[0][0]
    mode = {"tensor_name": name}
    with np.printoptions(precision=2, threshold=3):
        expected = _tf(prefix, mode)
    assert _ours(prefix, mode, ["--printoptions", "precision=2", "threshold=3"]) == expected
    assert _ours(prefix, mode) == _tf(prefix, mode)
