"""Kill tests judged by TensorFlow too: after each kill, TensorFlow 2.21 reads what tfckpt left.

Same campaign as tests/test_kill.py (killing.py); after each kill TensorFlow's
``latest_checkpoint`` must name a checkpoint its ``load_checkpoint`` reads
completely, and a prefix with an index must read in TensorFlow.
"""

import os

import numpy as np
import pytest

import killing

tf = pytest.importorskip("tensorflow")


def _tensorflow_reads(directory: str) -> None:
    prefix = os.path.join(directory, "ckpt")
    targets = [prefix] if os.path.exists(prefix + ".index") or os.path.isfile(prefix) else []
    latest = tf.train.latest_checkpoint(directory)
    if latest is not None:
        targets.append(latest)
    for target in targets:
        reader = tf.train.load_checkpoint(target)
        for name in reader.get_variable_to_shape_map():
            assert np.asarray(reader.get_tensor(name)).size >= 1


@pytest.mark.parametrize("mode", killing.MODES)
def test_tensorflow_reads_what_every_kill_leaves(tmp_path, mode):
    seen = killing.kill_campaign(mode, str(tmp_path), points=50, check=_tensorflow_reads)
    assert seen["old"] + seen["none"] > 0, seen


@pytest.mark.parametrize("mode", (*killing.MODES, "writer"))
def test_tensorflow_reads_what_a_kill_after_each_rename_leaves(tmp_path, mode):
    """The deterministic campaign of tests/test_kill_each_rename.py, TensorFlow judging too."""
    seen = killing.kill_each_step(mode, str(tmp_path), check=_tensorflow_reads)
    assert seen[0] == "old", seen
