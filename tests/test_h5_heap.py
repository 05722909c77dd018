"""The global heap check under a variable-length string attribute (tfckpt/objects/h5_heap.py).

The files are written by h5py (what Keras uses) and then damaged one way each, in the
bytes the HDF5 File Format Specification describes: the collection ("GCOL"), one of its
objects, or the heap ID in the attribute.  A damaged one must be a DataLossError naming
file, attribute and offset -- raised before the HDF5 library follows the ID, since the
library bundled with h5py loops forever on the first defect (the fuzz finding of
tests/fuzz/reports/weights-h5-finding.md).  The reads that could hang run in a child
process, so that a regression fails the test instead of stopping the run.
"""

import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

from tfckpt import errors  # noqa: E402
from tfckpt.objects.keras_h5 import load_keras_weights  # noqa: E402

NAME = "sequential"


def _write(path, **options) -> bytes:
    with h5py.File(path, "w", **options) as f:
        f.create_group("vars").attrs["name"] = NAME
        f.create_dataset("layers/dense/vars/0", data=np.arange(6, dtype=np.float32).reshape(2, 3))
        f["layers/dense/vars"].attrs["name"] = "dense"
    with open(path, "rb") as handle:
        return handle.read()


def _collection(data: bytes) -> int:
    """The offset of the file's one global heap collection (h5py puts all short strings in one)."""
    at = data.find(b"GCOL")
    assert at > 0 and data.find(b"GCOL", at + 1) < 0
    return at


def _heap_id(data: bytes, collection: int) -> int:
    """The offset of the heap ID of ``"sequential"``: u32 length, u64 collection, u32 object index."""
    for index in range(1, 8):
        at = data.find(struct.pack("<IQI", len(NAME), collection, index))
        if at >= 0:
            return at
    raise AssertionError("no heap ID of the name found")


def _object(data: bytes, collection: int, text: bytes) -> int:
    """The offset of the collection's object holding ``text`` (its 16-byte header precedes it)."""
    at = data.find(text, collection)
    assert at > collection
    return at - 16


def _damage(path, data: bytes, at: int, new: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data[:at] + new + data[at + len(new):])


@pytest.mark.parametrize("options", [{}, {"libver": "latest"}, {"userblock_size": 512},
                                     {"libver": "latest", "track_order": True}],
                         ids=["v1-headers", "v2-headers", "userblock", "creation-order"])
def test_names_of_valid_files_are_read(tmp_path, options):
    path = str(tmp_path / "m.weights.h5")
    _write(path, **options)
    with load_keras_weights(path) as reader:
        assert reader.group_name("vars") == NAME
        assert reader.group_name("layers/dense/vars") == "dense"
        assert reader.group_name("layers") is None  # no attribute
        assert reader.group_name("missing") is None


def test_an_attribute_in_dense_storage_is_not_followed(tmp_path):
    """Past 8 attributes, newest-format headers move them to a fractal heap, which Keras never does."""
    path = str(tmp_path / "m.weights.h5")
    with h5py.File(path, "w", libver="latest") as f:
        group = f.create_group("vars")
        for i in range(20):
            group.attrs[f"a{i}"] = "x"
        group.attrs["name"] = NAME
    with load_keras_weights(path) as reader:
        assert reader.group_name("vars") is None


def _in_child(path: str, group: str = "vars") -> str:
    code = textwrap.dedent(f"""
        from tfckpt import errors
        from tfckpt.objects.keras_h5 import load_keras_weights
        with load_keras_weights({path!r}) as reader:
            try:
                print(repr(reader.group_name({group!r})))
            except errors.DataLossError as exc:
                print("DataLossError", exc.offset, exc)
    """)
    # The limit only turns a hang (the library's endless loop) into a failure; a read takes well under a second.
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": ":".join(sys.path)})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


DAMAGE = {
    # the fuzz finding: the collection's objects zeroed, so the first is free space of size 0
    "free space of size 0": (lambda data, c: (c + 16, bytes(64)), "does not fit its collection"),
    "object larger than its collection": (lambda data, c: (_object(data, c, NAME.encode()) + 8,
                                                            struct.pack("<Q", 1 << 40)), "does not fit"),
    "object of another length": (lambda data, c: (_object(data, c, NAME.encode()) + 8, struct.pack("<Q", 12)),
                                 "holds 12 bytes, the string claims 10"),
    "collection size below the minimum": (lambda data, c: (c + 8, struct.pack("<Q", 64)), "smallest is 4096"),
    "collection past the end of the file": (lambda data, c: (c + 8, struct.pack("<Q", 1 << 20)),
                                            "past the end of the file"),
    "heap ID into the superblock": (lambda data, c: (_heap_id(data, c) + 4, struct.pack("<Q", 0)),
                                    "no global heap collection"),
    "heap ID past the end of the file": (lambda data, c: (_heap_id(data, c) + 4, struct.pack("<Q", 1 << 33)),
                                         "past the end of the file"),
    "heap ID naming no object": (lambda data, c: (_heap_id(data, c) + 12, struct.pack("<I", 99)), "has no object 99"),
    "string longer than a name": (lambda data, c: (_heap_id(data, c), struct.pack("<I", 1 << 20)), "at most 4096"),
}


# Version-2 object headers (libver="latest") checksum their messages, so a changed heap ID there is
# refused by HDF5 when the group is opened; the heap ID defects are made in version-1 headers only.
CASES = [(defect, libver) for defect in DAMAGE for libver in ("earliest", "latest")
         if libver == "earliest" or not defect.startswith(("heap ID", "string"))]


@pytest.mark.parametrize("defect,libver", CASES)
def test_a_damaged_heap_is_data_loss_before_the_library_reads_it(tmp_path, defect, libver):
    path = str(tmp_path / "m.weights.h5")
    data = _write(path, libver=libver)
    where, expected = DAMAGE[defect]
    at, new = where(data, _collection(data))
    _damage(path, data, at, new)
    out = _in_child(path)
    assert out.startswith("DataLossError") and expected in out and "vars@name" in out and path in out, out


def test_the_fuzzer_input_itself(tmp_path):
    """The 5,801-byte input the weights_h5 target found (kept in the corpus): data loss, no hang."""
    import os

    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz", "corpus", "weights_h5",
                        "finding-4c25b1e68d29")
    out = _in_child(here)
    assert out.startswith("DataLossError 374 ") and "object 0 of 0 bytes" in out, out


def test_the_check_itself_raises_without_hdf5(tmp_path):
    """check_vlen_attribute reads bytes only: the same damage, found with no library call."""
    from tfckpt.objects.h5_heap import check_vlen_attribute

    path = str(tmp_path / "m.weights.h5")
    data = _write(path, libver="latest")
    collection = _collection(data)
    with h5py.File(path, "r") as f:
        header = h5py.h5o.get_info(f["vars"].id).addr
    damaged = data[:collection + 16] + bytes(64) + data[collection + 80:]

    def check(blob):
        return check_vlen_attribute(lambda o, n: blob[o:o + n], size=len(blob), base=0, sizeof_addr=8,
                                    sizeof_size=8, header=header, name=b"name", file="f", key="vars@name",
                                    limit=4096)

    assert check(data) == len(NAME)
    with pytest.raises(errors.DataLossError) as caught:
        check(damaged)
    assert caught.value.offset == collection + 16
