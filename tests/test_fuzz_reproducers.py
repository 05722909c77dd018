"""Regression tests for what an outside fuzzing campaign found (issue: reliability), minimised.

Each input is built here from its description in the report, so the test states the
input's shape rather than pasting bytes: a zero-element shape whose other dimensions
no array can address, and frozen-graph constants that claim billions of elements
from a few hundred bytes (SEC-10, SEC-11).
"""

import tracemalloc

import numpy as np
import pytest

import tfckpt
from tfckpt import errors
from tfckpt.graph import meta_graph
from tfckpt.proto import graph_pb2, tensor_pb2

from index_surgery import mutate_entry


@pytest.mark.parametrize("dims", [[2**62, 0, 3], [2**62, 0], [0, 2**40, 2**40], [2**31, 2**31, 0]])
def test_zero_element_shape_past_numpy_is_invalid_argument_naming_key_and_shape(tmp_path, dims):
    """SEC-10: TensorFlow's C++ reader takes it as empty; numpy cannot build it; we say so."""
    prefix = str(tmp_path / "ckpt")
    tfckpt.save(prefix, {"w": np.zeros(0, np.float32)})

    def change(entry):
        del entry.shape.dim[:]
        for d in dims:
            entry.shape.dim.add().size = d

    mutate_entry(prefix, b"w", change)
    with tfckpt.load_checkpoint(prefix) as reader:
        with pytest.raises(errors.InvalidArgumentError) as caught:
            reader.get_tensor("w")
    message = str(caught.value)
    assert "'w'" in message and str(dims[0]) in message and "ckpt.index" in message


def _const(dims, values=(), dtype=1, field="float_val"):
    proto = tensor_pb2.TensorProto(dtype=dtype)
    for d in dims:
        proto.tensor_shape.dim.add().size = d
    getattr(proto, field).extend(values)
    return proto


def test_one_repeated_value_is_a_view_not_an_allocation():
    """SEC-11: ``[3, 2**26]`` float32 from one value: a read-only broadcast view, no 800 MB."""
    proto = _const([3, 2**26], [1.5])
    assert proto.ByteSize() < 30
    tracemalloc.start()
    value = meta_graph.tensor_proto_to_array(proto, name="c")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1 << 20
    assert value.shape == (3, 2**26) and value.dtype == np.float32
    assert value[2, 2**26 - 1] == 1.5 and not value.flags.writeable
    huge = meta_graph.tensor_proto_to_array(_const([3, 2**40], []), name="c")  # no value: zeros
    assert huge.shape == (3, 2**40) and huge[0, 0] == 0


def test_a_shape_no_array_can_address_is_invalid_argument():
    with pytest.raises(errors.InvalidArgumentError, match="cannot be represented"):
        meta_graph.tensor_proto_to_array(_const([2**62], [1.0]), name="c")
    with pytest.raises(errors.InvalidArgumentError, match="cannot be represented"):
        meta_graph.tensor_proto_to_array(_const([2**62, 0], []), name="c")


def test_several_values_expanded_past_the_limit_are_refused_with_the_way_out():
    """SEC-11: two values repeated to 800 MB must be materialised; refused unless allowed."""
    proto = _const([3, 2**26], [1.0, 2.0])
    with pytest.raises(errors.ResourceExhaustedError, match="max_expanded_bytes") as caught:
        meta_graph.tensor_proto_to_array(proto, name="big")
    assert caught.value.key == "big"
    small = _const([4, 1024], [1.0, 2.0])
    with pytest.raises(errors.ResourceExhaustedError):
        meta_graph.tensor_proto_to_array(small, name="s", max_expanded_bytes=1000)
    value = meta_graph.tensor_proto_to_array(small, name="s", max_expanded_bytes=16384)
    assert value[0, 0] == 1.0 and value[0, 1] == 2.0 and value[3, 1023] == 2.0


def test_graph_constants_of_a_few_hundred_bytes_stay_cheap():
    graph = graph_pb2.GraphDef()
    for i, dims in enumerate(([3, 2**26], [3, 2**40], [2**20, 2**20])):
        node = graph.node.add(name=f"c{i}", op="Const")
        node.attr["value"].tensor.CopyFrom(_const(dims, [0.5]))
    assert graph.ByteSize() < 473
    tracemalloc.start()
    constants = meta_graph.graph_constants(graph)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1 << 20 and constants["c1"].shape == (3, 2**40)


def test_repeated_strings_are_a_view_too():
    proto = _const([2**30], [b"x"], dtype=7, field="string_val")
    value = meta_graph.tensor_proto_to_array(proto, name="s")
    assert value.shape == (2**30,) and value[-1] == b"x"


