"""tfckpt.rewrite without TensorFlow: rules, refusals that leave nothing behind, bounded memory, the CLI.

TensorFlow restoring rewritten checkpoints, and byte identity with its own saves, is in
tests/tensorflow/test_rewrite_tf.py.  Here the sources are TensorFlow-written fixtures or
checkpoints built by the test, and the expected keys follow from the rules of spec/rewrite.md.
"""

import os
import tracemalloc

import numpy as np
import pytest

import tfckpt
from tfckpt import errors
from tfckpt.cli.main import main

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "tf-2.21.0")
EMA = os.path.join(FIXTURES, "tf1-saver-ema")


def _keys(prefix):
    return sorted(k for k, _ in tfckpt.list_variables(prefix))


def _source(tmp_path):
    prefix = str(tmp_path / "src")
    tfckpt.save(prefix, {
        "w": np.arange(4, dtype=np.float32), "w/Adam": np.ones(4, np.float32), "w/Adam_1": np.ones(4, np.float32),
        "w/ExponentialMovingAverage": np.full(4, 7, np.float32), "beta1_power": np.float32(0.9),
        "beta2_power": np.float32(0.99), "names": np.array([b"a"], dtype=object), "step": np.int64(3)})
    return prefix


def test_ema_and_strip_optimizer_on_a_tensorflow_fixture(tmp_path):
    src = tfckpt.latest_checkpoint(EMA) or EMA
    before = _keys(src)
    shadows = [k for k in before if k.endswith("/ExponentialMovingAverage")]
    assert shadows, "the fixture holds moving averages"
    dst = str(tmp_path / "out")
    tfckpt.rewrite(src, dst, ema=True)
    after = _keys(dst)
    assert after == sorted(set(before) - set(shadows))
    with tfckpt.load_checkpoint(src) as a, tfckpt.load_checkpoint(dst) as b:
        for s in shadows:
            assert np.array_equal(b.get_tensor(s[: -len("/ExponentialMovingAverage")]), a.get_tensor(s))


def test_the_rules_in_order(tmp_path):
    src = _source(tmp_path)
    plan = tfckpt.rewrite(src, str(tmp_path / "a"), strip_optimizer=True, ema=True, rename={"w": "weights"},
                          drop="names")
    assert _keys(str(tmp_path / "a")) == ["step", "weights"]
    assert ("w/ExponentialMovingAverage", "weights") in plan.kept
    assert {k for k, why in plan.dropped} == {"w", "w/Adam", "w/Adam_1", "beta1_power", "beta2_power", "names"}
    assert tfckpt.load_checkpoint(str(tmp_path / "a")).get_tensor("weights").tolist() == [7] * 4


def test_casts_apply_to_floats_only(tmp_path):
    src = _source(tmp_path)
    tfckpt.rewrite(src, str(tmp_path / "b"), dtype={"float32": "bfloat16"})
    dtypes = tfckpt.load_checkpoint(str(tmp_path / "b")).get_variable_to_dtype_map()
    assert dtypes["w"].name == "bfloat16" and dtypes["step"].name == "int64" and dtypes["names"].name == "string"


@pytest.mark.parametrize("request_, error, key", [
    ({"select": ["nope"]}, errors.NotFoundError, "nope"),
    ({"rename": {"w": "step"}}, errors.InvalidArgumentError, "step"),
    ({"dtype": {"string": "float16"}}, errors.InvalidArgumentError, None),
    ({"dtype": {"int64": "float32"}}, errors.InvalidArgumentError, None),
    ({"rename": [("(", "x")]}, errors.InvalidArgumentError, None),
])
def test_bad_requests_write_nothing(tmp_path, request_, error, key):
    src = _source(tmp_path)
    with pytest.raises(error) as caught:
        tfckpt.rewrite(src, str(tmp_path / "out" / "dst"), **request_)
    if key:
        assert key in str(caught.value)
    assert not os.path.exists(tmp_path / "out")


def test_destination_equal_to_source_is_refused(tmp_path):
    src = _source(tmp_path)
    with pytest.raises(errors.InvalidArgumentError, match="source"):
        tfckpt.rewrite(src, src)
    assert _keys(src)  # untouched


def test_a_selected_key_that_is_missing_suggests_near_ones(tmp_path):
    src = _source(tmp_path)
    with pytest.raises(errors.NotFoundError, match="closest: w/Adam"):
        tfckpt.rewrite(src, str(tmp_path / "x"), select=["w/Adom"])


def test_load_variables_reports_every_missing_key(tmp_path):
    src = _source(tmp_path)
    assert tfckpt.load_variables(src, {"w": "kernel"})["kernel"].tolist() == [0, 1, 2, 3]
    assert tfckpt.load_variables(src, ["w"], ema=True)["w"].tolist() == [7] * 4
    with pytest.raises(errors.NotFoundError) as caught:
        tfckpt.load_variables(src, ["ww", "stepp", "w"])
    assert "2 key(s)" in str(caught.value) and "'ww'" in str(caught.value) and "'stepp'" in str(caught.value)


def test_partitions_are_kept_or_assembled(tmp_path):
    src = str(tmp_path / "p")
    with tfckpt.BundleWriter(src) as writer:
        writer.add_slice("emb", [4, 2], "0,2:-", np.zeros((2, 2), np.float32))
        writer.add_slice("emb", [4, 2], "2,2:-", np.ones((2, 2), np.float32))
    tfckpt.rewrite(src, str(tmp_path / "kept"), rename={"emb": "embedding"})
    tfckpt.rewrite(src, str(tmp_path / "whole"), assemble_partitions=True)
    kept = tfckpt.load_checkpoint(str(tmp_path / "kept"))
    assert kept.entry("embedding").is_partitioned and kept.get_tensor("embedding").tolist() == [[0, 0], [0, 0], [1, 1], [1, 1]]
    assert not tfckpt.load_checkpoint(str(tmp_path / "whole")).entry("emb").is_partitioned


def test_memory_stays_near_the_largest_tensor(tmp_path):
    """REW-1: 8 tensors of 4 MB; the peak stays well under their sum."""
    src = str(tmp_path / "big")
    with tfckpt.BundleWriter(src) as writer:
        for i in range(8):
            writer.add(f"t{i}", np.full(1 << 20, i, np.float32))
    tracemalloc.start()
    tfckpt.rewrite(src, str(tmp_path / "copy"), sync=False)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 3 * (4 << 20), f"peak {peak} bytes for tensors of 4 MiB (32 MiB in all)"


def test_command_line_dry_run_and_rewrite(tmp_path, capsys):
    src = _source(tmp_path)
    dst = str(tmp_path / "cli")
    assert main(["rewrite", src, dst, "--strip-optimizer", "--rename", "^w$=kernel", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "rename w -> kernel" in out and "drop   w/Adam (optimizer)" in out and not os.path.exists(dst + ".index")
    assert main(["rewrite", src, dst, "--strip-optimizer", "--rename", "^w$=kernel"]) == 0
    assert "kernel" in _keys(dst)
    assert main(["rewrite", src, dst + "2", "--select", "missing"]) == 1
