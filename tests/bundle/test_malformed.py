"""Every malformed-input class gets the specific tfckpt error, before any large allocation.

Each test builds a valid checkpoint with the reference writer, breaks exactly
one thing (re-encoding the index so its block checksums stay valid, so the
check under test is the one that fires) and expects one error category.
"""

import os

import numpy as np
import pytest

import tfckpt
from tfckpt import errors
from tfckpt.bundle.slices import TensorSlice, encode_slice_key

from index_surgery import mutate_entry, mutate_header, read_index, write_index


def _save(prefix, **tensors):
    tfckpt.save(prefix, tensors)
    return prefix


def _read_all(prefix):
    with tfckpt.load_checkpoint(prefix) as reader:
        return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()}


def _bytes(path):
    with open(path, "rb") as handle:
        return handle.read()


def _set_shape(entry, dims):
    del entry.shape.dim[:]
    for d in dims:
        entry.shape.dim.add().size = d


def test_huge_shape_is_rejected_without_allocating(ckpt):
    _save(ckpt, w=np.zeros(4, np.float32))
    mutate_entry(ckpt, b"w", lambda e: _set_shape(e, [2**20, 2**20]))
    with pytest.raises(errors.DataLossError, match="disagrees with shape"):
        tfckpt.load_checkpoint(ckpt).get_tensor("w")


def test_huge_string_shape_is_rejected_without_allocating(ckpt):
    _save(ckpt, s=np.array([b"a", b"b"], dtype=object))
    mutate_entry(ckpt, b"s", lambda e: _set_shape(e, [2**40]))
    with pytest.raises(errors.DataLossError, match="too small"):
        tfckpt.load_checkpoint(ckpt).get_tensor("s")


def test_negative_dimension(ckpt):
    _save(ckpt, w=np.zeros(4, np.float32))
    mutate_entry(ckpt, b"w", lambda e: _set_shape(e, [-4]))
    with pytest.raises(errors.DataLossError, match="negative dimension"):
        tfckpt.load_checkpoint(ckpt).get_tensor("w")


def test_element_count_overflowing_int64(ckpt):
    _save(ckpt, w=np.zeros(4, np.float32))
    mutate_entry(ckpt, b"w", lambda e: _set_shape(e, [2**62, 4]))
    with pytest.raises(errors.DataLossError, match="2\\*\\*63"):
        tfckpt.load_checkpoint(ckpt).get_tensor("w")


def test_rank_above_254(ckpt):
    _save(ckpt, w=np.zeros(1, np.float32))
    mutate_entry(ckpt, b"w", lambda e: _set_shape(e, [1] * 255))
    with pytest.raises(errors.DataLossError, match="rank 255"):
        tfckpt.load_checkpoint(ckpt).get_tensor("w")


def test_offset_past_end_of_data_file(ckpt):
    _save(ckpt, w=np.zeros(4, np.float32))
    mutate_entry(ckpt, b"w", lambda e: setattr(e, "offset", 10**12))
    with pytest.raises(errors.DataLossError, match="past the end") as info:
        tfckpt.load_checkpoint(ckpt).get_tensor("w")
    assert info.value.file.endswith(".data-00000-of-00001")
    assert info.value.key == "w" and info.value.offset == 10**12


def test_negative_offset(ckpt):
    _save(ckpt, w=np.zeros(4, np.float32))
    mutate_entry(ckpt, b"w", lambda e: setattr(e, "offset", -8))
    with pytest.raises(errors.DataLossError, match="negative offset"):
        tfckpt.load_checkpoint(ckpt).get_tensor("w")


def test_size_disagreeing_with_shape_and_dtype(ckpt):
    _save(ckpt, w=np.zeros(4, np.float32))
    mutate_entry(ckpt, b"w", lambda e: setattr(e, "size", 12))
    with pytest.raises(errors.DataLossError, match="disagrees"):
        tfckpt.load_checkpoint(ckpt).get_tensor("w")


def test_unknown_dtype(ckpt):
    _save(ckpt, w=np.zeros(4, np.float32))
    mutate_entry(ckpt, b"w", lambda e: setattr(e, "dtype", 77))
    with pytest.raises(errors.UnimplementedError, match="77"):
        tfckpt.load_checkpoint(ckpt).get_tensor("w")


