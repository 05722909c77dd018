"""OrderedCode and slice keys (spec: partitioned.md)."""

from hypothesis import given
from hypothesis import strategies as st

from tfckpt.bundle import ordered_code
from tfckpt.bundle.slices import TensorSlice, decode_slice_key, encode_slice_key

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def test_slice_key_seen_in_a_tensorflow_index():
    # Bytes copied from an .index TensorFlow 2.21 wrote for SaveV2 of "emb" with
    # shape_and_slices "10 4 0,6:-" (a whole dimension is start 0, length -1).
    assert encode_slice_key(b"emb", TensorSlice.parse("0,6:-")) == bytes.fromhex("00656d6200010102808680" "7f")
    assert encode_slice_key(b"emb", TensorSlice.parse("6,4:-")) == bytes.fromhex("00656d620001010286" "84807f")


def test_signed_encoding_boundaries():
    # n bytes hold [-2**(7n-1), 2**(7n-1)); the first bits count the extra bytes.
    assert ordered_code.write_signed_num_increasing(0) == b"\x80"
    assert ordered_code.write_signed_num_increasing(63) == b"\xbf"
    assert ordered_code.write_signed_num_increasing(64) == b"\xc0\x40"
    assert ordered_code.write_signed_num_increasing(-1) == b"\x7f"
    assert ordered_code.write_signed_num_increasing(-64) == b"\x40"
    assert ordered_code.write_signed_num_increasing(-65) == b"\x3f\xbf"
    assert ordered_code.write_signed_num_increasing(8191) == b"\xdf\xff"
    assert ordered_code.write_signed_num_increasing(8192) == b"\xe0\x20\x00"
    assert len(ordered_code.write_signed_num_increasing(2**63 - 1)) == 10


def test_unsigned_and_string_encodings():
    assert ordered_code.write_num_increasing(0) == b"\x00"
    assert ordered_code.write_num_increasing(256) == b"\x02\x01\x00"
    assert ordered_code.write_string(b"a\x00b\xff") == b"a\x00\xffb\xff\x00\x00\x01"


@given(INT64, INT64)
def test_signed_encoding_preserves_order_and_round_trips(a, b):
    ea, eb = ordered_code.write_signed_num_increasing(a), ordered_code.write_signed_num_increasing(b)
    assert (ea < eb) == (a < b)
    assert ordered_code.read_signed_num_increasing(ea + b"tail", 0) == (a, len(ea))


@given(st.binary(), st.binary())
def test_string_encoding_preserves_order_and_round_trips(a, b):
    ea, eb = ordered_code.write_string(a), ordered_code.write_string(b)
    assert (ea < eb) == (a < b)
    assert ordered_code.read_string(ea + b"\x00\x01", 0) == (a, len(ea))


@given(
    st.binary(min_size=1, max_size=20),
    st.lists(st.one_of(st.none(), st.tuples(st.integers(0, 2**40), st.integers(1, 2**40))), min_size=1, max_size=6),
)
def test_slice_keys_round_trip(name, extents):
    tensor_slice = TensorSlice(tuple((0, -1) if e is None else e for e in extents))
    assert decode_slice_key(encode_slice_key(name, tensor_slice)) == (name, tensor_slice)


def test_slice_text_syntax():
    s = TensorSlice.parse("0,5:-:2,3")
    assert s.extents == ((0, 5), (0, -1), (2, 3))
    assert s.to_string() == "0,5:-:2,3"
    assert s.shape_in((10, 4, 8)) == (5, 4, 3)
    for bad in ("0,0", "-1,2", "1", "a,b", "0,1,2"):
        try:
            TensorSlice.parse(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} parsed")
