"""Rewrites that TensorFlow 2.21 restores (spec/rewrite.md): subset, rename, EMA, strip optimizer.

Each source checkpoint is written by TensorFlow (a TF1 graph trained one step with Adam
and an ExponentialMovingAverage, or a Keras 3 model with Adam); tfckpt rewrites it; a
TensorFlow program restores the result with a plain ``Saver`` or ``tf.train.Checkpoint``
and must hold exactly the values TensorFlow had.  Where TensorFlow can write the same
result itself (a ``Saver`` over the renamed variables), the files must be byte-identical.
"""

import os

import numpy as np
import pytest

import tfckpt

tf = pytest.importorskip("tensorflow")
tf1 = tf.compat.v1

LAYERS = 5


def _tf1_source(directory):
    """Five dense layers, Adam, EMA over the trainable variables; one training step; saved by a Saver."""
    values = {}
    with tf.Graph().as_default():
        x = tf.constant(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4))
        h = x
        for i in range(1, LAYERS + 1):
            k = tf1.get_variable(f"layer{i}/kernel", [4, 4], initializer=tf1.random_normal_initializer(seed=i))
            b = tf1.get_variable(f"layer{i}/bias", [4], initializer=tf1.zeros_initializer())
            h = tf.tanh(tf.matmul(h, k) + b)
        step = tf1.train.get_or_create_global_step()
        train = tf1.train.AdamOptimizer(0.1).minimize(tf.reduce_sum(h * h), global_step=step)
        ema = tf.train.ExponentialMovingAverage(0.5)
        with tf.control_dependencies([train]):
            average = ema.apply(tf1.trainable_variables())
        saver = tf1.train.Saver()
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            sess.run(average)
            sess.run(average)
            prefix = saver.save(sess, os.path.join(directory, "model.ckpt"))
            for v in tf1.global_variables():
                values[v.op.name] = sess.run(v)
    return prefix, values


def _restore_plain(prefix, names_like):
    """A TF1 graph with just these variables (name, an array of their shape and dtype), restored by a plain Saver."""
    with tf.Graph().as_default():
        variables = [tf1.get_variable(n, like.shape, dtype=tf.as_dtype(like.dtype), initializer=tf1.zeros_initializer())
                     for n, like in names_like]
        saver = tf1.train.Saver()
        with tf1.Session() as sess:
            saver.restore(sess, prefix)
            return {v.op.name: sess.run(v) for v in variables}


def _save_plain(directory, values):
    """What TensorFlow's own Saver writes for these variables and values."""
    with tf.Graph().as_default():
        for name, value in values.items():
            tf1.get_variable(name, initializer=tf.constant(value))
        saver = tf1.train.Saver()
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            return saver.save(sess, os.path.join(directory, "tf.ckpt"), write_meta_graph=False)


def _same_files(ours, theirs):
    for suffix in (".index", ".data-00000-of-00001"):
        with open(ours + suffix, "rb") as a, open(theirs + suffix, "rb") as b:
            assert a.read() == b.read(), f"{suffix} differs from TensorFlow's"


@pytest.fixture(scope="module")
def tf1_source(tmp_path_factory):
    return _tf1_source(str(tmp_path_factory.mktemp("tf1")))


def test_two_of_five_layers(tf1_source, tmp_path):
    src, values = tf1_source
    dst = str(tmp_path / "two")
    tfckpt.rewrite(src, dst, select=["layer1/kernel", "layer1/bias", "layer2/*"], drop=["re:.*/(Adam|Adam_1|ExponentialMovingAverage)"])
    wanted = {n: values[n] for n in ("layer1/kernel", "layer1/bias", "layer2/kernel", "layer2/bias")}
    got = _restore_plain(dst, list(wanted.items()))
    assert all(np.array_equal(got[n], wanted[n]) for n in wanted)
    _same_files(dst, _save_plain(str(tmp_path), wanted))


