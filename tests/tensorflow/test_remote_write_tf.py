"""TensorFlow reads what tfckpt uploads through an fsspec URL (spec/storage.md STORE-5, STORE-6).

fsspec's ``local://`` file system stands in for remote storage: tfckpt treats it as any other
URL (stage, upload under temporary names, move into place in the publish order), and the
files land in a local directory TensorFlow can open.  A sharded save over an older save of
another shard count checks PUB-5 too: TensorFlow must see the new checkpoint only.
"""

import os

import numpy as np
import pytest
import tensorflow as tf

import tfckpt

pytest.importorskip("fsspec")

pytestmark = pytest.mark.spec("STORE-5", "STORE-6")


def test_tensorflow_reads_a_checkpoint_uploaded_through_a_url(tmp_path):
    old = {"w": np.zeros((3, 2), np.float32), "gone": np.ones(2, np.int32)}
    new = [{"w": np.arange(6, dtype=np.float32).reshape(3, 2)}, {"s": np.array([b"a", b"bc"], dtype=object)}]
    url = "local://" + str(tmp_path / "run" / "ckpt-1")
    tfckpt.save(url, old)
    tfckpt.save_sharded(url, new)
    tfckpt.update_checkpoint_state("local://" + str(tmp_path / "run"), url)
    names = sorted(os.listdir(tmp_path / "run"))
    assert names == ["checkpoint", "ckpt-1.data-00000-of-00002", "ckpt-1.data-00001-of-00002", "ckpt-1.index"]
    reader = tf.train.load_checkpoint(str(tmp_path / "run" / "ckpt-1"))
    assert sorted(reader.get_variable_to_shape_map()) == ["s", "w"]
    np.testing.assert_array_equal(reader.get_tensor("w"), new[0]["w"])
    assert list(reader.get_tensor("s")) == [b"a", b"bc"]


def test_tensorflow_reads_a_v1_file_uploaded_through_a_url(tmp_path):
    tfckpt.write_v1("local://" + str(tmp_path / "v1.ckpt"), {"x": np.arange(4, dtype=np.int64)})
    reader = tf.compat.v1.train.NewCheckpointReader(str(tmp_path / "v1.ckpt"))
    np.testing.assert_array_equal(reader.get_tensor("x"), np.arange(4))
