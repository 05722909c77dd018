"""Regenerate the TensorFlow-written tables in this directory (needs TensorFlow 2.21).

    TF_CPP_MIN_LOG_LEVEL=3 python tests/table/data/make_tf_tables.py

Each file is the raw table TensorFlow wrote, zlib-compressed (level 9) to keep
the repository small; the tests decompress them and compare our writer's bytes
with TensorFlow's.

* ``one.index``: ``SaveV2`` of one float32 scalar named ``x`` (1.0).
* ``objempty.index``: ``tf.train.Checkpoint().write`` with nothing tracked.
* ``multiblock.index``: ``SaveV2`` of 1500 int8 scalars named ``%05d`` + 400 ``x``;
  the index spans three data blocks (262144-byte block target).
* ``hugename.index``: ``SaveV2`` of float32 scalars named ``a``, 100000 ``g``,
  ``h`` + 600000 ``u`` (a key longer than 2 * block_size) and ``z``.
* ``v1_oversized``: a V1 checkpoint (``tf.raw_ops.Save``) of zeros named
  ``a`` (3 float32), ``b`` (200000 float32, an 800 KB value, more than
  2 * block_size) and ``c`` (2 int32); ``b`` gets a data block of its own.
"""

import os
import tempfile
import zlib

import numpy as np
import tensorflow as tf

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tf-2.21.0")


def main() -> None:
    assert tf.__version__ == "2.21.0", tf.__version__
    os.makedirs(HERE, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tf.raw_ops.SaveV2(prefix=os.path.join(tmp, "one"), tensor_names=["x"], shape_and_slices=[""],
                          tensors=[tf.constant(1.0)])
        tf.train.Checkpoint().write(os.path.join(tmp, "objempty"))
        names = ["%05d" % i + "x" * 400 for i in range(1500)]
        tf.raw_ops.SaveV2(prefix=os.path.join(tmp, "multiblock"), tensor_names=names,
                          shape_and_slices=[""] * len(names), tensors=[tf.constant(np.int8(1)) for _ in names])
        huge = ["a", "g" * 100000, "h" + "u" * 600000, "z"]
        tf.raw_ops.SaveV2(prefix=os.path.join(tmp, "hugename"), tensor_names=huge, shape_and_slices=[""] * 4,
                          tensors=[tf.constant(float(i)) for i in range(4)])
        tf.raw_ops.Save(filename=os.path.join(tmp, "v1_oversized"), tensor_names=["a", "b", "c"],
                        data=[tf.constant(np.zeros(3, np.float32)), tf.constant(np.zeros(200000, np.float32)),
                              tf.constant(np.zeros(2, np.int32))])
        for name in ["one.index", "objempty.index", "multiblock.index", "hugename.index", "v1_oversized"]:
            with open(os.path.join(tmp, name), "rb") as f:
                data = f.read()
            with open(os.path.join(HERE, name + ".zlib"), "wb") as f:
                f.write(zlib.compress(data, 9))
            print(name, len(data))


if __name__ == "__main__":
    main()
