"""tfckpt.CheckpointManager without TensorFlow: rotation, preservation, crash-safe deletion, two processes.

Byte identity with TensorFlow's own manager and Saver is in tests/tensorflow/test_series_tf.py;
here the rules of spec/state-file.md §9 are checked by independent reasoning (which checkpoints
must remain, in which order the files go), and concurrency with real processes.
"""

import multiprocessing
import os

import numpy as np
import pytest

import tfckpt
from tfckpt import errors
from tfckpt.state_file import state_lock


class Clock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


def _prefixes(directory):
    return sorted(n[: -len(".index")] for n in os.listdir(directory) if n.endswith(".index"))


def test_save_every_1000_steps_keeping_4(tmp_path):
    """The README's first series: the last four remain, the state file lists them in order."""
    manager = tfckpt.CheckpointManager(tmp_path / "train", max_to_keep=4)
    for step in range(1000, 10001, 1000):
        manager.save({"w": np.full(3, step, np.float32)}, checkpoint_number=step)
    assert _prefixes(tmp_path / "train") == ["ckpt-10000", "ckpt-7000", "ckpt-8000", "ckpt-9000"]
    state = tfckpt.get_checkpoint_state(str(tmp_path / "train"))
    assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == [
        "ckpt-7000", "ckpt-8000", "ckpt-9000", "ckpt-10000"]
    assert tfckpt.latest_checkpoint(str(tmp_path / "train")).endswith("ckpt-10000")
    assert tfckpt.load_checkpoint(str(tmp_path / "train")).get_tensor("w")[0] == 10000


def test_preservation_keeps_one_checkpoint_per_period(tmp_path):
    """STATE-30: with max_to_keep=2 and 1 hour, saves every 25 min keep one per hour of the rotated ones."""
    clock = Clock(0.0)
    manager = tfckpt.CheckpointManager(tmp_path, max_to_keep=2, keep_checkpoint_every_n_hours=1, clock=clock)
    for i in range(1, 11):
        clock.now = i * 1500.0
        manager.save({"x": np.float32(i)}, checkpoint_number=i)
    # last_preserved starts at clock - 1 = -1; the rotated-out checkpoints 1..8, in order, are kept
    # when their time minus one hour is at or after the last preserved time
    expected_kept, last = [], -1.0
    for i in range(1, 9):
        t = i * 1500.0
        if t - 3600 >= last:
            expected_kept.append(i)
            last = t
    assert _prefixes(tmp_path) == sorted([f"ckpt-{i}" for i in expected_kept + [9, 10]])
    state = tfckpt.get_checkpoint_state(str(tmp_path))
    assert state.last_preserved_timestamp == last
    assert [os.path.basename(p) for p in manager.checkpoints] == ["ckpt-9", "ckpt-10"]


def test_the_state_file_never_names_a_checkpoint_being_deleted(tmp_path, monkeypatch):
    """STATE-31: each file is removed only after the state file stopped listing its checkpoint."""
    manager = tfckpt.CheckpointManager(tmp_path, max_to_keep=1)
    manager.save({"x": np.float32(1)})
    real_remove = os.remove
    seen = []

    def watching_remove(path):
        state = tfckpt.get_checkpoint_state(str(tmp_path))
        named = {os.path.basename(p) for p in state.all_model_checkpoint_paths}
        base = os.path.basename(path).split(".")[0]
        if base.startswith("ckpt-"):
            assert base not in named, f"{path} removed while the state file lists it"
            seen.append(os.path.basename(path))
        real_remove(path)

    monkeypatch.setattr(os, "remove", watching_remove)
    manager.save({"x": np.float32(2)})
    assert seen[0] == "ckpt-1.index"  # the index goes first: the checkpoint ends before its data
    assert "ckpt-1.data-00000-of-00001" in seen


def test_a_manager_continues_the_series_it_finds(tmp_path):
    """STATE-25..27: numbering, the list and preservation resume from the state file."""
    clock = Clock()
    first = tfckpt.CheckpointManager(tmp_path, max_to_keep=3, clock=clock)
    for _ in range(4):
        clock.now += 10
        first.save({"x": np.float32(0)})
    assert _prefixes(tmp_path) == ["ckpt-2", "ckpt-3", "ckpt-4"]
    second = tfckpt.CheckpointManager(tmp_path, max_to_keep=3, clock=clock)
    assert [os.path.basename(p) for p in second.checkpoints] == ["ckpt-2", "ckpt-3", "ckpt-4"]
    clock.now += 10
    assert os.path.basename(second.save({"x": np.float32(0)})) == "ckpt-5"
    assert _prefixes(tmp_path) == ["ckpt-3", "ckpt-4", "ckpt-5"]


