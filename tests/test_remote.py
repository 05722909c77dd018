"""Reading through fsspec URLs (tfckpt/storage.py, spec/storage.md STORE-*; issue 12 point 6).

A real HTTP server on localhost that honours Range requests (the suite's RangeServer)
serves the TensorFlow-written fixtures; fsspec's memory file system holds copies. Values
are compared with the same fixtures read from disk, and the server's counters show what
a read costs: opening reads the index once, get_tensor exactly the tensor's bytes.
"""

import os

import numpy as np
import pytest

import tfckpt
from tfckpt import errors

fsspec = pytest.importorskip("fsspec", reason="optional extra tfckpt[remote]")
pytest.importorskip("aiohttp", reason="optional extra tfckpt[remote] (fsspec's http transport)")

from tfckpt_conformance.range_server import RangeServer  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "tf-2.21.0")
MIXED = "writer-mixed-dtypes"


@pytest.fixture(scope="module")
def server():
    with RangeServer(FIXTURES) as running:
        yield running


@pytest.fixture(scope="module")
def memory():
    fs = fsspec.filesystem("memory")
    for case in (MIXED, "tf2-checkpoint-manager", "tf1-saver-v1-sharded", "tf1-saver-sharded-devices", "partitioned-axis0"):
        for root, _, files in os.walk(os.path.join(FIXTURES, case)):
            for name in files:
                local = os.path.join(root, name)
                with open(local, "rb") as f:
                    fs.pipe("/fx/" + os.path.relpath(local, FIXTURES), f.read())
    return "memory://fx"


def _same_as_local(url: str, local: str) -> None:
    with tfckpt.load_checkpoint(local) as want, tfckpt.load_checkpoint(url) as got:
        assert got.get_variable_to_shape_map() == want.get_variable_to_shape_map()
        for key in want.keys():
            a, b = want.get_tensor(key), got.get_tensor(key)
            assert a.dtype == b.dtype and a.shape == b.shape
            assert a.tobytes() == b.tobytes() if a.dtype != object else list(a.ravel()) == list(b.ravel())


def test_http_reads_equal_local_reads(server):
    _same_as_local(server.url(f"{MIXED}/ckpt"), os.path.join(FIXTURES, MIXED, "ckpt"))


def test_http_get_tensor_fetches_only_its_bytes(server):
    index = os.path.getsize(os.path.join(FIXTURES, MIXED, "ckpt.index"))
    server.reset()
    reader = tfckpt.load_checkpoint(server.url(f"{MIXED}/ckpt"))
    assert server.bytes_sent == index  # the index, read once, in pieces
    with tfckpt.load_checkpoint(os.path.join(FIXTURES, MIXED, "ckpt")) as local:
        entry = local.entry("z/last")
    server.reset()
    reader.get_tensor("z/last")
    assert server.bytes_sent == entry.size  # no read-ahead window over the network
    reader.close()


def test_state_file_directory_over_http_and_memory(server, memory):
    local = os.path.join(FIXTURES, "tf2-checkpoint-manager", "run")
    want = os.path.basename(tfckpt.latest_checkpoint(local))
    for base in (server.url("tf2-checkpoint-manager/run"), memory + "/tf2-checkpoint-manager/run"):
        latest = tfckpt.latest_checkpoint(base)
        assert latest == base + "/" + want
        _same_as_local(base, local)


def test_memory_reads_v1_shard_patterns_partitions_and_shards(memory):
    for case, prefix in (("tf1-saver-v1-sharded", "model.ckpt-7-?????-of-00003"), ("partitioned-axis0", "model.ckpt"),
                         ("tf1-saver-sharded-devices", "model.ckpt-42")):
        if not os.path.isdir(os.path.join(FIXTURES, case)):
            pytest.fail(f"fixture {case} is missing")
        _same_as_local(f"{memory}/{case}/{prefix}", os.path.join(FIXTURES, case, prefix))


def test_file_urls_are_local_paths():
    _same_as_local("file://" + os.path.join(FIXTURES, MIXED, "ckpt"), os.path.join(FIXTURES, MIXED, "ckpt"))


def test_remote_failures_are_tfckpt_errors(server):
    with pytest.raises(errors.FileNotFound):
        tfckpt.load_checkpoint(server.url("no-such-case/ckpt"))
    with pytest.raises(errors.UnavailableError) as info:
        tfckpt.load_checkpoint("http://127.0.0.1:9/x/ckpt")  # the discard port: nothing listens
    assert info.value.file == "http://127.0.0.1:9/x/ckpt"
