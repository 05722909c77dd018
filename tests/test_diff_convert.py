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


# --- Streamed outputs against the libraries' own writers -------------------------------------
# convert lays out .safetensors itself (the library's serialize needs every tensor in memory),
# so the bytes are checked against safetensors.serialize of the same arrays: the library is
# the oracle. .npz members are checked against numpy.savez's members.

from hypothesis import given, settings, strategies as st  # noqa: E402

_ST_DTYPES = ["float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8",
              "uint64", "uint32", "uint16", "uint8", "bool", "complex64", "float8_e4m3fn", "float8_e5m2"]


def _numpy_dtype(name):
    import ml_dtypes

    return np.dtype(getattr(ml_dtypes, name)) if hasattr(ml_dtypes, name) and name not in ("bool",) and not hasattr(np, name) else np.dtype(name)


_tensors = st.dictionaries(
    st.text(alphabet="abz/_.0", min_size=1, max_size=6).filter(lambda k: not k.startswith("/")),
    st.tuples(st.sampled_from(_ST_DTYPES), st.lists(st.integers(0, 3), max_size=3), st.integers(0, 2**32 - 1)),
    min_size=1, max_size=8,
)


def _arrays(spec):
    out = {}
    for name, (dtype, shape, seed) in spec.items():
        npd = _numpy_dtype(dtype)
        raw = np.random.default_rng(seed).integers(0, 256, size=int(np.prod(shape)) * npd.itemsize, dtype=np.uint8)
        value = raw.view(npd).reshape(shape)
        if dtype == "bool":
            value = raw.astype(bool).reshape(shape)
        out[name] = value
    return out


@settings(max_examples=40, deadline=None)
@given(_tensors)
def test_streamed_safetensors_are_the_librarys_bytes(tmp_path_factory, spec):
    safetensors = pytest.importorskip("safetensors")
    tmp = tmp_path_factory.mktemp("st")
    arrays = _arrays(spec)
    tfckpt.save(tmp / "ckpt", arrays)
    convert(tmp / "ckpt", tmp / "out.safetensors")
    specs = {n: safetensors.TensorSpec(dtype=v.dtype.name, shape=list(v.shape), data_ptr=v.ctypes.data, data_len=v.nbytes)
             for n, v in arrays.items()}
    expected = safetensors.serialize(specs, metadata={"format": "np"})
    assert (tmp / "out.safetensors").read_bytes() == expected


@settings(max_examples=20, deadline=None)
@given(_tensors)
def test_streamed_npz_members_are_numpys(tmp_path_factory, spec):
    import zipfile

    tmp = tmp_path_factory.mktemp("npz")
    arrays = _arrays(spec)
    tfckpt.save(tmp / "ckpt", arrays)
    convert(tmp / "ckpt", tmp / "out.npz")
    np.savez(tmp / "numpy.npz", **arrays)
    with zipfile.ZipFile(tmp / "out.npz") as ours, zipfile.ZipFile(tmp / "numpy.npz") as theirs:
        assert sorted(ours.namelist()) == sorted(theirs.namelist())
        for member in theirs.namelist():
            assert ours.read(member) == theirs.read(member), member


def test_convert_takes_rewrites_rules(tmp_path):
    # Exact keys, globs and re: patterns, --drop, and a typo'd exact key named with its neighbours.
    written = convert(MIXED, tmp_path / "m.npz", select=["re:z/.*", "h"], drop=["z/last"], rename={"h": "half"})
    with tfckpt.load_checkpoint(MIXED) as reader:
        expected = sorted(["half"] + [k for k in reader.keys() if k.startswith("z/") and k != "z/last"])
    assert sorted(written) == expected
    with pytest.raises(errors.NotFoundError, match="closest: z/last"):
        convert(MIXED, tmp_path / "n.npz", select=["z/lst"])
    assert not (tmp_path / "n.npz").exists()


def test_safetensors_refuses_strings_before_writing(tmp_path):
    # The first key in order that safetensors cannot hold (complex128 has no code) is named,
    # and nothing is written, though the checkable tensors come before it in the file.
    with pytest.raises(errors.InvalidArgumentError) as info:
        convert(MIXED, tmp_path / "m.safetensors")
    assert info.value.key == "c128" and not os.listdir(tmp_path)
    with pytest.raises(errors.InvalidArgumentError, match="strings") as info:
        convert(MIXED, tmp_path / "m.safetensors", select=["a/first", "vocab", "z/last"])
    assert info.value.key == "vocab" and not os.listdir(tmp_path)


def test_diff_statistics_span_chunks(tmp_path, monkeypatch):
    # Chunked statistics equal the whole-array formulas, with the change and a NaN in
    # different chunks (CHUNK made small so that a small tensor spans many of them).
    import tfckpt.jobs.diff as diff_module

    monkeypatch.setattr(diff_module, "CHUNK", 7)
    rng = np.random.default_rng(5)
    a = rng.standard_normal(50).astype(np.float32)
    b = a.copy()
    b[3] += 2.0
    b[40] -= 0.5
    a[20] = b[20] = np.nan  # the same NaN on both sides is equal
    tfckpt.save(tmp_path / "a", {"t": a})
    tfckpt.save(tmp_path / "b", {"t": b})
    (changed,) = diff(tmp_path / "a", tmp_path / "b").changed
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    d[20] = 0
    a0 = a.astype(np.float64)
    a0[20] = 0
    assert changed.max_abs == pytest.approx(float(np.max(d)), rel=1e-12)
    assert changed.rel_l2 == pytest.approx(float(np.sqrt(np.sum(d * d)) / np.sqrt(np.sum(a0 * a0))), rel=1e-12)
    b[45] = np.nan  # a NaN on one side only makes max |a-b| NaN
    tfckpt.save(tmp_path / "c", {"t": b})
    (changed,) = diff(tmp_path / "a", tmp_path / "c").changed
    assert np.isnan(changed.max_abs)


def test_a_rename_that_merges_two_keys_is_refused_for_both_kinds_of_source(tmp_path):
    # Checkpoint sources are checked from the plan, foreign ones as they stream: both refuse.
    with pytest.raises(errors.InvalidArgumentError, match="two tensors would be written as 'x'"):
        convert(MIXED, tmp_path / "a.npz", select=["h", "z/last"], rename={"h": "x", "z/last": "x"})
    convert(MIXED, tmp_path / "src.npz", select=["h", "z/last"])
    with pytest.raises(errors.InvalidArgumentError, match="two tensors would be written as 'x'"):
        convert(tmp_path / "src.npz", tmp_path / "b" / "ckpt", rename={"h": "x", "z/last": "x"})
    assert not os.path.exists(tmp_path / "a.npz")
    # The checkpoint writer made its directory (as it does for any prefix) and left nothing in it.
    assert not os.path.exists(tmp_path / "b") or os.listdir(tmp_path / "b") == []
