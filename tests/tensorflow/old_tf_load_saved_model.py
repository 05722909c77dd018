"""Run by an old TensorFlow's Python (3.7): load a SavedModel with that release's
``tf.saved_model.loader.load``, run one signature and write its outputs.

    python old_tf_load_saved_model.py EXPORT_DIR SIGNATURE_KEY FEEDS.npz OUT.npz

FEEDS.npz holds one array per signature input name; OUT.npz gets one per output name.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

if hasattr(tf, "compat") and hasattr(tf.compat, "v1"):
    tf = tf.compat.v1


def main(export_dir, key, feeds_path, out):
    feeds = dict(np.load(feeds_path, allow_pickle=False))
    with tf.Graph().as_default():
        with tf.Session() as sess:
            meta = tf.saved_model.loader.load(sess, ["serve"], export_dir)
            signature = meta.signature_def[key]
            names = sorted(signature.outputs)
            values = sess.run([signature.outputs[n].name for n in names],
                              {signature.inputs[k].name: v for k, v in feeds.items()})
    np.savez(out, **dict(zip(names, values)))


if __name__ == "__main__":
    main(*sys.argv[1:])
