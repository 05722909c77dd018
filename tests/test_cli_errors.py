"""Errors that help (issue 12, point 8) and the command line's manners.

Each test asserts the hint a user needs: what the file is and what to pass, which
checkpoints exist, which keys are closest.  Inputs are TensorFlow-written fixtures
(or files whose first bytes are the documented magic numbers of other formats).
"""

import gzip
import io
import os
import subprocess
import sys
import tarfile
import zipfile

import pytest

import tfckpt
from tfckpt import errors
from tfckpt.bundle.reader import _shown
from tfckpt.bundle.slices import TensorSlice, encode_slice_key
from tfckpt.cli.main import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "fixtures", "tf-2.21.0")
MIXED = os.path.join(FIXTURES, "writer-mixed-dtypes", "ckpt")


def _message(path, key=None):
    with pytest.raises(errors.CheckpointError) as info:
        with tfckpt.load_checkpoint(path) as reader:
            reader.get_tensor(key or reader.keys()[0])
    return info.value


def test_lfs_pointer_index_and_data_are_named():
    assert "Git LFS pointer" in str(_message(os.path.join(FIXTURES, "bad-index-lfs-pointer", "ckpt")))
    error = _message(os.path.join(FIXTURES, "bad-data-lfs-pointer", "ckpt"), "a/first")
    assert "Git LFS pointer" in str(error) and "git lfs pull" in str(error)
    assert error.category == "DATA_LOSS"


def _archive(tmp_path, kind):
    with open(MIXED + ".index", "rb") as f:
        index = f.read()
    path = tmp_path / f"ckpt.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("ckpt.index", index)
    elif kind == "tar":
        with tarfile.open(path, "w") as t:
            info = tarfile.TarInfo("ckpt.index")
            info.size = len(index)
            t.addfile(info, io.BytesIO(index))
    elif kind == "gz":
        path.write_bytes(gzip.compress(index))
    elif kind == "h5":
        path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    return path


@pytest.mark.parametrize(
    "kind, what, advice",
    [
        ("zip", "zip archive", "unzip"),
        ("tar", "tar archive", "tar xf"),
        ("gz", "gzip file", "decompress"),
        ("h5", "HDF5 file", "h5py"),
    ],
)
def test_archives_and_hdf5_passed_as_checkpoint(tmp_path, kind, what, advice):
    text = str(_message(_archive(tmp_path, kind)))
    assert what in text and advice in text


def test_meta_passed_as_prefix_names_the_prefix():
    meta = os.path.join(FIXTURES, "tf1-saver-partitioned-meta")
    meta_file = next(os.path.join(meta, n) for n in os.listdir(meta) if n.endswith(".meta"))
    text = str(_message(meta_file))
    assert ".meta file" in text and repr(meta_file[: -len(".meta")]) in text


def test_stale_state_file_names_it_and_lists_existing_checkpoints():
    run = os.path.join(FIXTURES, "bad-state-missing-checkpoint", "run")
    with pytest.raises(errors.NotFoundError) as info:
        tfckpt.load_checkpoint(run)
    text = str(info.value)
    assert os.path.join(run, "checkpoint") in text and "ckpt-9" in text
    assert "ckpt-2, ckpt-3" in text
    assert isinstance(info.value, FileNotFoundError) and info.value.category == "NOT_FOUND"


def test_key_not_found_suggests_closest_keys():
    with tfckpt.load_checkpoint(MIXED) as reader:
        wanted = reader.keys()[-1]
        with pytest.raises(errors.NotFoundError) as info:
            reader.get_tensor(wanted[:-1] + "#")
    assert f"did you mean {wanted!r}" in str(info.value)
    assert isinstance(info.value, KeyError) and not isinstance(info.value, FileNotFoundError)


def test_slice_keys_are_shown_decoded():
    key = encode_slice_key(b"emb", TensorSlice.parse("0,3:-"))
    assert _shown(key) == "emb (slice 0,3:-)"


@pytest.mark.parametrize(
    "case", ["bad-data-missing-file", "bad-data-missing-shard"]
)
def test_missing_files_are_file_not_found(case):
    reader = tfckpt.load_checkpoint(os.path.join(FIXTURES, case, "ckpt"))
    with pytest.raises(FileNotFoundError) as info, reader:
        for key in reader.keys():
            reader.get_tensor(key)
    assert isinstance(info.value, errors.NotFoundError) and info.value.category == "NOT_FOUND"
    with pytest.raises(FileNotFoundError):
        tfckpt.load_checkpoint(os.path.join(FIXTURES, case, "no-such-prefix"))


def test_error_for_category_still_gives_not_found_error():
    assert errors.error_for_category("NOT_FOUND") is errors.NotFoundError


def test_state_on_missing_directory_says_so(tmp_path, capsys):
    assert main(["state", str(tmp_path / "nowhere")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_ls_into_a_closed_pipe_exits_cleanly():
    """``tfckpt ls x | head -1``: the reader is gone before we write (its end closed first)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "reference"))
        done = subprocess.run(
            [sys.executable, "-m", "tfckpt", "ls", MIXED], stdout=write_end, stderr=subprocess.PIPE, env=env
        )
    finally:
        os.close(write_end)
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr and b"BrokenPipe" not in done.stderr


def test_help_and_ls_do_not_import_ml_dtypes_or_numpy_needlessly():
    probe = (
        "import sys, runpy; sys.argv=['tfckpt', 'ls', %r];"
        "from tfckpt.cli.main import main; main(sys.argv[1:]);"
        "print('ML', 'ml_dtypes' in sys.modules)" % MIXED.replace("writer-mixed-dtypes", "dtype-float32-rank2")
    )
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "reference"))
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("ML False")
    helped = subprocess.run(
        [sys.executable, "-c", "import sys; from tfckpt.cli.main import main\n"
         "try: main(['--help'])\nexcept SystemExit: pass\nprint('NP', 'numpy' in sys.modules)"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    assert helped.strip().endswith("NP False")


def test_ls_json_has_the_documented_fields(capsys):
    import json

    assert main(["ls", "--json", os.path.join(FIXTURES, "writer-partitioned", "ckpt")]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    emb = next(r for r in records if r["key"] == "emb")
    assert set(emb) == {"key", "dtype", "shape", "size", "shard", "partitioned"}
    assert emb["partitioned"] is True and emb["shape"] == [10, 4] and emb["dtype"] == "float32"


def test_show_slice_json_and_npy(tmp_path, capsys):
    import json

    import numpy as np

    prefix = os.path.join(FIXTURES, "tf1-saver-global-step", "model.ckpt-1000")
    expected = tfckpt.load_checkpoint(prefix).get_tensor("embedding")[1:3]  # rows 1 and 2
    assert main(["show", prefix, "embedding", "--slice", "1,2:-", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["shape"] == [2, 2] and record["dtype"] == "float64"
    np.testing.assert_array_equal(np.array(record["value"]), expected)
    assert main(["show", prefix, "vocab", "--npy", str(tmp_path / "v.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "v.npy", allow_pickle=True), tfckpt.load_checkpoint(prefix).get_tensor("vocab"))