def test_rename_by_mapping_and_by_regex(tf1_source, tmp_path):
    src, values = tf1_source
    dst = str(tmp_path / "renamed")
    plan = tfckpt.rewrite(src, dst, select="layer[12]/*", drop="re:.*/(Adam|Adam_1|ExponentialMovingAverage)",
                          rename=[(r"^layer1/", "encoder/"), (r"^layer2/", "decoder/")])
    assert ("layer1/kernel", "encoder/kernel") in plan.renamed
    mapping = {"encoder/kernel": "layer1/kernel", "encoder/bias": "layer1/bias",
               "decoder/kernel": "layer2/kernel", "decoder/bias": "layer2/bias"}
    got = _restore_plain(dst, [(n, values[o]) for n, o in mapping.items()])
    assert all(np.array_equal(got[n], values[o]) for n, o in mapping.items())
    _same_files(dst, _save_plain(str(tmp_path), {n: values[o] for n, o in mapping.items()}))
    dst2 = str(tmp_path / "renamed2")
    tfckpt.rewrite(dst, dst2, rename={"encoder/kernel": "enc/w"})
    assert tfckpt.load_checkpoint(dst2).get_tensor("enc/w").tobytes() == values["layer1/kernel"].tobytes()


def test_moving_averages_restore_into_the_variables(tf1_source, tmp_path):
    src, values = tf1_source
    dst = str(tmp_path / "ema")
    tfckpt.rewrite(src, dst, ema=True, strip_optimizer=True)
    names = [f"layer{i}/{p}" for i in range(1, LAYERS + 1) for p in ("kernel", "bias")]
    got = _restore_plain(dst, [(n, values[n]) for n in names] + [("global_step", values["global_step"])])
    for n in names:
        assert np.array_equal(got[n], values[n + "/ExponentialMovingAverage"]), n
        assert not np.array_equal(got[n], values[n]) or np.array_equal(values[n], values[n + "/ExponentialMovingAverage"])
    expected = {n: values[n + "/ExponentialMovingAverage"] for n in names}
    expected["global_step"] = values["global_step"]
    _same_files(dst, _save_plain(str(tmp_path), expected))
    assert tfckpt.load_variables(src, names, ema=True)["layer3/bias"].tobytes() == expected["layer3/bias"].tobytes()


def test_strip_adam_before_export(tf1_source, tmp_path):
    src, values = tf1_source
    dst = str(tmp_path / "export")
    tfckpt.rewrite(src, dst, strip_optimizer=True, drop="*/ExponentialMovingAverage")
    keys = {k for k, _ in tfckpt.list_variables(dst)}
    assert not any("Adam" in k or "power" in k for k in keys)
    plain = {n: v for n, v in values.items() if "Adam" not in n and "power" not in n and "Moving" not in n}
    assert keys == set(plain)
    _same_files(dst, _save_plain(str(tmp_path), plain))


def _keras_model():
    keras = tf.keras
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)])


def test_keras_checkpoint_without_its_optimizer_restores_the_model(tmp_path):
    model, opt = _keras_model(), tf.keras.optimizers.Adam(0.1)
    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x) ** 2)
    opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    src = tf.train.Checkpoint(model=model, optimizer=opt).save(str(tmp_path / "full"))  # save_counter = 1
    dst = str(tmp_path / "model-only")
    plan = tfckpt.rewrite(src, dst, strip_optimizer=True)
    assert not any("OPTIMIZER_SLOT" in k or k.startswith("optimizer/") for _, k in plan.kept)
    fresh = _keras_model()
    status = tf.train.Checkpoint(model=fresh).restore(dst)
    status.assert_existing_objects_matched()
    for a, b in zip(fresh.weights, model.weights):
        assert np.array_equal(a.numpy(), b.numpy())
    _same_files(dst, tf.train.Checkpoint(model=model).save(str(tmp_path / "tf-model-only")))


def test_a_cast_to_bfloat16_restores_as_bfloat16(tf1_source, tmp_path):
    src, values = tf1_source
    dst = str(tmp_path / "bf16")
    tfckpt.rewrite(src, dst, select="layer1/kernel", dtype={"float32": "bfloat16"})
    with tf.Graph().as_default():
        v = tf1.get_variable("layer1/kernel", [4, 4], dtype=tf.bfloat16, initializer=tf1.zeros_initializer())
        with tf1.Session() as sess:
            tf1.train.Saver().restore(sess, dst)
            got = sess.run(v)
    assert np.array_equal(got.astype(np.float32), values["layer1/kernel"].astype(tf.bfloat16.as_numpy_dtype).astype(np.float32))