def test_state_file_naming_a_path_with_a_nul_byte_resolves_to_nothing(tmp_path):
    """Found by tox -e fuzz (state_file): glob's ValueError escaped latest_checkpoint."""
    (tmp_path / "checkpoint").write_bytes(b'model_checkpoint_path: "ckpt\\000-1"\n')
    assert tfckpt.latest_checkpoint(str(tmp_path)) is None
    assert not tfckpt.checkpoint_exists(str(tmp_path / "ckpt\0-1"))


def test_complex_constant_with_an_odd_number_of_parts_is_data_loss():
    """Found by tox -e fuzz (graph_def): numpy's view ValueError escaped tensor_proto_to_array."""
    proto = _const([2], [1.0, 2.0, 3.0], dtype=8, field="scomplex_val")
    with pytest.raises(errors.DataLossError, match="pairs"):
        meta_graph.tensor_proto_to_array(proto, name="z")
    pairs = meta_graph.tensor_proto_to_array(_const([2], [1.0, 2.0, 3.0, 4.0], dtype=8, field="scomplex_val"), name="z")
    assert pairs.tolist() == [1 + 2j, 3 + 4j]


def _replying(reply):
    """A ``replytest://`` fsspec file system holding what memory:// holds, whose ranged reads
    return ``reply(bytes asked for)`` -- a server that ignores Range, or a file system that
    returns another type than bytes."""
    fsspec = pytest.importorskip("fsspec", reason="optional extra tfckpt[remote]")
    from fsspec.implementations.memory import MemoryFileSystem

    class Replying(MemoryFileSystem):
        protocol = ("replytest",)
        store: dict = {}
        pseudo_dirs = [""]

        @classmethod
        def _strip_protocol(cls, path):
            return super()._strip_protocol(path.replace("replytest://", "memory://", 1))

        def cat_file(self, path, start=None, end=None, **kwargs):
            data = super().cat_file(path, start, end, **kwargs)
            return reply(data) if path.endswith(".data-00000-of-00001") else data

    fsspec.register_implementation("replytest", Replying, clobber=True)
    return Replying()


def _served(tmp_path, fs) -> str:
    tfckpt.save(str(tmp_path / "ckpt"), {"w": np.arange(6, dtype=np.float32)})
    for name in ("ckpt.index", "ckpt.data-00000-of-00001"):
        fs.pipe_file(f"/d/{name}", (tmp_path / name).read_bytes())
    return "replytest://d/ckpt"


@pytest.mark.parametrize("reply,expected", [(lambda data: data + b"\0" * 5, "returned 29 bytes for a read of 24"),
                                            (lambda data: data.decode("latin-1"), "returned str, not bytes")])
def test_a_remote_reply_longer_than_asked_or_not_bytes_is_unavailable(tmp_path, reply, expected):
    """Found by tox -e fuzz (remote): more bytes than the range asked for raised memoryview's
    ValueError in get_tensor; a str reply a TypeError."""
    url = _served(tmp_path, _replying(reply))
    with tfckpt.load_checkpoint(url) as reader:
        with pytest.raises(errors.UnavailableError, match=expected) as caught:
            reader.get_tensor("w")
    assert caught.value.file == url + ".data-00000-of-00001" and caught.value.offset == 0


def test_a_remote_bytearray_reply_is_read_as_bytes(tmp_path):
    url = _served(tmp_path, _replying(bytearray))
    with tfckpt.load_checkpoint(url) as reader:
        assert reader.get_tensor("w").tolist() == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("dims,values,error", [([3, 2**26], [0.5], None), ([3, 2**40], [], None),
                                               ([2**62, 0], [], errors.InvalidArgumentError),
                                               ([3, 2**26], [0.5, 1.5], errors.ResourceExhaustedError)])
def test_a_frozen_pb_file_of_a_few_hundred_bytes_claiming_billions(tmp_path, dims, values, error):
    """The issue's case end to end: the .pb file on disk, read with read_graph_def, every Const
    through graph_constants: a view, or an error naming the node -- never gigabytes."""
    graph = graph_pb2.GraphDef()
    graph.node.add(name="x", op="Placeholder").attr["dtype"].type = 1
    node = graph.node.add(name="big", op="Const")
    node.attr["dtype"].type = 1
    node.attr["value"].tensor.CopyFrom(_const(dims, values))
    path = tmp_path / "frozen.pb"
    path.write_bytes(graph.SerializeToString())
    assert path.stat().st_size < 473
    tracemalloc.start()
    try:
        if error is None:
            constant = meta_graph.graph_constants(meta_graph.read_graph_def(str(path)))["big"]
            assert constant.shape == tuple(dims) and not constant.flags.writeable
        else:
            with pytest.raises(error) as caught:
                meta_graph.graph_constants(meta_graph.read_graph_def(str(path)))
            assert caught.value.key == "big"
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
