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
