"""Checkpoint series against TensorFlow 2.21's own CheckpointManager and TF1 Saver (spec/state-file.md §9).

TensorFlow writes a series with a fake clock; tfckpt writes the same series with the
same numbers and clock values; the checkpoints left and the ``checkpoint`` file's
bytes must be the same.  Then each continues the other's series.
"""

import os
import types

import numpy as np
import pytest

import tfckpt

tf = pytest.importorskip("tensorflow")
from tensorflow.python.checkpoint import checkpoint_management  # noqa: E402
from tensorflow.python.training import saver as saver_module  # noqa: E402

START = 1767225600.0  # 2026-01-01T00:00:00Z


class FakeClock:
    def __init__(self, now=START):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def tf_clock(monkeypatch):
    """The clock TensorFlow's manager and Saver see."""
    clock = FakeClock()
    import time as real_time

    fake = types.ModuleType("time")
    fake.__dict__.update({k: v for k, v in vars(real_time).items() if not k.startswith("__")})
    fake.time = clock
    monkeypatch.setattr(checkpoint_management, "time", fake)
    monkeypatch.setattr(saver_module, "time", fake)
    return clock


def _prefixes(directory):
    return sorted(n[: -len(".index")] for n in os.listdir(directory) if n.endswith(".index"))


def _state(directory):
    with open(os.path.join(directory, "checkpoint"), "rb") as handle:
        return handle.read()


# (checkpoint number, seconds since START at the save) -- 40 minutes apart, so hourly preservation bites
SERIES = [(n * 100, n * 2400.0) for n in range(1, 10)]


@pytest.mark.parametrize("max_to_keep,hours", [(3, None), (3, 1.0), (2, 0.5), (None, None)])
def test_manager_series_matches_tensorflow(tmp_path, tf_clock, max_to_keep, hours):
    tf_dir, our_dir = str(tmp_path / "tf"), str(tmp_path / "ours")
    ckpt = tf.train.Checkpoint(v=tf.Variable(np.zeros(3, np.float32)))
    manager = tf.train.CheckpointManager(ckpt, tf_dir, max_to_keep=max_to_keep,
                                         keep_checkpoint_every_n_hours=hours)
    ours_clock = FakeClock()
    ours = tfckpt.CheckpointManager(our_dir, max_to_keep=max_to_keep, keep_checkpoint_every_n_hours=hours,
                                    clock=ours_clock)
    for number, offset in SERIES:
        tf_clock.now = ours_clock.now = START + offset
        manager.save(checkpoint_number=number)
        ours.save({"v": np.full(3, number, np.float32)}, checkpoint_number=number)
        assert _prefixes(our_dir) == _prefixes(tf_dir)
        assert _state(our_dir) == _state(tf_dir)
    assert [os.path.basename(p) for p in ours.checkpoints] == [os.path.basename(p) for p in manager.checkpoints]


def test_manager_counter_numbers_like_save_counter(tmp_path, tf_clock):
    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path / "tf"), max_to_keep=2)
    ours = tfckpt.CheckpointManager(str(tmp_path / "ours"), max_to_keep=2, clock=FakeClock())
    for _ in range(3):
        a = manager.save()
        b = ours.save({"v": np.float32(1)})
        assert os.path.basename(a) == os.path.basename(b)
    assert _state(str(tmp_path / "ours")) == _state(str(tmp_path / "tf"))


@pytest.mark.parametrize("max_to_keep,hours", [(2, None), (2, 1.0), (0, None)])
def test_saver_series_matches_tensorflow(tmp_path, tf_clock, max_to_keep, hours):
    tf_dir, our_dir = str(tmp_path / "tf"), str(tmp_path / "ours")
    os.makedirs(tf_dir)
    ours_clock = FakeClock()
    ours = tfckpt.CheckpointManager(our_dir, max_to_keep=max_to_keep, keep_checkpoint_every_n_hours=hours,
                                    checkpoint_name="my-model", style="saver", clock=ours_clock)
    with tf.Graph().as_default():
        tf.compat.v1.Variable(np.zeros(2, np.float32), name="w")
        kwargs = {"max_to_keep": max_to_keep}
        if hours is not None:
            kwargs["keep_checkpoint_every_n_hours"] = hours
        saver = tf.compat.v1.train.Saver(**kwargs)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for step, offset in SERIES:
                tf_clock.now = ours_clock.now = START + offset
                saver.save(sess, os.path.join(tf_dir, "my-model"), global_step=step)
                ours.save({"w": np.zeros(2, np.float32)}, checkpoint_number=step)
                # the Saver also writes .meta files: compare checkpoints and state only
                assert _prefixes(our_dir) == _prefixes(tf_dir)
                assert _state(our_dir).replace(our_dir.encode(), b"D") == _state(tf_dir).replace(tf_dir.encode(), b"D")


def test_tensorflow_continues_our_series_and_we_continue_its(tmp_path, tf_clock):
    directory = str(tmp_path / "run")
    clock = FakeClock()
    ours = tfckpt.CheckpointManager(directory, max_to_keep=3, clock=clock)
    for number, offset in SERIES[:4]:
        clock.now = START + offset
        ours.save({"v": np.full(3, number, np.float32)}, checkpoint_number=number)
    # TensorFlow's manager picks the series up from our state file and rotates it
    ckpt = tf.train.Checkpoint(v=tf.Variable(np.zeros(3, np.float32)))
    tf_clock.now = START + SERIES[4][1]
    manager = tf.train.CheckpointManager(ckpt, directory, max_to_keep=3)
    assert [os.path.basename(p) for p in manager.checkpoints] == ["ckpt-200", "ckpt-300", "ckpt-400"]
    manager.save(checkpoint_number=500)
    assert _prefixes(directory) == ["ckpt-300", "ckpt-400", "ckpt-500"]
    # ... and we pick up TensorFlow's state file, as its manager would
    clock.now = START + SERIES[5][1]
    again = tfckpt.CheckpointManager(directory, max_to_keep=3, clock=clock)
    assert again.latest_checkpoint == os.path.join(directory, "ckpt-500")
    again.save({"v": np.zeros(3, np.float32)}, checkpoint_number=600)
    assert _prefixes(directory) == ["ckpt-400", "ckpt-500", "ckpt-600"]
    assert tf.train.latest_checkpoint(directory) == os.path.join(directory, "ckpt-600")
    reference = str(tmp_path / "tf-only")
    tf_clock.now = START
    ckpt2 = tf.train.Checkpoint(v=tf.Variable(np.zeros(3, np.float32)))
    m2 = tf.train.CheckpointManager(ckpt2, reference, max_to_keep=3)
    for number, offset in SERIES[:6]:
        tf_clock.now = START + offset
        m2.save(checkpoint_number=number)
    assert _state(directory) == _state(reference)
