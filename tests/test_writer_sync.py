"""The big-tensor write path that overlaps the disk with the copy (bundle/writer.py,
``BundleWriter._write_overlapping_sync``): the same bytes and CRC32C as the plain path.

The thresholds are lowered so small arrays take the path, with a chunk size that does not
divide the payload; the plain path (``sync=False``) is the reference, and it is checked
against TensorFlow's SaveV2 bytes in tests/tensorflow/test_interop.py.
"""

import os

import numpy as np
import pytest

import tfckpt
from tfckpt.bundle import writer


@pytest.mark.parametrize("size", [1000, 4096, 12345])
def test_overlapping_sync_writes_the_plain_bytes(tmp_path, monkeypatch, size):
    tensors = {
        "a": np.random.default_rng(size).standard_normal(size).astype(np.float32),
        "b": np.arange(size, dtype=np.int64).reshape(-1, 1),
        "s": np.array([b"x", b"yz"], dtype=object),
    }
    tfckpt.save(str(tmp_path / "plain" / "ckpt"), tensors, sync=False)
    monkeypatch.setattr(writer, "_OVERLAP_MIN", 1024)
    monkeypatch.setattr(writer, "_OVERLAP_CHUNK", 1000)
    calls = []
    monkeypatch.setattr(writer, "_quiet_fdatasync", lambda fd: calls.append(fd))
    tfckpt.save(str(tmp_path / "sync" / "ckpt"), tensors, sync=True)
    assert calls  # the path was taken
    for name in ("ckpt.index", "ckpt.data-00000-of-00001"):
        with open(tmp_path / "plain" / name, "rb") as a, open(tmp_path / "sync" / name, "rb") as b:
            assert a.read() == b.read(), name
    with tfckpt.load_checkpoint(str(tmp_path / "sync" / "ckpt")) as reader:  # CRCs verified on read
        np.testing.assert_array_equal(reader.get_tensor("a"), tensors["a"])
    assert sorted(os.listdir(tmp_path / "sync")) == ["ckpt.data-00000-of-00001", "ckpt.index"]
