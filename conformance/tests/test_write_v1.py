"""Legacy V1 writers (``write_v1``): judged by a trusted reader, by the suite's own table decoder, and
byte for byte against TensorFlow's ``Save`` op.

* ``Required.WriteV1.Trusted.<case>.<consumer>``: the implementation writes the description of a
  single-file V1 fixture; the trusted reader reads the file back and the suite compares.
* ``Required.WriteV1.Layout.<case>``: the suite decodes the written file with its own SSTable reader
  (:mod:`tfckpt_conformance.sstable`, which refuses compressed blocks): no compression, keys in
  order, the metadata record first under the empty key (spec/v1.md V1-3, V1-14).
* ``Recommended.WriteV1.Bytes.<case>``: the file is identical to the one TensorFlow 2.21 wrote for
  the same tensors; ``Recommended.WriteV1.BytesUnordered.<case>``: also when they are given in reverse
  order (``Save`` sorts them by name, V1-5).
* ``Recommended.WriteV1.Errors.<mistake>``: a repeated or empty key is refused with ``INVALID_ARGUMENT``
  and leaves no file (ERR-5; TensorFlow's ``Save`` accepts both).
* ``Required.WriteV1.Refuses.<dtype>`` / ``Recommended.WriteV1.RefusalCategory.<dtype>``: a dtype
  TensorFlow 2.21 cannot save in V1 is refused, and nothing appears under the file's name; the
  category is TensorFlow's (V1-11).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from tfckpt_conformance import sstable
from tfckpt_conformance.checks import expect_rejection, first_difference, scratch_dir
from tfckpt_conformance.description import Description, TensorDescription, assert_same, bits_dtype

CONSUMERS = ["reference", "tensorflow"]

#: What TensorFlow 2.21's ``Save`` answers for dtypes outside V1's table (observed, spec/v1.md V1-11).
V1_REFUSALS = {
    "uint32": "INVALID_ARGUMENT",
    "uint64": "INVALID_ARGUMENT",
    "bfloat16": "UNIMPLEMENTED",
    "qint16": "UNIMPLEMENTED",
    "quint16": "UNIMPLEMENTED",
    "float8_e5m2": "UNIMPLEMENTED",
    "float8_e4m3fn": "UNIMPLEMENTED",
    "int4": "UNIMPLEMENTED",
}


@pytest.fixture(scope="module")
def v1_base(tmp_path_factory):
    return str(tmp_path_factory.mktemp("write-v1"))


def _write(check, case, directory) -> str:
    path = os.path.join(directory, "model.ckpt")
    check.call_ok(f"write_v1 of fixture {case.id}", check.impl.write_v1, case.description(), path)
    return path


@pytest.mark.conformance("WriteV1.Trusted", level="Required")
@pytest.mark.spec("CONF-36", "V1-1", "V1-3", "V1-5", "V1-6", "V1-7", "V1-14")
@pytest.mark.judged_by("consumer")
@pytest.mark.parametrize("consumer", CONSUMERS)
def test_write_v1_trusted(check, v1_file_case, consumer, v1_base):
    check.require("write_v1", tags=v1_file_case.tags)
    check.roles(producer=check.run.label, consumer=consumer)
    reader = check.require_consumer(consumer)
    with scratch_dir(v1_base) as d:
        path = _write(check, v1_file_case, d)
        got = check.trusted_call(reader, f"{check.impl.name}'s write_v1 of {v1_file_case.id}", reader.read, path,
                                 verify=True)
    assert_same(v1_file_case.description(), got,
                what=f"{consumer}'s read of {check.impl.name}'s write_v1 of fixture {v1_file_case.id}")


@pytest.mark.conformance("WriteV1.Layout", level="Required")
@pytest.mark.spec("CONF-36", "V1-3", "V1-14")
def test_write_v1_layout(check, v1_file_case, v1_base):
    check.require("write_v1", tags=v1_file_case.tags)
    with scratch_dir(v1_base) as d:
        path = _write(check, v1_file_case, d)
        left = sorted(os.listdir(d))
        try:
            records = sstable.read_table_file(path)
        except sstable.SSTableError as exc:
            pytest.fail(f"write_v1 of fixture {v1_file_case.id}: not an uncompressed SSTable: {exc}", pytrace=False)
    keys = [k for k, _ in records]
    assert left == ["model.ckpt"], f"write_v1 left {left} (only the file itself may remain)"
    assert keys and keys[0] == b"", f"the first record's key is {keys[:1]!r}, not the metadata record's empty key"
    assert keys == sorted(set(keys)), "record keys are not strictly increasing in bytewise order"


@pytest.mark.conformance("WriteV1.Bytes", level="Recommended")
@pytest.mark.spec("CONF-24", "CONF-36", "V1-5", "V1-6", "V1-7", "V1-14", "PRIM-1", "TBL-9", "TBL-10")
def test_write_v1_bytes(check, v1_file_case, v1_base):
    check.require("write_v1", tags=v1_file_case.tags)
    check.roles(producer=check.run.label, consumer="bytes")
    with open(v1_file_case.prefix, "rb") as f:
        want = f.read()
    with scratch_dir(v1_base) as d:
        with open(_write(check, v1_file_case, d), "rb") as f:
            got = f.read()
    assert got == want, f"write_v1 of fixture {v1_file_case.id} differs from TensorFlow's file: {first_difference(want, got)}"


@pytest.mark.conformance("WriteV1.BytesUnordered", level="Recommended")
@pytest.mark.spec("CONF-24", "CONF-36", "V1-5", "V1-14")
def test_write_v1_bytes_unordered(check, v1_file_case, v1_base):
    """The tensors given in reverse order: TensorFlow's ``Save`` sorts them by name, so the file is the same (V1-5)."""
    check.require("write_v1", tags=v1_file_case.tags)
    check.roles(producer=check.run.label, consumer="bytes")
    desc = v1_file_case.description()
    if len(desc) < 2:
        pytest.skip(f"fixture {v1_file_case.id} holds one tensor: no order to change")
    reversed_desc = Description(list(reversed(desc.tensors)))
    with open(v1_file_case.prefix, "rb") as f:
        want = f.read()
    with scratch_dir(v1_base) as d:
        path = os.path.join(d, "model.ckpt")
        check.call_ok(f"write_v1 of fixture {v1_file_case.id}, tensors reversed", check.impl.write_v1, reversed_desc, path)
        with open(path, "rb") as f:
            got = f.read()
    assert got == want, (f"write_v1 of fixture {v1_file_case.id} with its tensors given in reverse order differs from "
                         f"TensorFlow's file: {first_difference(want, got)}")


