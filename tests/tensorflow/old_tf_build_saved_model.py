"""Run by an old TensorFlow's Python (3.7): that release's SavedModelBuilder on a .meta and checkpoint,
with one predict signature of outputs only.

    python old_tf_build_saved_model.py PREFIX EXPORT_DIR NAME=TENSOR[,NAME=TENSOR...]
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402

if hasattr(tf, "compat") and hasattr(tf.compat, "v1"):
    tf = tf.compat.v1


def main(prefix, export_dir, outputs):
    with tf.Graph().as_default() as g:
        saver = tf.train.import_meta_graph(prefix + ".meta")
        with tf.Session() as sess:
            saver.restore(sess, prefix)
            infos = {}
            for pair in outputs.split(","):
                name, tensor = pair.split("=", 1)
                infos[name] = tf.saved_model.utils.build_tensor_info(g.get_tensor_by_name(tensor))
            signature = tf.saved_model.signature_def_utils.build_signature_def({}, infos, "tensorflow/serving/predict")
            builder = tf.saved_model.builder.SavedModelBuilder(export_dir)
            builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map={"serving_default": signature})
            builder.save()


if __name__ == "__main__":
    main(*sys.argv[1:])
