"""TensorFlow's side of the SavedModel-builder tests: TF1 checkpoints + .meta, and SavedModelBuilder as the oracle."""
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf

import tf1_models as m

v1 = tf.compat.v1


def ref_model():
    """Reference variables: y = identity(x @ w + b)."""
    g = tf.Graph()
    with g.as_default():
        v1.set_random_seed(1)
        x = v1.placeholder(tf.float32, [None, 3], name="x")
        w = v1.get_variable("w", [3, 2], use_resource=False)
        b = v1.get_variable("b", [2], initializer=v1.constant_initializer(0.5), use_resource=False)
        tf.identity(tf.matmul(x, w) + b, name="y")
    return g, {"x": np.arange(6, dtype=np.float32).reshape(2, 3)}, ["y"]


#: name -> builder of (graph, feeds by placeholder name, output node names)
MODELS = {
    "ref": ref_model,
    "resource": lambda: m.dense_conv_bn(True),
    "partitioned": m.partitioned,
    "resource_partitioned": m.resource_partitioned,
}


def train(name, directory):
    """Write a TF1 checkpoint (plain V2 Saver) of model ``name`` under ``directory``; its prefix and model."""
    g, feeds, outputs = MODELS[name]()
    prefix = os.path.join(directory, "model.ckpt-7")
    with g.as_default():
        saver = v1.train.Saver()
        with v1.Session(graph=g) as sess:
            m.initialize(sess)
            saver.save(sess, prefix)
    return prefix, feeds, outputs


def build_tf(export_dir, prefix, signatures, tags=("serve",), graph_def=None, clear_devices=False):
    """TensorFlow's SavedModelBuilder on the .meta (restored from ``prefix``) or on a frozen ``graph_def``.

    ``signatures``: {key: (inputs {name: tensor name}, outputs {name: tensor name}, method)}.
    """
    g = tf.Graph()
    with g.as_default():
        if graph_def is None:
            saver = v1.train.import_meta_graph(prefix + ".meta")
        else:
            v1.import_graph_def(graph_def, name="")
        with v1.Session(graph=g) as sess:
            if graph_def is None:
                saver.restore(sess, prefix)
            builder = v1.saved_model.Builder(export_dir)
            defs = {}
            for key, (inputs, outputs, method) in signatures.items():
                defs[key] = v1.saved_model.build_signature_def(
                    {k: v1.saved_model.build_tensor_info(g.get_tensor_by_name(t)) for k, t in inputs.items()},
                    {k: v1.saved_model.build_tensor_info(g.get_tensor_by_name(t)) for k, t in outputs.items()},
                    method)
            builder.add_meta_graph_and_variables(sess, list(tags), signature_def_map=defs, clear_devices=clear_devices)
            builder.save()
    return export_dir


def run_loaded_v1(export_dir, key, feeds, tags=("serve",)):
    """Run signature ``key`` of a SavedModel loaded by tf.compat.v1.saved_model.loader.load."""
    g = tf.Graph()
    with g.as_default(), v1.Session(graph=g) as sess:
        meta = v1.saved_model.loader.load(sess, list(tags), export_dir)
        sig = meta.signature_def[key]
        names = sorted(sig.outputs)
        values = sess.run([sig.outputs[n].name for n in names],
                          {sig.inputs[k].name: v for k, v in feeds.items()})
        return dict(zip(names, values))


def run_loaded_v2(export_dir, key, feeds):
    """Run signature ``key`` of a SavedModel loaded by tf.saved_model.load."""
    loaded = tf.saved_model.load(export_dir)
    out = loaded.signatures[key](**{k: tf.constant(v) for k, v in feeds.items()})
    return {k: v.numpy() for k, v in out.items()}


def run_original(prefix, feeds, outputs):
    return m.run(None, feeds, outputs, prefix=prefix)


def simple_save_tf(export_dir, prefix, inputs, outputs, legacy_init_op=None):
    """TensorFlow's simple_save after restoring ``prefix`` into its .meta's graph; tensors and op by name."""
    g = tf.Graph()
    with g.as_default():
        saver = v1.train.import_meta_graph(prefix + ".meta")
        with v1.Session(graph=g) as sess:
            saver.restore(sess, prefix)
            v1.saved_model.simple_save(
                sess, export_dir, {k: g.get_tensor_by_name(t) for k, t in inputs.items()},
                {k: g.get_tensor_by_name(t) for k, t in outputs.items()},
                legacy_init_op=None if legacy_init_op is None else g.get_operation_by_name(legacy_init_op))
    return export_dir
