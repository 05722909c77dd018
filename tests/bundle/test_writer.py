"""The writer's contract: key rules, atomic files, sharded saves."""

import os

import numpy as np
import pytest

import tfckpt
from tfckpt import errors


def test_duplicate_and_empty_keys_are_rejected(tmp_path):
    with pytest.raises(errors.InvalidArgumentError, match="duplicate"):
        with tfckpt.BundleWriter(tmp_path / "c") as writer:
            writer.add("a", np.zeros(1))
            writer.add("a", np.zeros(1))
    with pytest.raises(errors.InvalidArgumentError, match="empty"):
        tfckpt.save(tmp_path / "d", {"": np.zeros(1)})
    assert os.listdir(tmp_path) == []  # nothing half-written survives an error


def test_files_appear_only_when_complete(tmp_path):
    writer = tfckpt.BundleWriter(tmp_path / "c")
    writer.add("a", np.arange(3))
    names = os.listdir(tmp_path)
    assert len(names) == 1 and ".tempstate" in names[0]
    assert not tfckpt.checkpoint_exists(tmp_path / "c")
    writer.finish()
    assert sorted(os.listdir(tmp_path)) == ["c.data-00000-of-00001", "c.index"]
    with pytest.raises(errors.FailedPreconditionError):
        writer.add("b", np.arange(3))


def test_abort_removes_everything(tmp_path):
    writer = tfckpt.BundleWriter(tmp_path / "c")
    writer.add("a", np.arange(3))
    writer.abort()
    assert os.listdir(tmp_path) == []


def test_sharded_save_merges_into_numbered_data_files(tmp_path):
    prefix = str(tmp_path / "ckpt-1")
    tfckpt.save_sharded(prefix, [{"a": np.arange(3)}, {"b": np.ones(2, np.float32)}, {"c": np.array(b"s", dtype=object)}])
    names = sorted(os.listdir(tmp_path))
    assert names == ["ckpt-1.data-00000-of-00003", "ckpt-1.data-00001-of-00003",
                     "ckpt-1.data-00002-of-00003", "ckpt-1.index"]
    with tfckpt.load_checkpoint(prefix) as reader:
        assert reader.get_tensor("a").tolist() == [0, 1, 2]
        assert reader.get_tensor("c").item() == b"s"
        assert [reader.entry(k).shard_id for k in "abc"] == [0, 1, 2]


def test_merging_partitioned_tensor_slices_across_bundles(tmp_path):
    a, b = str(tmp_path / "p0"), str(tmp_path / "p1")
    with tfckpt.BundleWriter(a) as writer:
        writer.add_slice("emb", [4, 2], "0,2:-", np.zeros((2, 2), np.float32))
    with tfckpt.BundleWriter(b) as writer:
        writer.add_slice("emb", [4, 2], "2,2:-", np.ones((2, 2), np.float32))
    tfckpt.merge_bundles([a, b], str(tmp_path / "m"))
    with tfckpt.load_checkpoint(str(tmp_path / "m")) as reader:
        assert reader.get_tensor("emb").tolist() == [[0, 0], [0, 0], [1, 1], [1, 1]]
    assert not os.path.exists(a + ".index") and not os.path.exists(b + ".index")


def test_merging_duplicate_tensors_fails(tmp_path):
    a, b = str(tmp_path / "p0"), str(tmp_path / "p1")
    tfckpt.save(a, {"x": np.zeros(1)})
    tfckpt.save(b, {"x": np.zeros(1)})
    with pytest.raises(errors.InvalidArgumentError, match="duplicate"):
        tfckpt.merge_bundles([a, b], str(tmp_path / "m"))


