"""Variant tensors (spec/data-file.md DATA-10, DATA-11; security.md SEC-8) in the reference's data layer.

The bytes come from TensorFlow: the golden fixture dtype-variant-tensorlist holds a scalar
TensorList written by TensorFlow 2.21; every corruption below starts from those bytes.
"""

from __future__ import annotations

import os

import pytest

from tfckpt import checksums, errors, load_checkpoint
from tfckpt.bundle import data_layout
from tfckpt.encoding import encode_varint

CASE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    "fixtures", "tf-2.21.0", "dtype-variant-tensorlist")


@pytest.fixture(scope="module")
def golden():
    with load_checkpoint(os.path.join(CASE, "ckpt")) as reader:
        entry = reader.entry("list")
    with open(os.path.join(CASE, "ckpt.data-00000-of-00001"), "rb") as f:
        f.seek(entry.offset)
        return f.read(entry.size), entry.crc32c


def _decode(buffer, crc, count=1, verify=True):
    return data_layout.decode_variants(buffer, count, big_endian=False, verify=verify, expected_masked_crc=crc)


def test_golden_element_is_a_tensorlist(golden):
    buffer, crc = golden
    (element,) = _decode(buffer, crc)
    assert b"tensorflow::TensorList" in element
    with load_checkpoint(os.path.join(CASE, "ckpt")) as reader:
        assert reader.get_tensor("list").item().type_name == "tensorflow::TensorList"


def _rebuilt(proto: bytes) -> tuple[bytes, int]:
    """One element laid out by DATA-10's rule: length, bytes, running checksum."""
    length = encode_varint(len(proto))
    crc = checksums.extend(checksums.extend(0, len(proto).to_bytes(8, "little")), proto)
    stored = checksums.mask(crc).to_bytes(4, "little")
    return length + proto + stored, checksums.mask(checksums.extend(crc, stored))


def test_layout_rule_reproduces_tensorflows_bytes(golden):
    buffer, crc = golden
    (element,) = _decode(buffer, crc)
    assert _rebuilt(element) == (buffer, crc)


def test_element_checksum_is_checked_even_without_verification(golden):
    buffer, crc = golden
    broken = buffer[:-1] + bytes([buffer[-1] ^ 1])
    with pytest.raises(data_layout.StringLayoutError, match="after variant element 0"):
        _decode(broken, crc, verify=False)


def test_entry_checksum_is_checked_when_verifying(golden):
    buffer, crc = golden
    with pytest.raises(data_layout.StringLayoutError, match="tensor checksum"):
        _decode(buffer, crc ^ 1)
    assert _decode(buffer, crc ^ 1, verify=False)


@pytest.mark.parametrize("extra, count, match", [(b"\x00", 1, "left over"), (b"", 100, "cannot fit"),
                                                  (b"", 2, "element 1"), (b"\x03abc", 2, "element 1"),
                                                  (b"\x00" * 10, 2, "checksum after variant element 1")])
def test_lengths_and_counts_must_add_up(golden, extra, count, match):
    buffer, crc = golden
    with pytest.raises(data_layout.StringLayoutError, match=match):
        _decode(buffer + extra, crc, count=count, verify=False)


def test_deep_nesting_is_refused_by_the_parser_bound(tmp_path, golden):
    """SEC-8: a VariantTensorDataProto nested through tensors[0].variant_val 200 deep is DATA_LOSS."""
    from tfckpt.proto import tensor_pb2
    from tfckpt import save

    inner = tensor_pb2.VariantTensorDataProto(type_name="tensorflow::TensorList")
    for _ in range(200):
        outer = tensor_pb2.VariantTensorDataProto(type_name="tensorflow::TensorList")
        tensor = outer.tensors.add(dtype=21)
        tensor.tensor_shape.SetInParent()
        tensor.variant_val.add().CopyFrom(inner)
        inner = outer
    # The deep element parses neither here nor in TensorFlow (protobuf's recursion limit of 100).
    element, crc = _rebuilt(inner.SerializeToString())
    assert data_layout.decode_variants(element, 1, big_endian=False, verify=True, expected_masked_crc=crc)
    prefix = str(tmp_path / "ckpt")
    save(prefix, {"x": __import__("numpy").zeros(1, "float32")})
    with open(prefix + ".data-00000-of-00001", "ab") as f:
        f.write(element)
    from tfckpt.bundle.reader import BundleReader
    from tfckpt.bundle.writer import write_index_temp
    from tfckpt.proto import tensor_bundle_pb2

    with BundleReader(prefix) as reader:
        entries = {e.key: e.proto for e in reader.iter_entries()}
    entry = tensor_bundle_pb2.BundleEntryProto(dtype=21, offset=4, size=len(element), crc32c=crc)
    entry.shape.SetInParent()
    entries[b"v"] = entry
    header = tensor_bundle_pb2.BundleHeaderProto(num_shards=1)
    header.version.producer = 1
    os.replace(write_index_temp(prefix + ".index", header, entries), prefix + ".index")
    with load_checkpoint(prefix) as reader, pytest.raises(errors.DataLossError, match="not a VariantTensorDataProto"):
        reader.get_tensor("v")
