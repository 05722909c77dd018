"""Keras 3 weight files against Keras itself: what Keras writes reads with identical values; what
tfckpt converts, Keras and TensorFlow load (spec/keras.md KH5-1..KH5-9).

For each model (Sequential Dense; functional Conv2D + BatchNormalization; functional
Embedding + LSTM; subclassed Dense) the expected values are the Keras model's own
variables and predictions, never tfckpt's output.
"""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from tfckpt.objects.keras_convert import (KerasLayer, checkpoint_to_weights_h5, h5_layout,  # noqa: E402
                                          weights_h5_to_checkpoint)
from tfckpt.objects.keras_h5 import load_keras_weights  # noqa: E402

# Keras 3.15.1's save_weights converts a Variable with np.array(x, copy=False) paths that numpy 2.4
# warns about (keras/src/backend/tensorflow/core.py convert_to_numpy): Keras's warning, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


class Sub(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.d1 = keras.layers.Dense(3)
        self.d2 = keras.layers.Dense(2)

    def call(self, x):
        return self.d2(self.d1(x))


def _sequential():
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2)]), np.float32, (4,)


def _conv():
    inp = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(4, 3)(inp)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inp, keras.layers.Dense(2)(x)), np.float32, (6, 6, 3)


def _rnn():
    inp = keras.Input((5,), dtype="int32")
    x = keras.layers.Embedding(10, 4)(inp)
    x = keras.layers.LSTM(3)(x)
    return keras.Model(inp, keras.layers.Dense(1)(x)), np.int32, (5,)


def _subclassed():
    model = Sub(name="sub")
    model(np.zeros((1, 4), np.float32))
    return model, np.float32, (4,)


MODELS = {"sequential": _sequential, "functional": _conv, "rnn": _rnn, "subclassed": _subclassed}
KIND = {"sequential": "sequential", "functional": "functional", "rnn": "functional", "subclassed": "subclassed"}


def _layers(model, kind):
    if kind == "subclassed":
        return [KerasLayer(type(layer).__name__, [w.path for w in layer.weights], attribute=attr)
                for attr, layer in (("d1", model.d1), ("d2", model.d2))]
    return [KerasLayer(type(layer).__name__, [w.path for w in layer.weights]) for layer in model.layers]


def _randomised(which):
    model, dtype, shape = MODELS[which]()
    rng = np.random.default_rng(11)
    for w in model.weights:
        w.assign(rng.uniform(0.5, 1.5, w.shape).astype(w.dtype))  # moving_variance stays positive
    x = rng.integers(0, 10, (2, *shape)).astype(dtype) if dtype == np.int32 else rng.standard_normal((2, *shape)).astype(dtype)
    return model, x


def _same_weights(a, b):
    assert len(a.weights) == len(b.weights)
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(wa.numpy(), wb.numpy())


@pytest.mark.parametrize("which", sorted(MODELS))
def test_weights_h5_written_by_keras_reads_with_identical_values(tmp_path, which):
    """KH5-1..KH5-6: every weight at the path the layout gives, identical; nothing else in the file."""
    model, _ = _randomised(which)
    path = str(tmp_path / "m.weights.h5")
    model.save_weights(path)
    layout = h5_layout(_layers(model, KIND[which]), KIND[which])
    assert [p for p, _ in layout] == [w.path for w in model.weights]
    with load_keras_weights(path) as reader:
        assert sorted(reader.keys()) == sorted(h for _, h in layout)
        for (_, key), w in zip(layout, model.weights):
            got = reader.get_tensor(key)
            assert got.dtype == np.dtype(w.dtype) and got.shape == tuple(w.shape)
            np.testing.assert_array_equal(got, w.numpy())
        assert reader.group_name("vars") == model.name


def test_keras_archive_holds_the_weights_and_the_optimizer_variables_in_order(tmp_path):
    """KH5-7: model.weights.h5 inside the .keras zip; optimizer/vars/i = optimizer.variables[i]."""
    model, x = _randomised("sequential")
    model.compile(optimizer=keras.optimizers.Adam(), loss="mse")
    model.fit(x, np.ones((2, 2), np.float32), verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    with load_keras_weights(path) as reader:
        for (_, key), w in zip(h5_layout(_layers(model, "sequential")), model.weights):
            np.testing.assert_array_equal(reader.get_tensor(key), w.numpy())
        variables = model.optimizer.variables
        assert [k for k in reader.keys() if k.startswith("optimizer/")] == [f"optimizer/vars/{i}" for i in range(len(variables))]
        for i, v in enumerate(variables):
            got = reader.get_tensor(f"optimizer/vars/{i}")
            assert got.dtype == np.dtype(v.dtype)
            np.testing.assert_array_equal(got, v.numpy())


@pytest.mark.parametrize("which", sorted(MODELS))
def test_checkpoint_converted_to_weights_h5_loads_with_load_weights(tmp_path, which):
    """KH5-9: tf.train.Checkpoint(model=...).write -> tfckpt -> model.load_weights: same weights, same predictions."""
    model, x = _randomised(which)
    prefix = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt" / "ckpt"))
    out = str(tmp_path / "m.weights.h5")
    checkpoint_to_weights_h5(prefix, out, _layers(model, KIND[which]), kind=KIND[which], name=model.name)
    fresh = MODELS[which]()[0]
    fresh.load_weights(out)
    _same_weights(model, fresh)
    np.testing.assert_array_equal(fresh(x).numpy(), model(x).numpy())


def test_checkpoint_with_an_optimizer_converts_through_its_object_graph(tmp_path):
    """A compiled model's variables are first reached through optimizer/_trainable_variables: resolved the same."""
    model, x = _randomised("functional")
    model.compile(optimizer=keras.optimizers.SGD(momentum=0.9), loss="mse")
    model.fit(x, np.ones((2, 2), np.float32), verbose=0)
    prefix = tf.train.Checkpoint(model=model, optimizer=model.optimizer).write(str(tmp_path / "ckpt" / "ckpt"))
    out = str(tmp_path / "m.weights.h5")
    checkpoint_to_weights_h5(prefix, out, _layers(model, "functional"), kind="functional")
    fresh = _conv()[0]
    fresh.load_weights(out)
    _same_weights(model, fresh)


@pytest.mark.parametrize("which", sorted(MODELS))
def test_weights_h5_converted_to_a_checkpoint_restores_with_assert_consumed(tmp_path, which):
    """KH5-9: model.save_weights -> tfckpt -> tf.train.Checkpoint(model=fresh).read(...).assert_consumed()."""
    model, x = _randomised(which)
    path = str(tmp_path / "m.weights.h5")
    model.save_weights(path)
    prefix = weights_h5_to_checkpoint(path, str(tmp_path / "out" / "ckpt"), _layers(model, KIND[which]),
                                      kind=KIND[which], name=model.name)
    fresh = MODELS[which]()[0]
    tf.train.Checkpoint(model=fresh).read(prefix).assert_consumed()
    _same_weights(model, fresh)
    np.testing.assert_array_equal(fresh(x).numpy(), model(x).numpy())