def test_value_types(tmp_path):
    prefix = str(tmp_path / "c")
    tfckpt.save(prefix, {"text": "héllo", "raw": b"\x00\xff", "bits": np.array([0x3F80], np.uint16)})
    with tfckpt.BundleWriter(prefix + "2") as writer:
        writer.add("bf", np.array([0x3F80], np.uint16), dtype="bfloat16")
        writer.add("q", np.array([-1, 2], np.int8), dtype="qint8")
        writer.add("flag", np.array(1, np.uint8), dtype="bool")  # a 0-d bit pattern stays a scalar
    with tfckpt.load_checkpoint(prefix) as reader:
        assert reader.get_tensor("text").item() == "héllo".encode()
        assert reader.get_tensor("raw").item() == b"\x00\xff"
    with tfckpt.load_checkpoint(prefix + "2") as reader:
        assert float(reader.get_tensor("bf")[0]) == 1.0
        assert reader.get_variable_to_dtype_map()["q"].name == "qint8"
        assert reader.get_variable_to_shape_map()["flag"] == []
        assert reader.get_tensor("q").tolist() == [-1, 2]


def test_merging_with_an_empty_bundle_counts_only_real_data_files(tmp_path):
    # TensorFlow sums the inputs' num_shards (2 here) although only one data file is
    # referenced, and then cannot read its own output; spec SHARD-3 counts files.
    a, b = str(tmp_path / "p0"), str(tmp_path / "p1")
    tfckpt.save(a, {"x": np.arange(2)})
    tfckpt.BundleWriter(b).finish()  # a bundle with no tensors
    tfckpt.merge_bundles([a, b], str(tmp_path / "m"))
    with tfckpt.load_checkpoint(str(tmp_path / "m")) as reader:
        assert reader._impl.num_shards == 1
        assert reader.get_tensor("x").tolist() == [0, 1]


def test_plain_numpy_dtypes_name_plain_tensorflow_types():
    # '<u2' is uint16 (17), not quint16 (16) whose enum number is lower; quantized types need a name.
    assert tfckpt.as_dtype(np.uint16).name == "uint16"
    assert tfckpt.as_dtype(np.int8).name == "int8"
    assert tfckpt.as_dtype(tfckpt.as_dtype("quint16").as_numpy_dtype).name == "quint16"


def test_explicit_dtype_keeps_the_values_of_big_endian_arrays(tmp_path):
    value = np.arange(-3, 3, dtype=">i4")
    tfckpt.save(tmp_path / "a", {"x": value.astype("<i4")})
    with tfckpt.BundleWriter(tmp_path / "b") as writer:
        writer.add("x", value, dtype="int32")
    for suffix in (".index", ".data-00000-of-00001"):
        assert (tmp_path / ("a" + suffix)).read_bytes() == (tmp_path / ("b" + suffix)).read_bytes()


def test_a_directory_in_the_data_files_place_fails_cleanly(tmp_path):
    """OVR-3: the data file cannot be completed, so no index appears and no temporary file stays
    (TensorFlow 2.21 also says FAILED_PRECONDITION, but leaves its temporary data file behind)."""
    (tmp_path / "ckpt.data-00000-of-00001").mkdir()
    with pytest.raises(errors.FailedPreconditionError, match="Is a directory"):
        tfckpt.save(str(tmp_path / "ckpt"), {"a": np.zeros(2, np.float32)})
    assert sorted(os.listdir(tmp_path)) == ["ckpt.data-00000-of-00001"]


def test_os_errors_get_tensorflows_categories():
    import errno as errno_module

    cases = {errno_module.ENOENT: errors.FileNotFound, errno_module.ENOSPC: errors.ResourceExhaustedError,
             errno_module.EISDIR: errors.FailedPreconditionError, errno_module.EACCES: errors.PermissionDeniedError,
             errno_module.EROFS: errors.PermissionDeniedError, errno_module.EXDEV: errors.UnimplementedError,
             errno_module.EFBIG: errors.OutOfRangeError, errno_module.EIO: errors.CheckpointError}
    for number, cls in cases.items():
        made = errors.from_os_error(OSError(number, os.strerror(number), "f"), "writing f")
        assert type(made) is cls and made.file == "f"
    with pytest.raises(errors.ResourceExhaustedError):
        with errors.os_errors("writing x", file="x"):
            raise OSError(errno_module.ENOSPC, "No space left on device")
