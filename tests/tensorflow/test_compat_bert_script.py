"""A ``load_tf_weights_in_bert``-style conversion script runs on ``tfckpt.compat`` as on ``tf.train``.

TensorFlow writes a small BERT-like checkpoint (the variable names of Google's BERT
release, with Adam slots, through ``tf.compat.v1.train.Saver``); the same script
runs once with ``tf.train`` and once with ``import tfckpt.compat as tf_train``, and
both must produce the same weights, names and shapes.
"""

import numpy as np


def _bert_like_checkpoint(tmp_path):
    import tensorflow as tf

    names = {
        "bert/embeddings/word_embeddings": (30, 8),
        "bert/embeddings/LayerNorm/gamma": (8,),
        "bert/encoder/layer_0/attention/self/query/kernel": (8, 8),
        "bert/encoder/layer_0/attention/self/query/bias": (8,),
        "bert/pooler/dense/kernel": (8, 8),
        "cls/predictions/output_bias": (30,),
    }
    graph = tf.Graph()
    with graph.as_default():
        rng = np.random.default_rng(7)
        variables = [tf.compat.v1.Variable(rng.normal(size=shape).astype(np.float32), name=n) for n, shape in names.items()]
        step = tf.compat.v1.train.get_or_create_global_step()
        loss = tf.add_n([tf.reduce_sum(v * v) for v in variables])
        train = tf.compat.v1.train.AdamOptimizer(0.1).minimize(loss, global_step=step)
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            session.run(train)
            return saver.save(session, str(tmp_path / "bert_model.ckpt"))


def _convert(tf_train, path):
    """The loop of load_tf_weights_in_bert: list, skip optimizer slots, load, split names."""
    weights = {}
    for name, shape in tf_train.list_variables(path):
        if any(n in ("adam_v", "adam_m", "Adam", "Adam_1", "global_step", "beta1_power", "beta2_power") for n in name.split("/")):
            continue
        array = tf_train.load_variable(path, name)
        assert list(array.shape) == shape
        weights[tuple(name.split("/"))] = array
    return weights


def test_bert_conversion_script_runs_on_compat(tmp_path):
    import tensorflow as tf

    import tfckpt.compat as tf_train

    path = _bert_like_checkpoint(tmp_path)
    expected = _convert(tf.train, path)
    got = _convert(tf_train, path)
    assert sorted(got) == sorted(expected) and len(got) == 6
    for key in expected:
        assert got[key].dtype == expected[key].dtype
        np.testing.assert_array_equal(got[key], expected[key])
    assert tf_train.latest_checkpoint(str(tmp_path)) == tf.train.latest_checkpoint(str(tmp_path))
    assert tf_train.list_variables(str(tmp_path)) == tf.train.list_variables(str(tmp_path))
    reader = tf_train.NewCheckpointReader(path)
    tf_reader = tf.compat.v1.train.NewCheckpointReader(path)
    assert reader.get_variable_to_shape_map() == tf_reader.get_variable_to_shape_map()
    assert {k: v.name for k, v in reader.get_variable_to_dtype_map().items()} == {
        k: v.name for k, v in tf_reader.get_variable_to_dtype_map().items()
    }
