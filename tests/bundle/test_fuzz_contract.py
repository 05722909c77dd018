"""The fuzz contract: any bytes either read fine or raise a tfckpt error -- nothing else.

A valid checkpoint (several dtypes, strings, a partitioned tensor) is
corrupted at random -- truncated, bytes flipped, bytes inserted -- in its
index or its data file, and then read completely.  Whatever happens must be a
value or a :class:`tfckpt.errors.CheckpointError`: never IndexError,
struct.error, DecodeError, UnicodeDecodeError, MemoryError, a crash or a hang.
"""

import os
import shutil
import tempfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tfckpt
from tfckpt import errors

_TEMPLATE = tempfile.mkdtemp(prefix="tfckpt-fuzz-template-")
_PREFIX = os.path.join(_TEMPLATE, "ckpt")
with tfckpt.BundleWriter(_PREFIX) as _writer:
    _writer.add("f", np.arange(6, dtype=np.float32).reshape(2, 3))
    _writer.add("s", np.array([b"", b"abc", b"x" * 130], dtype=object))
    _writer.add("scalar", np.int64(7))
    _writer.add_slice("p", [4, 2], "0,2:-", np.zeros((2, 2), np.float16))
    _writer.add_slice("p", [4, 2], "2,2:-", np.ones((2, 2), np.float16))


def _load(path):
    with open(path, "rb") as handle:
        return handle.read()


_FILES = {suffix: _load(_PREFIX + suffix) for suffix in (".index", ".data-00000-of-00001")}


def _read_everything(prefix):
    with tfckpt.load_checkpoint(prefix) as reader:
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
        reader.get_variable_to_dtype_map()


mutation = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 10**6)),
    st.tuples(st.just("flip"), st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=4)),
    st.tuples(st.just("insert"), st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=8))),
)


def _apply(data: bytes, change) -> bytes:
    kind, arg = change
    if kind == "truncate":
        return data[: arg % (len(data) + 1)]
    if kind == "flip":
        out = bytearray(data)
        for position, xor in arg:
            if out:
                out[position % len(out)] ^= xor
        return bytes(out)
    position, extra = arg
    position %= len(data) + 1
    return data[:position] + extra + data[position:]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(_FILES)), mutation)
def test_corrupted_checkpoints_read_or_raise_tfckpt_errors(suffix, change):
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "ckpt")
        for name, data in _FILES.items():
            with open(prefix + name, "wb") as handle:
                handle.write(_apply(data, change) if name == suffix else data)
        try:
            _read_everything(prefix)
        except errors.CheckpointError:
            pass


def teardown_module():
    shutil.rmtree(_TEMPLATE, ignore_errors=True)
