"""Our generated protobuf modules: current, and never in TensorFlow's namespace."""

import filecmp
import glob
import os
import subprocess
import sys

import pytest

import tfckpt
from tfckpt.proto import tensor_bundle_pb2

REFERENCE = os.path.join(os.path.dirname(__file__), os.pardir, "reference")
PROTO_DIR = os.path.join(REFERENCE, "tfckpt", "proto")


def test_generated_modules_are_current(tmp_path):
    # Capability: regenerating needs grpcio-tools (pinned in tox's py env, where this always runs).
    pytest.importorskip("grpc_tools", reason="grpcio-tools is not installed (tox -e py installs it)")
    protos = sorted(glob.glob(os.path.join(PROTO_DIR, "*.proto")))
    rel = [os.path.relpath(p, REFERENCE) for p in protos]
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", REFERENCE, f"--python_out={tmp_path}", f"--pyi_out={tmp_path}", *rel],
        check=True,
    )
    for proto in protos:
        stem = os.path.basename(proto)[: -len(".proto")]
        for suffix in ("_pb2.py", "_pb2.pyi"):
            fresh = os.path.join(tmp_path, "tfckpt", "proto", stem + suffix)
            committed = os.path.join(PROTO_DIR, stem + suffix)
            assert filecmp.cmp(fresh, committed, shallow=False), f"{stem}{suffix} is stale: run `tox -e protos`"


def test_no_tensorflow_names_in_the_default_pool():
    from google.protobuf import descriptor_pool

    pool = descriptor_pool.Default()
    for name in ("tensorflow.BundleEntryProto", "tensorflow.CheckpointState", "tensorflow.DataType"):
        try:
            pool.FindMessageTypeByName(name)
        except KeyError:
            continue
        # TensorFlow itself may be imported in this process; then the name is its own, not ours.
        assert "tensorflow" in sys.modules, f"{name} registered without TensorFlow"
    assert tensor_bundle_pb2.BundleEntryProto.DESCRIPTOR.full_name == "tfckpt.proto.BundleEntryProto"
    assert tfckpt.__version__


def test_field_numbers_match_tensorflow():
    # Independent statement of TensorFlow's numbers (tensorflow/core/protobuf/tensor_bundle.proto).
    fields = {f.name: f.number for f in tensor_bundle_pb2.BundleEntryProto.DESCRIPTOR.fields}
    assert fields == {"dtype": 1, "shape": 2, "shard_id": 3, "offset": 4, "size": 5, "crc32c": 6, "slices": 7}
    header = {f.name: f.number for f in tensor_bundle_pb2.BundleHeaderProto.DESCRIPTOR.fields}
    assert header == {"num_shards": 1, "endianness": 2, "version": 3}
