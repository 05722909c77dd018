"""The foreign inputs of ``convert`` (``.npz``, ``.safetensors``) keep the readers' contract.

Valid files are written by numpy and by the safetensors library, so the
expected values are theirs; bad files are built by hand from the layouts in
``tfckpt/jobs/foreign.py``.  Every bad file must give one tfckpt error naming
the file (and the key, once a member is known) -- never numpy's, zipfile's or
safetensors' own exception, and never the allocation a header claims.
"""

import os
import zipfile

import numpy as np
import pytest

from tfckpt import errors
from tfckpt.jobs.convert import _FROM_SAFETENSORS, convert
from tfckpt.jobs.foreign import read_npz, read_safetensors


def _npy_bytes(header: str, data: bytes = b"", version: int = 1) -> bytes:
    text = header.encode("latin-1")
    pad = (-(10 + len(text) + 1)) % 64
    body = text + b" " * pad + b"\n"
    size = len(body).to_bytes(2 if version == 1 else 4, "little")
    return b"\x93NUMPY" + bytes([version, 0]) + size + body + data


def _zip(tmp_path, members: dict, compression=zipfile.ZIP_STORED) -> str:
    path = str(tmp_path / "in.npz")
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_npz_written_by_numpy_reads_back_equal(tmp_path):
    expected = {"a": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.asfortranarray(np.eye(3)),
                "c": np.array([True, False]), "empty": np.zeros((0, 5), np.int64)}
    path = str(tmp_path / "m.npz")
    np.savez_compressed(path, **expected)
    got = dict(read_npz(path))
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        assert got[key].dtype == value.dtype and np.array_equal(got[key], value), key


def test_npz_member_claiming_more_than_it_holds_is_refused_before_allocating(tmp_path):
    # 2**40 float64 would be 8 TiB; numpy's own loader allocates that before reading.
    path = _zip(tmp_path, {"w.npy": _npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }",
                                               b"\0" * 16)})
    with pytest.raises(errors.DataLossError, match="needs 8796093022208 bytes") as info:
        list(read_npz(path))
    assert info.value.key == "w" and info.value.file == path


def test_npz_object_array_is_refused_naming_the_key(tmp_path):
    path = str(tmp_path / "o.npz")
    np.savez(path, names=np.array(["a", None], dtype=object))
    with pytest.raises(errors.InvalidArgumentError, match="pickles") as info:
        list(read_npz(path))
    assert info.value.key == "names"


@pytest.mark.parametrize("header", [
    "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }",
    "{'descr': '<f4', 'fortran_order': 'no', 'shape': (2,), }",
    "{'descr': 'nonsense', 'fortran_order': False, 'shape': (2,), }",
    "{'descr': '<f4', 'shape': (2,), }",
    "__import__('os')",
])
def test_npz_bad_header_is_data_loss(tmp_path, header):
    path = _zip(tmp_path, {"x.npy": _npy_bytes(header, b"\0" * 8)})
    with pytest.raises(errors.CheckpointError) as info:
        list(read_npz(path))
    assert info.value.key == "x"


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04 broken", b"not a zip at all" * 10])
def test_npz_that_is_not_a_zip_is_data_loss(tmp_path, data):
    path = tmp_path / "bad.npz"
    path.write_bytes(data)
    with pytest.raises(errors.DataLossError, match="npz"):
        list(read_npz(str(path)))


def test_npz_member_with_a_bad_crc_is_data_loss(tmp_path):
    path = str(tmp_path / "m.npz")
    np.savez(path, w=np.arange(64, dtype=np.int32))
    with open(path, "rb") as handle:
        raw = bytearray(handle.read())
    at = raw.index(b"\x93NUMPY") + 200  # inside the array's bytes, stored uncompressed
    raw[at] ^= 0xFF
    with open(path, "wb") as handle:
        handle.write(bytes(raw))
    with pytest.raises(errors.DataLossError) as info:
        list(read_npz(path))
    assert info.value.key == "w"


def test_safetensors_written_by_the_library_reads_back_equal(tmp_path):
    save = pytest.importorskip("safetensors.numpy", reason="optional extra tfckpt[safetensors]").save
    expected = {"w": np.arange(6, dtype=np.float16).reshape(2, 3), "b": np.array([1, 2], np.int64)}
    path = tmp_path / "m.safetensors"
    path.write_bytes(save(expected))
    got = dict(read_safetensors(str(path), _FROM_SAFETENSORS))
    for key, value in expected.items():
        assert got[key].dtype == value.dtype and np.array_equal(got[key], value), key


@pytest.mark.parametrize("data", [b"", b"\x08\0\0\0\0\0\0\0{}", b"\xff" * 8 + b"{}",
                                  b"\x30\0\0\0\0\0\0\0" + b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'])
def test_safetensors_damage_is_data_loss(tmp_path, data):
    pytest.importorskip("safetensors", reason="optional extra tfckpt[safetensors]")
    path = tmp_path / "bad.safetensors"
    path.write_bytes(data)
    with pytest.raises(errors.DataLossError) as info:
        list(read_safetensors(str(path), _FROM_SAFETENSORS))
    assert info.value.file == str(path)


def test_convert_from_a_damaged_npz_leaves_no_checkpoint(tmp_path):
    src = _zip(tmp_path, {"w.npy": _npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", b"\0" * 3)})
    with pytest.raises(errors.DataLossError):
        convert(src, tmp_path / "out" / "ckpt")
    assert not (tmp_path / "out" / "ckpt.index").exists()


def test_npz_member_with_trailing_bytes_is_refused_not_truncated(tmp_path):
    path = _zip(tmp_path, {"x.npy": _npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }",
                                               b"\1\0\0\0extra")})
    with pytest.raises(errors.DataLossError, match="needs 4 bytes, the member holds 9"):
        list(read_npz(path))


def test_npz_whose_directory_claims_an_unknown_zip_version_is_data_loss():
    # Found by the fuzzing campaign (tests/fuzz/reports/foreign-inputs.md): zipfile raised its
    # NotImplementedError ("zip file version 23.5") out of ZipFile() itself.
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz", "corpus", "npz_input", "regression-zip-version")
    with pytest.raises(errors.DataLossError, match="not a valid .npz"):
        list(read_npz(path))
