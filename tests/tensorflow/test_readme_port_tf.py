"""The README's porting example, then Keras 3 restores its checkpoint and predicts what numpy computed.

The expected predictions are the example's own numpy forward pass over the state_dict arrays
(independent of tfckpt); the restore uses assert_consumed(), so a missing or extra key fails.
"""

import os

import numpy as np
import pytest
import tensorflow as tf

import importlib.util

_spec = importlib.util.spec_from_file_location(
    "_readme_extractor", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "test_readme.py"))
_readme = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_readme)
readme_blocks = _readme.readme_blocks

keras = pytest.importorskip("keras")


def test_keras_restores_ported_state_dict(tmp_path, monkeypatch):
    (block,) = [code for _, _, code in readme_blocks() if "state_dict" in code and "save_objects" in code]
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__readme__"}
    exec(compile(block, "README.md", "exec"), namespace)

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    tf.train.Checkpoint(model=model).read(os.path.join(tmp_path, "ported-ckpt")).assert_consumed()
    np.testing.assert_allclose(model.predict(namespace["x"], verbose=0), namespace["expected"], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), namespace["state_dict"]["0.weight"].T)


def test_tensorflow_restores_the_readme_slot_example(tmp_path, monkeypatch):
    """The README's SlotOptimizer/save_checkpoint block: a tf.compat.v1 Adam and its model restore it
    from the state file's latest checkpoint with assert_consumed(), slots and counter included."""
    (block,) = [code for _, _, code in readme_blocks() if "SlotOptimizer" in code]
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {"__name__": "__readme__"})

    model = tf.Module()
    model.kernel = tf.Variable(np.full((3, 2), 5.0, np.float32), name="kernel")
    opt = tf.compat.v1.train.AdamOptimizer(0.1)
    opt.minimize(lambda: tf.reduce_sum(model.kernel), var_list=[model.kernel])
    checkpoint = tf.train.Checkpoint(model=model, opt=opt)
    checkpoint.restore(tf.train.latest_checkpoint(str(tmp_path / "slots"))).assert_consumed()
    np.testing.assert_array_equal(model.kernel.numpy(), np.ones((3, 2), np.float32))
    np.testing.assert_array_equal(opt.get_slot(model.kernel, "m").numpy(), np.zeros((3, 2), np.float32))
    assert [b.numpy() for b in opt._get_beta_accumulators()] == [np.float32(0.9), np.float32(0.999)]
    assert checkpoint.save_counter.numpy() == 1
