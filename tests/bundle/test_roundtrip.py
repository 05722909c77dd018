"""Property tests: whatever the writer writes, the reader reads back bit for bit."""

import os
import tempfile

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tfckpt
from tfckpt.dtypes import ALL_DTYPES

WRITABLE = [d for d in ALL_DTYPES if d.is_memcpy]
SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)
KEYS = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12
)


@st.composite
def numeric_tensors(draw):
    dtype = draw(st.sampled_from(WRITABLE))
    shape = draw(SHAPES)
    count = int(np.prod(shape)) if shape else 1
    raw = draw(st.binary(min_size=count * dtype.itemsize, max_size=count * dtype.itemsize))
    return dtype, np.frombuffer(bytearray(raw), dtype=dtype.numpy_dtype).reshape(shape)


@st.composite
def string_tensors(draw):
    shape = draw(SHAPES)
    count = int(np.prod(shape)) if shape else 1
    elements = draw(st.lists(st.one_of(st.binary(max_size=40), st.text(max_size=10).map(str.encode),
                                       st.binary(min_size=126, max_size=130)),
                             min_size=count, max_size=count))
    array = np.empty(count, dtype=object)
    array[:] = elements
    return tfckpt.as_dtype("string"), array.reshape(shape)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(KEYS, st.one_of(numeric_tensors(), string_tensors()), min_size=1, max_size=6))
def test_every_dtype_round_trips(tensors):
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "ckpt")
        with tfckpt.BundleWriter(prefix) as writer:
            for key, (dtype, value) in tensors.items():
                writer.add(key, value, dtype=dtype.name)
        with tfckpt.load_checkpoint(prefix) as reader:
            dtypes = reader.get_variable_to_dtype_map()
            shapes = reader.get_variable_to_shape_map()
            assert set(dtypes) == set(tensors)
            for key, (dtype, value) in tensors.items():
                assert dtypes[key].name == dtype.name
                assert shapes[key] == list(value.shape)
                got = reader.get_tensor(key)
                assert got.shape == value.shape
                if dtype.name == "string":
                    assert got.tolist() == value.tolist()
                else:
                    assert got.dtype == value.dtype
                    assert got.tobytes() == value.tobytes()  # bitwise: NaN payloads, -0.0


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 3).flatmap(lambda rank: st.tuples(
        st.lists(st.integers(1, 6), min_size=rank, max_size=rank),
        st.integers(0, rank - 1),
        st.integers(1, 4))),
    st.sampled_from(["float32", "int64", "string", "bfloat16"]),
)
def test_partitioned_tensors_round_trip(layout, dtype_name):
    shape, axis, parts = layout
    parts = min(parts, shape[axis])
    full = np.arange(int(np.prod(shape))).reshape(shape)
    if dtype_name == "string":
        value = np.array([str(x).encode() for x in full.reshape(-1)], dtype=object).reshape(shape)
    else:
        value = full.astype(tfckpt.as_dtype(dtype_name).numpy_dtype)
    bounds = np.linspace(0, shape[axis], parts + 1).astype(int)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "ckpt")
        with tfckpt.BundleWriter(prefix) as writer:
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                spec = ":".join(f"{lo},{hi - lo}" if d == axis else f"0,{n}" for d, n in enumerate(shape))
                index = tuple(slice(lo, hi) if d == axis else slice(None) for d in range(len(shape)))
                writer.add_slice("t/part", shape, spec, value[index])
        with tfckpt.load_checkpoint(prefix) as reader:
            assert reader.get_variable_to_shape_map() == {"t/part": list(shape)}
            got = reader.get_tensor("t/part")
            assert got.tolist() == value.tolist()
            window = ":".join("0,1" if d == axis else "-" for d in range(len(shape)))
            assert reader.get_slice("t/part", window).tolist() == value[tuple(
                slice(0, 1) if d == axis else slice(None) for d in range(len(shape)))].tolist()
