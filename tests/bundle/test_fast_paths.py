"""Fast paths of reading and writing give exactly what the plain paths give.

* small tensors served from the per-shard read-ahead window equal the ones
  read with one positioned read each (the window switched off);
* ``read_many`` (threads) equals one ``read`` per key;
* ``save_sharded`` with threads writes the same bytes as without.

Inputs are random (hypothesis); the expected side is the plain path, and the
written arrays themselves, so a wrong window offset or a lost update fails.
"""

import os
import tempfile
from unittest import mock

import numpy as np
from hypothesis import given, settings, strategies as st

import tfckpt
from tfckpt.bundle import reader as bundle_reader
from tfckpt.bundle.merge import save_sharded

DTYPES = [np.float32, np.int64, np.uint8, np.float64, np.int16, np.bool_]

tensors = st.lists(
    st.tuples(
        st.sampled_from(DTYPES),
        st.lists(st.integers(0, 40), min_size=0, max_size=3),
        st.integers(0, 2**32 - 1),
    ),
    min_size=1,
    max_size=40,
)


def _arrays(spec):
    out = {}
    for i, (dtype, shape, seed) in enumerate(spec):
        rng = np.random.default_rng(seed)
        raw = rng.integers(0, 256, size=int(np.prod(shape)) * np.dtype(dtype).itemsize, dtype=np.uint8)
        value = raw.view(dtype).reshape(shape) if dtype is not np.bool_ else (raw % 2).astype(bool).reshape(shape)
        out[f"t/{i:03d}"] = value
    return out


def _contents(path):
    with open(path, "rb") as handle:
        return handle.read()


def _same(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


@settings(max_examples=40, deadline=None)
@given(tensors, st.integers(1, 4096))
def test_windowed_small_reads_equal_plain_reads(spec, window):
    arrays = _arrays(spec)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "ckpt")
        tfckpt.save(prefix, arrays, sync=False)
        with mock.patch.object(bundle_reader, "_WINDOW", window):
            with tfckpt.load_checkpoint(prefix) as reader:
                order = list(arrays)[::-1] + list(arrays)  # backwards, then forwards: the window moves
                windowed = [reader.get_tensor(k) for k in order]
        with mock.patch.object(bundle_reader, "_WINDOWED_MAX", -1):
            with tfckpt.load_checkpoint(prefix) as reader:
                plain = [reader.get_tensor(k) for k in order]
    for key, a, b in zip(order, windowed, plain):
        _same(a, b)
        _same(a, arrays[key])


@settings(max_examples=15, deadline=None)
@given(tensors, st.integers(1, 4))
def test_read_many_equals_read(spec, threads):
    arrays = _arrays(spec)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "ckpt")
        tfckpt.save(prefix, arrays, sync=False)
        with mock.patch.object(bundle_reader, "_PARALLEL_MIN_BYTES", 0):
            with tfckpt.load_checkpoint(prefix) as reader:
                got = reader.get_tensors(arrays, threads=threads)
    assert list(got) == list(arrays)
    for key in arrays:
        _same(got[key], arrays[key])


@settings(max_examples=10, deadline=None)
@given(st.lists(tensors, min_size=2, max_size=5))
def test_threaded_sharded_save_writes_the_same_bytes(shard_specs):
    shards = []
    for n, spec in enumerate(shard_specs):
        shards.append({f"s{n}/{k}": v for k, v in _arrays(spec).items()})
    with tempfile.TemporaryDirectory() as tmp:
        outputs = {}
        for threads in (1, 4):
            prefix = os.path.join(tmp, f"t{threads}", "ckpt")
            save_sharded(prefix, shards, threads=threads)
            directory = os.path.dirname(prefix)
            outputs[threads] = {name: _contents(os.path.join(directory, name)) for name in sorted(os.listdir(directory))}
        assert outputs[1] == outputs[4]
        with tfckpt.load_checkpoint(os.path.join(tmp, "t4", "ckpt")) as reader:
            for shard in shards:
                for key, value in shard.items():
                    _same(reader.get_tensor(key), value)
