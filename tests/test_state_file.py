"""The ``checkpoint`` state file (spec: state-file.md).

Expected texts below are what TensorFlow 2.21's
``checkpoint_management.update_checkpoint_state_internal`` wrote for the same
calls (observed with tensorflow-cpu 2.21.0, protobuf 7.36); the fixtures'
state files are checked separately.
"""

import os

import numpy as np
import pytest

import tfckpt
from tfckpt import errors, state_file


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def test_text_with_timestamps_matches_tensorflow(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkdir("st_us")
    tfckpt.update_checkpoint_state(
        "st_us",
        "st/ckpt-3",
        ["st/ckpt-2", "st/ckpt-3"],
        all_model_checkpoint_timestamps=[1763790000.1234, 1763790060.5678],
        last_preserved_timestamp=1763789990.0,
    )
    assert _read("st_us/checkpoint") == (
        b'model_checkpoint_path: "../st/ckpt-3"\n'
        b'all_model_checkpoint_paths: "../st/ckpt-2"\n'
        b'all_model_checkpoint_paths: "../st/ckpt-3"\n'
        b"all_model_checkpoint_timestamps: 1763790000.1234\n"
        b"all_model_checkpoint_timestamps: 1763790060.5678\n"
        b"last_preserved_timestamp: 1763789990.0\n"
    )


def test_save_relative_paths_with_a_relative_directory_is_relativised_twice(tmp_path, monkeypatch):
    # TensorFlow's quirk, reproduced: relpath against save_dir once for
    # save_relative_paths and once more because save_dir is relative.
    monkeypatch.chdir(tmp_path)
    os.mkdir("st_us")
    tfckpt.update_checkpoint_state(
        "st_us", os.path.abspath("st/ckpt-3"), [os.path.abspath("st/ckpt-1")], save_relative_paths=True
    )
    assert _read("st_us/checkpoint") == (
        b'model_checkpoint_path: "../../st/ckpt-3"\n'
        b'all_model_checkpoint_paths: "../../st/ckpt-1"\n'
        b'all_model_checkpoint_paths: "../../st/ckpt-3"\n'
    )


def test_round_trip_and_latest_checkpoint(tmp_path):
    prefix = str(tmp_path / "ckpt-1")
    tfckpt.save(prefix, {"a": np.zeros(1)})
    tfckpt.update_checkpoint_state(str(tmp_path), prefix, save_relative_paths=True)
    assert _read(tmp_path / "checkpoint") == b'model_checkpoint_path: "ckpt-1"\nall_model_checkpoint_paths: "ckpt-1"\n'
    state = tfckpt.get_checkpoint_state(tmp_path)
    assert state.model_checkpoint_path == prefix
    assert list(state.all_model_checkpoint_paths) == [prefix]
    assert tfckpt.latest_checkpoint(tmp_path) == prefix
    assert tfckpt.list_variables(tmp_path) == [("a", [1])]
    assert [n for n in os.listdir(tmp_path) if ".tmp" in n] == []


def test_absolute_paths_from_a_moved_directory_are_resolved_by_base_name(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    tfckpt.save(str(old / "model.ckpt-7"), {"a": np.zeros(1)})
    tfckpt.update_checkpoint_state(str(old), str(old / "model.ckpt-7"))
    assert b'"' + str(old).encode() in _read(old / "checkpoint")  # absolute paths recorded
    old.rename(new)
    assert tfckpt.latest_checkpoint(new) == str(new / "model.ckpt-7")


def test_state_naming_a_missing_checkpoint(tmp_path):
    tfckpt.update_checkpoint_state(str(tmp_path), str(tmp_path / "gone"))
    assert tfckpt.latest_checkpoint(tmp_path) is None
    with pytest.raises(errors.NotFoundError):
        tfckpt.load_checkpoint(tmp_path)


def test_unparsable_and_empty_state_files(tmp_path):
    (tmp_path / "checkpoint").write_bytes(b"model_checkpoint_path: 12 oops {")
    assert tfckpt.get_checkpoint_state(tmp_path) is None  # TensorFlow logs and returns None
    with pytest.raises(errors.DataLossError):
        state_file.parse_checkpoint_state(b"model_checkpoint_path: 12 oops {")
    (tmp_path / "checkpoint").write_bytes(b"")
    with pytest.raises(errors.InvalidArgumentError):  # ValueError in TensorFlow too
        tfckpt.get_checkpoint_state(tmp_path)


def test_timestamps_must_match_paths(tmp_path):
    with pytest.raises(errors.InvalidArgumentError, match="timestamps"):
        tfckpt.update_checkpoint_state(str(tmp_path), "a", ["a"], all_model_checkpoint_timestamps=[1.0, 2.0])