def _refused(check, dtype, v1_base):
    check.require("write_v1", tags=[f"dtype:{dtype}"])
    tensor = TensorDescription("t", dtype, (2,), data=np.zeros(2, dtype=bits_dtype(dtype)))
    with scratch_dir(v1_base) as d:
        path = os.path.join(d, "model.ckpt")
        exc = expect_rejection(check, f"write_v1 of a {dtype} tensor", check.impl.write_v1, Description([tensor]), path)
        left = sorted(os.listdir(d))
    assert not left, f"the refused write_v1 of a {dtype} tensor left {left}"
    return exc


@pytest.mark.conformance("WriteV1.Refuses", level="Required")
@pytest.mark.spec("CONF-36", "V1-11", "ERR-5")
@pytest.mark.parametrize("dtype", sorted(V1_REFUSALS))
def test_write_v1_refuses(check, dtype, v1_base):
    _refused(check, dtype, v1_base)


@pytest.mark.conformance("WriteV1.RefusalCategory", level="Recommended")
@pytest.mark.spec("CONF-36", "V1-11")
@pytest.mark.parametrize("dtype", sorted(V1_REFUSALS))
def test_write_v1_refusal_category(check, dtype, v1_base):
    exc = _refused(check, dtype, v1_base)
    assert exc.category == V1_REFUSALS[dtype], (
        f"write_v1 of a {dtype} tensor refused with {exc.reported_category}, TensorFlow says {V1_REFUSALS[dtype]}")


def _mistake(mistake: str) -> Description:
    one = lambda key, v: TensorDescription(key, "float32", (2,), data=np.array([v, -v], dtype="<f4"))
    if mistake == "repeated-key":
        return Description([one("w", 1.0), one("b", 2.0), one("w", 3.0)])
    return Description([one("w", 1.0), one("", 2.0)])  # empty-key


@pytest.mark.conformance("WriteV1.Errors", level="Recommended")
@pytest.mark.spec("CONF-36", "ERR-5")
@pytest.mark.parametrize("mistake", ["repeated-key", "empty-key"])
def test_write_v1_refuses_mistakes(check, mistake, v1_base):
    """A key given twice, or an empty key, is a caller mistake: refused with INVALID_ARGUMENT, no file left (ERR-5).

    Recommended: TensorFlow 2.21's ``Save`` writes both without complaint."""
    check.require("write_v1", tags=["dtype:float32"])
    with scratch_dir(v1_base) as d:
        path = os.path.join(d, "model.ckpt")
        expect_rejection(check, f"write_v1 with {mistake}", check.impl.write_v1, _mistake(mistake), path,
                         category="INVALID_ARGUMENT")
        left = sorted(os.listdir(d))
    assert not left, f"the refused write_v1 with {mistake} left {left}"