def test_invalid_dtype_zero(ckpt):
    _save(ckpt, w=np.zeros(4, np.float32))
    mutate_entry(ckpt, b"w", lambda e: setattr(e, "dtype", 0))
    with pytest.raises(errors.DataLossError, match="DT_INVALID"):
        tfckpt.load_checkpoint(ckpt).get_tensor("w")


def test_shard_id_past_shard_count(ckpt):
    _save(ckpt, w=np.zeros(4, np.float32))
    mutate_entry(ckpt, b"w", lambda e: setattr(e, "shard_id", 3))
    with pytest.raises(errors.DataLossError, match="shard_id 3"):
        tfckpt.load_checkpoint(ckpt).get_tensor("w")


def test_missing_data_file(ckpt):
    _save(ckpt, w=np.zeros(4, np.float32))
    os.remove(ckpt + ".data-00000-of-00001")
    with pytest.raises(errors.NotFoundError, match="missing"):
        tfckpt.load_checkpoint(ckpt).get_tensor("w")


def test_truncated_data_file(ckpt):
    _save(ckpt, w=np.zeros(4, np.float32))
    with open(ckpt + ".data-00000-of-00001", "r+b") as f:
        f.truncate(10)
    with pytest.raises(errors.DataLossError, match="past the end"):
        tfckpt.load_checkpoint(ckpt).get_tensor("w")


def test_flipped_data_bit_fails_the_checksum_and_can_be_ignored(ckpt):
    _save(ckpt, w=np.arange(4, dtype=np.float32))
    with open(ckpt + ".data-00000-of-00001", "r+b") as f:
        f.seek(5)
        byte = f.read(1)
        f.seek(5)
        f.write(bytes([byte[0] ^ 0x01]))
    with pytest.raises(errors.DataLossError, match="checksum"):
        tfckpt.load_checkpoint(ckpt).get_tensor("w")
    value = tfckpt.load_checkpoint(ckpt, verify_checksums=False).get_tensor("w")
    assert value.tolist() != [0, 1, 2, 3]


def test_wrong_tensor_checksum(ckpt):
    _save(ckpt, w=np.arange(4, dtype=np.float32))
    mutate_entry(ckpt, b"w", lambda e: setattr(e, "crc32c", e.crc32c ^ 1))
    with pytest.raises(errors.DataLossError, match="checksum"):
        tfckpt.load_checkpoint(ckpt).get_tensor("w")


def test_string_lengths_overrunning_their_entry(ckpt):
    _save(ckpt, s=np.array([b"abc", b"de"], dtype=object))
    mutate_entry(ckpt, b"s", lambda e: setattr(e, "size", 3))
    with pytest.raises(errors.DataLossError, match="string"):
        tfckpt.load_checkpoint(ckpt).get_tensor("s")


def test_string_length_checksum_mismatch(ckpt):
    _save(ckpt, s=np.array([b"abc", b"de"], dtype=object))
    with open(ckpt + ".data-00000-of-00001", "r+b") as f:
        f.write(b"\x04")  # first length 3 -> 4
    with pytest.raises(errors.DataLossError, match="length checksum"):
        tfckpt.load_checkpoint(ckpt).get_tensor("s")


def test_future_version(ckpt):
    _save(ckpt, w=np.zeros(1, np.float32))
    mutate_header(ckpt, lambda h: setattr(h.version, "min_consumer", 2))
    with pytest.raises(errors.InvalidArgumentError, match=">= 2"):
        tfckpt.load_checkpoint(ckpt)


def test_banned_version(ckpt):
    _save(ckpt, w=np.zeros(1, np.float32))
    mutate_header(ckpt, lambda h: h.version.bad_consumers.append(1))
    with pytest.raises(errors.InvalidArgumentError, match="bad consumer"):
        tfckpt.load_checkpoint(ckpt)


def test_header_missing(ckpt):
    _save(ckpt, w=np.zeros(1, np.float32))
    write_index(ckpt, read_index(ckpt)[1:])
    with pytest.raises(errors.DataLossError, match="not the bundle header"):
        tfckpt.load_checkpoint(ckpt)