def test_saver_style_rotates_one_per_save_and_deletes_the_meta(tmp_path):
    """STATE-32/33: TF1 naming without a step; .meta beside a rotated checkpoint goes with it."""
    manager = tfckpt.CheckpointManager(tmp_path, max_to_keep=1, checkpoint_name="model.ckpt", style="saver")
    assert os.path.basename(manager.save({"x": np.float32(0)})) == "model.ckpt"
    first = manager.save({"x": np.float32(1)}, checkpoint_number=10)
    open(first + ".meta", "wb").close()
    manager.save({"x": np.float32(2)}, checkpoint_number=20)
    assert not os.path.exists(first + ".meta") and not os.path.exists(first + ".index")
    state = tfckpt.get_checkpoint_state(str(tmp_path))
    assert not state.all_model_checkpoint_timestamps and state.last_preserved_timestamp == 0
    with open(tmp_path / "checkpoint") as handle:
        assert "timestamp" not in handle.read()


def test_streaming_save_from_a_generator(tmp_path):
    made = []

    def tensors():
        for i in range(3):
            made.append(i)
            yield f"t{i}", np.full(4, i, np.int32)

    prefix = tfckpt.CheckpointManager(tmp_path).save(tensors)
    assert made == [0, 1, 2] and tfckpt.load_checkpoint(prefix).get_tensor("t2").tolist() == [2] * 4


@pytest.mark.parametrize("bad", [{"max_to_keep": -1}, {"max_to_keep": 0}, {"style": "keras"}])
def test_bad_arguments_are_invalid_argument(tmp_path, bad):
    with pytest.raises(errors.InvalidArgumentError):
        tfckpt.CheckpointManager(tmp_path, **bad)


def test_a_name_colliding_with_the_state_file_is_refused(tmp_path):
    with pytest.raises(errors.InvalidArgumentError, match="state file"):
        tfckpt.CheckpointManager(tmp_path, checkpoint_name="checkpoint", style="saver").save({"x": 1.0})
    assert os.listdir(tmp_path) == []


# -- two processes ------------------------------------------------------------------------------


def _in_processes(target, argument_lists):
    """Run ``target`` once per argument list, each in its own process, all at once; all must succeed."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=target, args=args) for args in argument_lists]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0


def _append_entries(directory, tag, count):
    for i in range(count):
        with state_lock(directory):
            state = tfckpt.get_checkpoint_state(directory)
            paths = list(state.all_model_checkpoint_paths) if state else []
            name = os.path.join(directory, f"{tag}-{i}")
            tfckpt.update_checkpoint_state(directory, name, paths + [name])


def test_two_processes_updating_one_state_file_lose_no_entry(tmp_path):
    """STATE-34: read-modify-write under state_lock; 2 x 150 updates, 300 entries."""
    directory = str(tmp_path)
    _in_processes(_append_entries, [(directory, tag, 150) for tag in "ab"])
    state = tfckpt.get_checkpoint_state(directory)
    names = [os.path.basename(p) for p in state.all_model_checkpoint_paths]
    assert len(names) == 300 and len(set(names)) == 300


def _manager_saves(directory, parity, count):
    manager = tfckpt.CheckpointManager(directory, max_to_keep=4, sync=False)
    for i in range(count):
        manager.save({"x": np.float32(i)}, checkpoint_number=2 * i + parity)


def test_two_managers_in_one_directory_list_only_existing_checkpoints(tmp_path):
    """STATE-34: the state file stays parseable and names only checkpoints whose files exist."""
    directory = str(tmp_path)
    _in_processes(_manager_saves, [(directory, parity, 25) for parity in (0, 1)])
    state = tfckpt.get_checkpoint_state(directory)
    assert state is not None and state.all_model_checkpoint_paths
    for path in state.all_model_checkpoint_paths:
        assert os.path.exists(path + ".index"), f"the state file names {path}, which is gone"
    assert tfckpt.latest_checkpoint(directory) is not None
