"""TF1 graphs built with tf.compat.v1 for the freezing tests: TensorFlow is the oracle."""
import os
import numpy as np
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
v1 = tf.compat.v1

def dense_conv_bn(use_resource):
    g = tf.Graph()
    with g.as_default():
        v1.set_random_seed(1)
        x = v1.placeholder(tf.float32, [None, 8, 8, 3], name="x")
        with v1.variable_scope("model", use_resource=use_resource):
            w = v1.get_variable("conv/kernel", [3, 3, 3, 4])
            b = v1.get_variable("conv/bias", [4], initializer=v1.constant_initializer(0.1))
            h = tf.nn.relu(tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME") + b)
            with v1.variable_scope("bn"):
                gamma = v1.get_variable("gamma", [4], initializer=v1.random_uniform_initializer(0.5, 1.5))
                beta = v1.get_variable("beta", [4], initializer=v1.random_uniform_initializer(-0.5, 0.5))
                mean = v1.get_variable("moving_mean", [4], initializer=v1.random_uniform_initializer(-0.1, 0.1), trainable=False)
                var = v1.get_variable("moving_variance", [4], initializer=v1.random_uniform_initializer(0.5, 1.5), trainable=False)
            h, _, _ = v1.nn.fused_batch_norm(h, gamma, beta, mean, var, is_training=False)
            h = tf.reshape(h, [-1, 8 * 8 * 4])
            with v1.variable_scope("dense"):
                k = v1.get_variable("kernel", [256, 5])
                kb = v1.get_variable("bias", [5], initializer=v1.constant_initializer(0.01))
            h = tf.matmul(h, k) + kb
        y = tf.identity(tf.nn.softmax(h), name="y")
    return g, {"x": np.random.RandomState(0).rand(2, 8, 8, 3).astype(np.float32)}, ["y"]

def partitioned():
    g = tf.Graph()
    with g.as_default():
        v1.set_random_seed(1)  # graph-level seed: fixtures generate with op determinism on
        ids = v1.placeholder(tf.int64, [None], name="ids")
        emb = v1.get_variable("emb", [10, 4], partitioner=v1.fixed_size_partitioner(3), use_resource=False)
        y = tf.identity(tf.nn.embedding_lookup(emb, ids), name="y")
    return g, {"ids": np.array([0, 3, 9, 4], np.int64)}, ["y"]

def ema():
    g = tf.Graph()
    with g.as_default():
        v1.set_random_seed(1)
        x = v1.placeholder(tf.float32, [None, 3], name="x")
        # Reference variables, as TF1 wrote them (TF 2.x's get_variable makes resource ones by default).
        w = v1.get_variable("w", [3, 2], use_resource=False)
        s = v1.get_variable("s", [], initializer=v1.constant_initializer(2.0), use_resource=False)
        y = tf.identity(tf.matmul(x, w) * s, name="y")
        e = v1.train.ExponentialMovingAverage(0.9)
        e.apply([w, s])
    return g, {"x": np.ones((2, 3), np.float32)}, ["y"]

def initialize(sess):
    """Variables first, then their moving averages (whose initialisers read the variables)."""
    sess.run(v1.variables_initializer(v1.trainable_variables()))
    sess.run(v1.global_variables_initializer())

def freeze_tf(g, outputs, prefix):
    with g.as_default():
        saver = v1.train.Saver()
        with v1.Session(graph=g) as sess:
            initialize(sess)
            saver.save(sess, prefix)
            gd = g.as_graph_def()
            frozen = v1.graph_util.convert_variables_to_constants(sess, gd, outputs)
    return frozen

def freeze_tf_from_meta(prefix, outputs, clear_devices=False, **kw):
    """What freeze_graph.py does: the .meta's graph_def, the checkpoint restored by its saver."""
    from tensorflow.core.protobuf import meta_graph_pb2
    with open(prefix + ".meta", "rb") as handle:
        meta = meta_graph_pb2.MetaGraphDef.FromString(handle.read())
    gd = meta.graph_def
    if clear_devices:
        for n in gd.node: n.device = ""
    g = tf.Graph()
    with g.as_default():
        saver = v1.train.import_meta_graph(meta, clear_devices=clear_devices)
        with v1.Session(graph=g) as sess:
            saver.restore(sess, prefix)
            return v1.graph_util.convert_variables_to_constants(sess, gd, outputs, **kw)

def run(frozen_or_graph, feeds, outputs, prefix=None):
    g = tf.Graph()
    with g.as_default():
        if prefix:
            saver = v1.train.import_meta_graph(prefix + ".meta")
        else:
            v1.import_graph_def(frozen_or_graph, name="")
        with v1.Session(graph=g) as sess:
            if prefix: saver.restore(sess, prefix)
            return sess.run([o + ":0" for o in outputs], {k + ":0": v for k, v in feeds.items()})

def _v1_control_flow(build):
    """Build with TF1 control flow (Switch/Merge, Enter/Exit), as TensorFlow 1.x graphs have it."""
    from tensorflow.python.ops import control_flow_util
    saved = control_flow_util.ENABLE_CONTROL_FLOW_V2
    control_flow_util.ENABLE_CONTROL_FLOW_V2 = False
    try:
        return build()
    finally:
        control_flow_util.ENABLE_CONTROL_FLOW_V2 = saved

def cond_while(use_resource):
    """A variable read in both branches of a tf.cond and inside a tf.while_loop."""
    def build():
        g = tf.Graph()
        with g.as_default():
            v1.set_random_seed(1)
            x = v1.placeholder(tf.float32, [3], name="x")
            p = v1.placeholder(tf.bool, [], name="p")
            w = v1.get_variable("w", [3], use_resource=use_resource)
            c = tf.cond(p, lambda: x * w, lambda: x + w)
            loop = v1.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * w), [0, c])[1]
            tf.identity(loop, name="y")
        return g
    return _v1_control_flow(build), {"x": np.array([1, 2, 3], np.float32), "p": True}, ["y"]

def resource_partitioned():
    """A partitioned resource embedding: each piece read by ResourceGather."""
    g = tf.Graph()
    with g.as_default():
        v1.set_random_seed(1)
        ids = v1.placeholder(tf.int64, [None], name="ids")
        emb = v1.get_variable("emb", [10, 4], partitioner=v1.fixed_size_partitioner(3), use_resource=True)
        tf.identity(tf.nn.embedding_lookup(emb, ids), name="y")
    return g, {"ids": np.array([0, 3, 9, 4], np.int64)}, ["y"]
