"""Reading by feature: the golden fixtures of one tag at a time, and inputs the suite derives from them.

Families (each selects golden fixtures by manifest tag, or builds its input in a
scratch directory from fixture files, never from the implementation's output):

* ``Required.Read.Partitioned.<case>`` (tag ``sliced``): partitioned tensors come back
  assembled under their names, and no slice entry is returned as a tensor.
* ``Required.Read.Strings.<case>`` (tag ``string``): every string tensor, byte for byte.
* ``Required.Read.V1.<case>`` (tag ``v1``): the legacy single-file layout.
* ``Required.Read.SavedModel.<case>`` (tag ``savedmodel``): ``S/variables/variables`` of a
  SavedModel directory without ``assets/`` or ``fingerprint.pb``.
* ``Required.Read.Variant.<case>`` (feature ``variant``): a reader that declares variants reads
  TensorFlow's own variant tensors without refusing them (leaving them out of the
  description), and validates the checkpoint.
* ``Required.Read.Directory.<case>``: the checkpoint's directory, resolved through its
  ``checkpoint`` state file; ``Recommended.Read.Errors.directory-without-state``: ``NOT_FOUND``.
* ``Required.Read.LayoutByName``: a V1 file ``P`` next to a V2 ``P.index``; the file names
  decide, so the V2 checkpoint is read.
* ``Required.List.WithoutData.<case>`` (multi-shard V2): listing needs no data file.
* ``Recommended.Read.ShardOutOfRange``: a ``shard_id`` past ``num_shards`` is rejected even when a
  file of that name exists.
* ``Required.ReadSlice.Errors.*`` / ``Recommended.ReadSlice.ErrorsCategory.*``: unknown keys and
  malformed slice strings.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tfckpt_conformance.checks import expect_rejection
from tfckpt_conformance.description import STRING, Description, assert_same
from tfckpt_conformance.fixtures import FixtureSet


def _subset(desc: Description, keep) -> Description:
    return Description([t for t in desc.tensors if keep(t)])


def _read_view(check, case, keep, what):
    """Read ``case`` and compare the tensors ``keep`` selects; return what was read."""
    expected = case.description()
    got = check.call_ok(f"read of fixture {case.id}", check.impl.read, case.prefix, verify=True)
    wanted = _subset(expected, keep)
    if not wanted.tensors:
        pytest.fail(f"fixture {case.id} has no {what} tensor (manifest tag without content)", pytrace=False)
    got_by_key = got.by_key()
    view = Description([got_by_key[t.key] for t in wanted.tensors if t.key in got_by_key])
    assert_same(wanted, view, what=f"{check.impl.name}'s {what} tensors of fixture {case.id}")
    return got


@pytest.mark.conformance("Read.Variant", level="Required")
@pytest.mark.spec("CONF-7", "CONF-9", "DATA-10", "DATA-11", "SEC-8")
def test_read_variant(check, variant_case):
    """The invalid variant fixtures show a reader refuses bad variants; this one, that it accepts good ones."""
    check.require("read", "validate", tags=[*variant_case.tags, "variant"])
    got = check.call_ok(f"read of fixture {variant_case.id}", check.impl.read, variant_case.prefix, verify=True)
    got = Description([t for t in got.tensors if t.key not in variant_case.undescribed_keys])
    assert_same(variant_case.description(), got, what=f"{check.impl.name}'s read of fixture {variant_case.id}")
    check.call_ok(f"validate of fixture {variant_case.id}", check.impl.validate, variant_case.prefix)


@pytest.mark.conformance("Read.Partitioned", level="Required")
@pytest.mark.spec("SLICE-6", "SLICE-8", "SLICE-9", "SLICE-10", "SLICE-11", "SLICE-12", "SLICE-13", "SLICE-14")
def test_read_partitioned(check, sliced_case):
    check.require("read", tags=sliced_case.tags)
    got = _read_view(check, sliced_case, lambda t: bool(t.partitions), "partitioned")
    expected_keys = set(sliced_case.description().keys())
    extra = [k for k in got.keys() if k not in expected_keys and k not in sliced_case.undescribed_keys]
    assert not extra, f"slice entries returned as tensors: {extra[:5]!r}"


@pytest.mark.conformance("Read.Strings", level="Required")
@pytest.mark.spec("STR-1", "STR-2", "STR-3", "STR-5", "STR-6")
def test_read_strings(check, string_case):
    check.require("read", tags=string_case.tags)
    _read_view(check, string_case, lambda t: t.dtype == STRING, "string")


@pytest.mark.conformance("Read.V1", level="Required")
@pytest.mark.spec("V1-3", "V1-5", "V1-6", "V1-7", "V1-8")
def test_read_v1(check, v1_case):
    check.require("read", tags=v1_case.tags)
    _read_view(check, v1_case, lambda t: True, "V1")


@pytest.mark.conformance("Read.SavedModel", level="Required")
@pytest.mark.spec("SM-1", "SM-3")
def test_read_savedmodel_variables(check, savedmodel_case):
    check.require("read", tags=savedmodel_case.tags)
    prefix = savedmodel_case.prefix
    assert prefix.endswith(os.path.join("variables", "variables")), f"fixture prefix {prefix} is not S/variables/variables"
    saved_model = os.path.dirname(os.path.dirname(prefix))
    present = [n for n in ("assets", "assets.extra", "fingerprint.pb") if os.path.exists(os.path.join(saved_model, n))]
    assert not present, f"fixture {savedmodel_case.id} unexpectedly holds {present} (this test reads without them)"
    _read_view(check, savedmodel_case, lambda t: True, "SavedModel variable")


@pytest.mark.conformance("Read.Directory", level="Required")
@pytest.mark.spec("OVR-5", "STATE-1")
def test_read_directory(check, directory_case):
    check.require("read", tags=[*directory_case.tags, "state_file"])
    directory = os.path.dirname(directory_case.prefix)
    got = check.call_ok(f"read of directory {directory} (fixture {directory_case.id})", check.impl.read, directory,
                        verify=True)
    got = Description([t for t in got.tensors if t.key not in directory_case.undescribed_keys])
    assert_same(directory_case.description(), got,
                what=f"{check.impl.name}'s read of the directory of fixture {directory_case.id}")


@pytest.mark.conformance("Read.Errors.directory-without-state", level="Recommended")
@pytest.mark.spec("OVR-5")
def test_read_directory_without_state(check, tmp_path, conformance_run):
    check.require("read")
    source = _case(conformance_run, "dtype-float32-rank2")
    for f in source.files:  # a checkpoint, but no state file naming it
        if f.endswith(".index") or ".data-" in os.path.basename(f):
            shutil.copy(f, tmp_path)
    expect_rejection(check, "read of a directory without a state file", check.impl.read, str(tmp_path),
                     category="NOT_FOUND")


def _case(run, case_id):
    """The fixture ``case_id``: of the fixtures under test, or else of TensorFlow 2.21's.

    These tests need one particular input (a V1 file, a [3, 5] tensor, a mutated index), not a
    producer's: run against an older producer's goldens (``--fixture-dir fixtures/tf-1.15.5``),
    which have no such case, they take TensorFlow 2.21's.
    """
    newest = os.path.join(run.rootdir, "fixtures", "tf-2.21.0")
    for fixtures in (run.fixtures, None):
        if fixtures is None:
            if os.path.abspath(run.fixtures.directory) == os.path.abspath(newest):
                break
            fixtures = FixtureSet.load(newest)
        for c in fixtures.cases:
            if c.id == case_id:
                return c
    pytest.fail(f"fixture {case_id} is missing from the manifest", pytrace=False)


@pytest.mark.conformance("Read.LayoutByName", level="Required")
@pytest.mark.spec("OVR-4", "OVR-7")
def test_read_layout_by_name(check, tmp_path, conformance_run):
    v1 = _case(conformance_run, "tf1-saver-v1-format")
    v2 = _case(conformance_run, "dtype-float32-rank2")
    check.require("read", tags=[*v1.tags, *v2.tags])
    prefix = os.path.join(str(tmp_path), "both")
    shutil.copy(v1.prefix, prefix)  # the V1 file P ...
    base = os.path.basename(v2.prefix)
    for f in v2.files:  # ... and the V2 files P.index, P.data-*
        name = os.path.basename(f)
        if name.startswith(base + ".") and (name.endswith(".index") or ".data-" in name):
            shutil.copy(f, prefix + name[len(base):])
    got = check.call_ok("read of a prefix that names both a V1 file and a V2 index", check.impl.read, prefix,
                        verify=True)
    assert_same(v2.description(), got, what=f"{check.impl.name}'s read of P (P.index present: the V2 checkpoint)")


@pytest.mark.conformance("List.WithoutData", level="Required")
@pytest.mark.spec("OVR-6", "SHARD-1")
def test_list_without_data_files(check, tmp_path, multi_shard_case):
    check.require("list", tags=multi_shard_case.tags)
    base = os.path.basename(multi_shard_case.prefix)
    index = multi_shard_case.file_with_suffix(".index")
    shutil.copy(index, os.path.join(str(tmp_path), base + ".index"))  # the index alone: every data file missing
    prefix = os.path.join(str(tmp_path), base)
    infos = check.call_ok(f"list of fixture {multi_shard_case.id} without its data files", check.impl.list, prefix)
    expected = {t.key: (t.dtype, tuple(t.shape)) for t in multi_shard_case.description().tensors}
    got = {i.key: (i.dtype, tuple(i.shape)) for i in infos if i.key not in multi_shard_case.undescribed_keys}
    assert got == expected, f"listing without data files differs: expected {expected}, got {got}"


@pytest.mark.conformance("Read.ShardOutOfRange", level="Recommended")
@pytest.mark.spec("SEC-6", "IDX-13")
def test_read_shard_out_of_range(check, tmp_path, conformance_run):
    case = _case(conformance_run, "bad-entry-shard-past-count")  # shard_id 3 in a bundle of num_shards 1
    check.require("read", tags=case.tags)
    base = os.path.basename(case.prefix)
    for f in case.files:
        shutil.copy(f, tmp_path)
    # The file the out-of-range shard_id would name exists: a reader must still refuse the entry.
    shutil.copy(case.data_files()[0], os.path.join(str(tmp_path), f"{base}.data-00003-of-00001"))
    expect_rejection(check, "read of an entry whose shard_id is past num_shards", check.impl.read,
                     os.path.join(str(tmp_path), base), category=case.error)


# -- read_slice: keys that are not there, slice strings that do not parse or fit ---------------------

SLICE_SOURCE = "dtype-float32-rank2"  # one tensor 'values' of shape [3, 5]
BAD_SLICES = {
    "not-a-number": "a,b:-",
    "too-few-parts": "0,1",
    "too-many-parts": "0,1:-:-",
    "zero-length": "0,0:-",
    "negative-start": "-1,1:-",
    "past-the-end": "2,2:-",
    "one-number": "1:-",
}


@pytest.mark.conformance("ReadSlice.Errors.missing-key", level="Required")
@pytest.mark.spec("IDX-14")
def test_read_slice_missing_key(check, conformance_run):
    case = _case(conformance_run, SLICE_SOURCE)
    check.require("read_slice", tags=case.tags)
    expect_rejection(check, "read_slice of a key not in the index", check.impl.read_slice, case.prefix,
                     "no/such/key", "-:-", category="NOT_FOUND")


@pytest.mark.conformance("ReadSlice.Errors.empty-key", level="Required")
@pytest.mark.spec("IDX-14")
def test_read_slice_empty_key(check, conformance_run):
    case = _case(conformance_run, SLICE_SOURCE)
    check.require("read_slice", tags=case.tags)
    expect_rejection(check, "read_slice of the empty key (the header's key)", check.impl.read_slice, case.prefix,
                     "", "", category="NOT_FOUND")


@pytest.mark.conformance("ReadSlice.Errors", level="Required")
@pytest.mark.spec("SLICE-3", "SLICE-15")
@pytest.mark.parametrize("bad", sorted(BAD_SLICES))
def test_read_slice_bad_spec(check, conformance_run, bad):
    case = _case(conformance_run, SLICE_SOURCE)
    check.require("read_slice", tags=case.tags)
    expect_rejection(check, f"read_slice 'values' {BAD_SLICES[bad]!r} (shape [3, 5])", check.impl.read_slice,
                     case.prefix, "values", BAD_SLICES[bad])


@pytest.mark.conformance("ReadSlice.ErrorsCategory", level="Recommended")
@pytest.mark.spec("SLICE-3", "SLICE-15")
@pytest.mark.parametrize("bad", sorted(BAD_SLICES))
def test_read_slice_bad_spec_category(check, conformance_run, bad):
    case = _case(conformance_run, SLICE_SOURCE)
    check.require("read_slice", tags=case.tags)
    expect_rejection(check, f"read_slice 'values' {BAD_SLICES[bad]!r} (shape [3, 5])", check.impl.read_slice,
                     case.prefix, "values", BAD_SLICES[bad], category="INVALID_ARGUMENT")
