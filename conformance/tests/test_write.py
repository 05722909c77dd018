"""Writers: the implementation writes, a trusted reader judges; and byte-exactness against TensorFlow.

``Required.Write.Trusted.<case>.<consumer>``: the implementation writes the
fixture's description; the trusted reader ``consumer`` (``reference`` always,
``tensorflow`` when the environment has it) reads it back, and the suite
compares.  ``Recommended.Write.Bytes.<case>``: for ``writer`` fixtures, whose
bytes TensorFlow 2.21 wrote with SaveV2 from the same description, the
implementation's ``.index`` and ``.data`` files must be identical.
``Required.Write.Errors.<mistake>`` / ``Recommended.Write.Errors.<mistake>``: a
description with a caller mistake (repeated key or slice, empty key, slices of
a name already written whole) is refused with ``INVALID_ARGUMENT``; Required
where TensorFlow's SaveV2 refuses it, Recommended where TensorFlow aborts.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from tfckpt_conformance.checks import expect_rejection, first_difference, list_outputs, scratch_dir
from tfckpt_conformance.description import Description, assert_same, tensor_from_array

CONSUMERS = ["reference", "tensorflow"]


@pytest.fixture(scope="module")
def write_base(tmp_path_factory):
    return str(tmp_path_factory.mktemp("write"))


@pytest.mark.conformance("Write.Trusted", level="Required")
@pytest.mark.spec("CONF-8", "CONF-23")
@pytest.mark.judged_by("consumer")
@pytest.mark.parametrize("consumer", CONSUMERS)
def test_write_trusted(check, write_input_case, consumer, write_base):
    check.require("write", tags=write_input_case.tags)
    check.roles(producer=check.run.label, consumer=consumer)
    reader = check.require_consumer(consumer)
    desc = write_input_case.description()
    with scratch_dir(write_base) as d:
        prefix = os.path.join(d, "ckpt")
        check.call_ok(f"write of fixture {write_input_case.id}", check.impl.write, desc, prefix)
        got = check.trusted_call(reader, f"{check.impl.name}'s write of {write_input_case.id}",
                                 reader.read, prefix, verify=True)
    assert_same(desc, got, what=f"{consumer}'s read of {check.impl.name}'s write of fixture {write_input_case.id}")


@pytest.mark.conformance("Write.Bytes", level="Recommended")
@pytest.mark.spec("CONF-8", "CONF-24", "OVR-2", "PRIM-1", "PRIM-3", "CRC-1", "CRC-2", "TBL-1", "TBL-3", "TBL-9",
                 "TBL-10", "TBL-11", "TBL-12", "TBL-14", "TBL-15", "TBL-16", "TBL-17", "TBL-18", "TBL-19",
                 "IDX-3", "IDX-8", "IDX-9", "IDX-15", "DATA-2", "DATA-4", "DATA-5", "DATA-6", "DATA-7", "STR-1",
                 "STR-2", "STR-3", "STR-5", "SLICE-1", "SLICE-5", "SLICE-8", "SLICE-9", "SLICE-10", "SLICE-11")
def test_write_bytes(check, writer_case, write_base):
    check.require("write", tags=writer_case.tags)
    check.roles(producer=check.run.label, consumer="bytes")
    expected_files = {os.path.basename(f)[len(os.path.basename(writer_case.prefix)):]: f
                      for f in writer_case.files
                      if f.endswith(".index") or ".data-" in os.path.basename(f)}
    if not expected_files:
        pytest.skip(f"fixture {writer_case.id} lists no .index/.data files")
    with scratch_dir(write_base) as d:
        prefix = os.path.join(d, "ckpt")
        check.call_ok(f"write of fixture {writer_case.id}", check.impl.write, writer_case.description(), prefix)
        written = {n[len("ckpt"):]: os.path.join(d, n) for n in list_outputs(prefix)}
        problems = []
        if sorted(written) != sorted(expected_files):
            problems.append(f"files: TensorFlow wrote {sorted(expected_files)}, got {sorted(written)}")
        for suffix in sorted(set(written) & set(expected_files)):
            with open(expected_files[suffix], "rb") as f:
                want = f.read()
            with open(written[suffix], "rb") as f:
                got = f.read()
            if want != got:
                problems.append(f"{suffix}: {first_difference(want, got)}")
    assert not problems, f"output differs from TensorFlow's bytes for fixture {writer_case.id}:\n  " + "\n  ".join(problems)


# -- caller mistakes a writer must refuse (spec/errors.md ERR-5) --------------------------------------


def _floats(key, values, partitions=None):
    return tensor_from_array(key, "float32", np.asarray(values, dtype=np.float32), partitions=partitions)


# What TensorFlow 2.21's SaveV2 refuses with INVALID_ARGUMENT (observed): Required.
WRITE_MISTAKES = {
    "duplicate-key": lambda: [_floats("a", [1, 2]), _floats("a", [3, 4])],
    "duplicate-slice": lambda: [_floats("p", [1, 2, 3, 4], partitions=["0,2", "0,2"])],
}
# What TensorFlow 2.21 aborts the process on (a CHECK failure): the spec's rule, Recommended.
WRITE_MISTAKES_TF_ABORTS = {
    "empty-key": lambda: [_floats("", [1, 2])],
    "slices-after-tensor": lambda: [_floats("q", [1, 2, 3, 4]), _floats("q", [1, 2, 3, 4], partitions=["0,2", "2,2"])],
}


def _expect_write_refused(check, mistakes, name, write_base):
    check.require("write")
    with scratch_dir(write_base) as d:
        expect_rejection(check, f"write of a description with the mistake {name!r}", check.impl.write,
                         Description(mistakes[name]()), os.path.join(d, "ckpt"), category="INVALID_ARGUMENT")


@pytest.mark.conformance("Write.Errors", level="Required")
@pytest.mark.spec("ERR-5", "IDX-16", "SLICE-7")
@pytest.mark.parametrize("mistake", sorted(WRITE_MISTAKES))
def test_write_refuses(check, mistake, write_base):
    _expect_write_refused(check, WRITE_MISTAKES, mistake, write_base)


@pytest.mark.conformance("Write.Errors", level="Recommended")
@pytest.mark.spec("ERR-5", "IDX-16", "SLICE-7")
@pytest.mark.parametrize("mistake", sorted(WRITE_MISTAKES_TF_ABORTS))
def test_write_refuses_where_tensorflow_aborts(check, mistake, write_base):
    _expect_write_refused(check, WRITE_MISTAKES_TF_ABORTS, mistake, write_base)


@pytest.mark.conformance("Write.WholeSlice", level="Required")
@pytest.mark.spec("SLICE-4")
@pytest.mark.parametrize("spec", ["-", "0,4"])
def test_write_whole_slice_is_ordinary(check, spec, write_base):
    """A "partition" that covers the whole tensor is stored as an ordinary entry: the reference reports no slices."""
    check.require("write", tags=["sliced"])
    check.roles(producer=check.run.label, consumer="reference")
    desc = Description([_floats("w", [1, 2, 3, 4], partitions=[spec])])
    reader = check.require_consumer("reference")
    with scratch_dir(write_base) as d:
        prefix = os.path.join(d, "ckpt")
        check.call_ok(f"write of a tensor whose one slice {spec!r} covers it", check.impl.write, desc, prefix)
        got = check.trusted_call(reader, "the whole-slice write", reader.read, prefix, verify=True)
    assert_same(Description([_floats("w", [1, 2, 3, 4])]), got, what="reference's read of the whole-slice write")
    assert not got.tensors[0].partitions, f"stored as slices {got.tensors[0].partitions}, expected an ordinary entry"


# -- a write that cannot finish (spec/overview.md OVR-3) -------------------------------------------------


def _write_into_blocked_data_file(check, write_base):
    """Write where a directory occupies the data file's final name, so the data file cannot be completed;
    returns the names left in the directory (the blocking directory aside)."""
    check.require("write")
    with scratch_dir(write_base) as d:
        prefix = os.path.join(d, "ckpt")
        os.mkdir(prefix + ".data-00000-of-00001")
        expect_rejection(check, "write whose data file's name is taken by a directory", check.impl.write,
                         Description([_floats("a", [1, 2])]), prefix)
        return sorted(n for n in os.listdir(d) if n != "ckpt.data-00000-of-00001")


@pytest.mark.conformance("Write.Errors.data-file-blocked", level="Required")
@pytest.mark.spec("OVR-3", "ERR-5")
def test_write_fails_without_index(check, write_base):
    """The index appears only after every data file is complete: a failed data file means no index."""
    left = _write_into_blocked_data_file(check, write_base)
    assert "ckpt.index" not in left, f"a failed write left an index file: {left}"


@pytest.mark.conformance("Write.Errors.data-file-blocked-cleanup", level="Recommended")
@pytest.mark.spec("OVR-3")
def test_write_fails_cleanly(check, write_base):
    """...and leaves none of its temporary files behind."""
    left = _write_into_blocked_data_file(check, write_base)
    assert not left, f"a failed write left files behind: {left}"
