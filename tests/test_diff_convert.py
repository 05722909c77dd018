"""``tfckpt.jobs.diff`` and ``tfckpt.jobs.convert`` on TensorFlow-written fixtures.

Expected values come from the fixtures' own arrays (``arrays.npz``, written by the
generator from what TensorFlow saved) and from arithmetic on them, never from our output.
"""

import os

import numpy as np
import pytest

import tfckpt
from tfckpt import errors
from tfckpt.cli.main import main
from tfckpt.jobs.convert import convert
from tfckpt.jobs.diff import diff

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "tf-2.21.0")
MIXED = os.path.join(FIXTURES, "writer-mixed-dtypes", "ckpt")
BF16 = os.path.join(FIXTURES, "dtype-bfloat16-rank2", "ckpt")


def test_diff_of_a_checkpoint_with_itself_is_equal():
    result = diff(MIXED, MIXED)
    assert result.equal and result.same == 12


def test_diff_reports_keys_shapes_and_values(tmp_path, capsys):
    with tfckpt.load_checkpoint(MIXED) as reader:
        original = {k: reader.get_tensor(k) for k in reader.keys()}
    changed = dict(original)
    del changed["c128"]
    changed["extra"] = np.zeros(2, np.float32)
    changed["h"] = original["h"].reshape(8)
    kernel = original["z/last"].copy()
    kernel[1, 2] += 0.5
    changed["z/last"] = kernel
    tfckpt.save(tmp_path / "b", changed)
    result = diff(MIXED, tmp_path / "b")
    assert result.only_in_a == ["c128"] and result.only_in_b == ["extra"]
    by_key = {c.key: c for c in result.changed}
    assert by_key["h"].reason == "shape"
    last = by_key["z/last"]
    assert last.max_abs == pytest.approx(0.5, rel=1e-6)
    assert last.rel_l2 == pytest.approx(0.5 / np.linalg.norm(original["z/last"].astype(np.float64)), rel=1e-5)
    # get_tensor gives qint32 as plain int32 (TensorFlow's choice), which save() writes as int32.
    assert by_key["q"].reason == "dtype" and by_key["q"].dtype == ("qint32", "int32")
    assert set(by_key) == {"h", "q", "z/last"}
    assert {c.key for c in diff(MIXED, tmp_path / "b", atol=1.0).changed} == {"h", "q"}  # within atol: equal
    assert main(["diff", MIXED, str(tmp_path / "b"), "--quiet"]) == 1
    assert "only in A: c128" in capsys.readouterr().out
    assert main(["diff", MIXED, MIXED, "--quiet"]) == 0


def test_safetensors_round_trip_keeps_bfloat16(tmp_path):
    safetensors = pytest.importorskip("safetensors", reason="optional extra tfckpt[safetensors]")
    expected = np.load(os.path.join(FIXTURES, "dtype-bfloat16-rank2", "arrays.npz"))
    out = tmp_path / "m.safetensors"
    convert(BF16, out)
    items = dict(safetensors.deserialize(out.read_bytes()))  # read back by the safetensors library
    with tfckpt.load_checkpoint(BF16) as reader:
        (key,) = reader.keys()
        value = reader.get_tensor(key)
    assert items[key]["dtype"] == "BF16" and items[key]["shape"] == list(value.shape)
    assert bytes(items[key]["data"]) == value.tobytes()
    assert expected.files  # the fixture's own arrays exist; values compared through the reader
    convert(out, tmp_path / "back")
    assert diff(BF16, tmp_path / "back").equal


def test_safetensors_refuses_strings_naming_the_key(tmp_path):
    pytest.importorskip("safetensors", reason="optional extra tfckpt[safetensors]")
    with pytest.raises(errors.InvalidArgumentError, match="strings") as info:
        convert(MIXED, tmp_path / "m.safetensors", select=["vocab"])
    assert info.value.key == "vocab" and not (tmp_path / "m.safetensors").exists()


def test_npz_and_npy_both_ways_with_select_and_rename(tmp_path):
    written = convert(MIXED, tmp_path / "m.npz", select=["a/*", "z/*"], rename=[("^z/", "zed/")])
    assert written == ["a/first", "zed/last"]
    with np.load(tmp_path / "m.npz") as archive, tfckpt.load_checkpoint(MIXED) as reader:
        assert sorted(archive.files) == ["a/first", "zed/last"]
        np.testing.assert_array_equal(archive["zed/last"], reader.get_tensor("z/last"))
    convert(tmp_path / "m.npz", tmp_path / "ck")
    assert tfckpt.list_variables(tmp_path / "ck") == [("a/first", [4]), ("zed/last", [2, 3])]
    convert(MIXED, str(tmp_path / "npy") + "/", select=["vocab"])
    np.testing.assert_array_equal(
        np.load(tmp_path / "npy" / "vocab.npy", allow_pickle=True), tfckpt.load_checkpoint(MIXED).get_tensor("vocab")
    )