def test_empty_index(ckpt):
    _save(ckpt, w=np.zeros(1, np.float32))
    write_index(ckpt, [])
    with pytest.raises(errors.DataLossError, match="no entries"):
        tfckpt.load_checkpoint(ckpt)


def test_unparsable_entry(ckpt):
    _save(ckpt, w=np.zeros(1, np.float32))
    items = read_index(ckpt)
    write_index(ckpt, [items[0], (b"w", b"\xff\xff\xff")])
    with pytest.raises(errors.DataLossError, match="BundleEntryProto"):
        tfckpt.load_checkpoint(ckpt).get_tensor("w")


def _partitioned(prefix):
    with tfckpt.BundleWriter(prefix) as writer:
        writer.add_slice("emb", [6, 2], "0,3:-", np.zeros((3, 2), np.float32))
        writer.add_slice("emb", [6, 2], "3,3:-", np.ones((3, 2), np.float32))


def _replace_slices(entry, specs):
    del entry.slices[:]
    for spec in specs:
        TensorSlice.parse(spec).fill_proto(entry.slices.add())


def test_slice_outside_its_tensor(ckpt):
    _partitioned(ckpt)
    mutate_entry(ckpt, b"emb", lambda e: _replace_slices(e, ["0,3:-", "3,9:-"]))
    with pytest.raises(errors.DataLossError, match="outside"):
        tfckpt.load_checkpoint(ckpt).get_tensor("emb")


def test_overlapping_slices(ckpt):
    _partitioned(ckpt)
    mutate_entry(ckpt, b"emb", lambda e: _replace_slices(e, ["0,3:-", "3,3:-", "2,2:-"]))
    with pytest.raises(errors.DataLossError, match="overlap"):
        tfckpt.load_checkpoint(ckpt).get_tensor("emb")


def test_slices_not_covering_the_tensor(ckpt):
    _partitioned(ckpt)
    mutate_entry(ckpt, b"emb", lambda e: _replace_slices(e, ["0,3:-"]))
    with pytest.raises(errors.DataLossError, match="cover"):
        tfckpt.load_checkpoint(ckpt).get_tensor("emb")


def test_slice_data_entry_missing(ckpt):
    _partitioned(ckpt)
    missing = encode_slice_key(b"emb", TensorSlice.parse("3,3:-"))
    write_index(ckpt, [kv for kv in read_index(ckpt) if kv[0] != missing])
    with pytest.raises(errors.DataLossError, match="missing"):
        tfckpt.load_checkpoint(ckpt).get_tensor("emb")


def test_missing_key_and_missing_checkpoint(tmp_path, ckpt):
    _save(ckpt, w=np.zeros(1, np.float32))
    with pytest.raises(errors.NotFoundError) as info:
        tfckpt.load_checkpoint(ckpt).get_tensor("nope")
    assert isinstance(info.value, KeyError)
    with pytest.raises(errors.NotFoundError, match="no checkpoint"):
        tfckpt.load_checkpoint(os.path.join(tmp_path, "absent"))
    with pytest.raises(errors.NotFoundError, match="state file"):
        tfckpt.load_checkpoint(tmp_path)


def test_reading_never_changes_the_files(ckpt):
    _save(ckpt, w=np.arange(3, dtype=np.int64), s=np.array([b"x"], dtype=object))
    paths = [ckpt + ".index", ckpt + ".data-00000-of-00001"]
    before = [(_bytes(p), os.stat(p).st_mtime_ns) for p in paths]
    _read_all(ckpt)
    assert [(_bytes(p), os.stat(p).st_mtime_ns) for p in paths] == before


def test_zero_element_string_tensor_without_its_checksum(ckpt):
    _save(ckpt, s=np.zeros((0,), dtype=object))
    mutate_entry(ckpt, b"s", lambda e: (setattr(e, "size", 0), e.ClearField("crc32c")))
    with pytest.raises(errors.DataLossError, match="checksum"):
        tfckpt.load_checkpoint(ckpt).get_tensor("s")
