"""tfckpt.objects.keras against TF 2.21 + Keras 3.15.1: trained Keras models and optimizers,
rebuilt from numpy arrays and weight paths alone, written byte-identical to
``tf.train.Checkpoint(model=..., optimizer=...).write``; TF restores each with assert_consumed().

Expected bytes are TensorFlow's own; the tree is built from ``(weight path, array)`` pairs, never
from TF's object graph.
"""

import filecmp

import numpy as np
import pytest
import tensorflow as tf

import tfckpt
from tfckpt.objects import keras as kobj

keras = pytest.importorskip("keras")


def _seq_conv_bn_sgd():
    model = keras.Sequential([keras.Input((6, 6, 3)), keras.layers.Conv2D(2, 3), keras.layers.BatchNormalization(),
                              keras.layers.Flatten(), keras.layers.Dense(2)])
    return model, keras.optimizers.SGD(momentum=0.9), (np.ones((2, 6, 6, 3), np.float32), np.ones((2, 2), np.float32)), {}


def _seq_dense_plain_sgd():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    return model, keras.optimizers.SGD(learning_rate=0.5), (np.ones((2, 3), np.float32), np.ones((2, 1), np.float32)), {}


def _functional_embedding_lstm_adam():
    inp = keras.Input((5,), dtype="int32")
    out = keras.layers.Dense(1)(keras.layers.LSTM(3)(keras.layers.Embedding(10, 4)(inp)))
    model = keras.Model(inp, out)
    return model, keras.optimizers.Adam(), (np.arange(10, dtype=np.int32).reshape(2, 5), np.ones((2, 1), np.float32)), {}


def _functional_conv_bn_untrained():
    inp = keras.Input((5, 5, 2))
    out = keras.layers.BatchNormalization()(keras.layers.Conv2D(3, 2)(inp))
    return keras.Model(inp, out), None, None, {}


class SubModel(keras.Model):
    def __init__(self):
        super().__init__()
        self.d1 = keras.layers.Dense(3)
        self.bn = keras.layers.BatchNormalization()
        self.d2 = keras.layers.Dense(1)

    def call(self, x):
        return self.d2(self.bn(self.d1(x)))


def _subclassed_adam():
    return SubModel(), keras.optimizers.Adam(learning_rate=0.01), (np.ones((4, 4), np.float32), np.ones((4, 1), np.float32)), \
        {"attributes": ["d1", "bn", "d2"]}


STRUCTURES = {"seq-conv-bn-sgd": _seq_conv_bn_sgd, "seq-dense-plain-sgd": _seq_dense_plain_sgd,
              "functional-embedding-lstm-adam": _functional_embedding_lstm_adam,
              "functional-conv-bn": _functional_conv_bn_untrained, "subclassed-adam": _subclassed_adam}


def _built(name, seed):
    keras.utils.set_random_seed(seed)
    model, opt, batch, extra = STRUCTURES[name]()
    if opt is not None:
        model.compile(optimizer=opt, loss="mse")
        model.train_on_batch(*batch)
    elif not model.built:
        model(np.zeros((1,) + tuple(model.inputs[0].shape[1:]), np.float32))
    return model, opt, extra


def _spec(model, opt, extra):
    """Everything the tree needs, as a porting user has it: layer weight paths, arrays, slot arrays."""
    if "attributes" in extra:
        kind = "subclassed"
        layers = [kobj.Layer([(w.path, w.numpy()) for w in layer.weights], attribute)
                  for layer, attribute in zip(model.layers, extra["attributes"])]
    else:
        kind = "sequential" if isinstance(model, keras.Sequential) else "functional"
        ops = list(model.layers) if kind == "functional" else [None] + list(model.layers)  # InputLayer first
        layers = [kobj.Layer([] if op is None else [(w.path, w.numpy()) for w in op.weights]) for op in ops]
    optimizer = None
    if opt is not None:
        by_name = {v.name: v.numpy() for v in opt.variables}
        kinds = [s for s in ("momentum", "velocity") if any(n.endswith("_" + s) for n in by_name)]
        slots = {s: [by_name[f"{v.path.replace('/', '_')}_{s}"] for v in model.trainable_variables] for s in kinds}
        optimizer = kobj.Optimizer(type(opt).__name__.lower(), opt.iterations.numpy(), opt.learning_rate.numpy(), slots,
                                   name=opt.name)
    return kobj.checkpoint_tree(layers, optimizer, kind=kind, name=model.name)


def _checkpoint(model, opt):
    return tf.train.Checkpoint(model=model) if opt is None else tf.train.Checkpoint(model=model, optimizer=opt)


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_byte_identical_and_restores(tmp_path, name):
    model, opt, extra = _built(name, 0)
    theirs = _checkpoint(model, opt).write(str(tmp_path / "tf"))
    mine = tfckpt.save_objects(str(tmp_path / "ours"), _spec(model, opt, extra))
    for suffix in (".index", ".data-00000-of-00001"):
        assert filecmp.cmp(theirs + suffix, mine + suffix, shallow=False), suffix

    fresh, fresh_opt, _ = _built(name, 1)
    if fresh_opt is not None:
        fresh_opt.iterations.assign(0)
    _checkpoint(fresh, fresh_opt).read(mine).assert_consumed()
    for got, want in zip(fresh.weights, model.weights):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    if opt is not None:
        for got, want in zip(fresh_opt.variables, opt.variables):
            np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_weight_path_lookup(tmp_path, name):
    model, opt, extra = _built(name, 0)
    prefix = _checkpoint(model, opt).write(str(tmp_path / "tf"))
    if "attributes" in extra:  # full_name drops the layer: look up by attribute path instead
        for attribute, layer in zip(extra["attributes"], model.layers):
            for w in layer.weights:
                edge = kobj.PRIVATE_WEIGHTS.get(w.name, w.name)
                key = tfckpt.keys.key_for_object(prefix, ["model", attribute, edge])
                with tfckpt.load_checkpoint(prefix) as r:
                    np.testing.assert_array_equal(r.get_tensor(key), w.numpy())
        with pytest.raises(tfckpt.errors.NotFoundError, match="names 2 variables"):
            kobj.key_for_weight_path(prefix, f"{model.name}/kernel")
        return
    with tfckpt.load_checkpoint(prefix) as r:
        for w in model.weights:
            np.testing.assert_array_equal(r.get_tensor(kobj.key_for_weight_path(prefix, w.path)), w.numpy())
    with pytest.raises(tfckpt.errors.NotFoundError, match=r"no variable named 'nope/kernel'.*" + model.weights[0].path):
        kobj.key_for_weight_path(prefix, "nope/kernel")
