"""Run by an old TensorFlow's Python (3.6/3.7): freeze a .meta + checkpoint with that release's own
convert_variables_to_constants, as freeze_graph.py does, and write the GraphDef's deterministic bytes.

    python old_tf_freeze.py PREFIX OUTPUTS(comma-separated) OUT.pb
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402

if hasattr(tf, "compat") and hasattr(tf.compat, "v1"):
    tf = tf.compat.v1


def main(prefix, outputs, out):
    from tensorflow.core.protobuf import meta_graph_pb2

    meta = meta_graph_pb2.MetaGraphDef()
    with open(prefix + ".meta", "rb") as handle:
        meta.ParseFromString(handle.read())
    with tf.Graph().as_default():
        saver = tf.train.import_meta_graph(meta)
        with tf.Session() as sess:
            saver.restore(sess, prefix)
            frozen = tf.graph_util.convert_variables_to_constants(sess, meta.graph_def, outputs.split(","))
    with open(out, "wb") as handle:
        handle.write(frozen.SerializeToString(deterministic=True))


if __name__ == "__main__":
    main(*sys.argv[1:])
