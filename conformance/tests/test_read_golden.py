"""Golden reads: every valid fixture, read by the implementation, compared bit-exactly by the suite.

Families: ``Required.Read.Golden.<case>`` (read), ``Required.List.Golden.<case>``
(list), ``Required.Validate.Golden.<case>`` (validate accepts it),
``Recommended.ReadSlice.Golden.<case>`` (one slice of each of a few tensors),
``Recommended.Read.KeyOrder.<case>`` (reported in bytewise key order).
"""

from __future__ import annotations

import pytest

from tfckpt_conformance.adapter import ImplementationError
from tfckpt_conformance.description import STRING, Description, assert_same, compare_tensor, sorted_keys, take_slice


def without_keys(desc: Description, keys) -> Description:
    """``desc`` minus the keys a description cannot express (the manifest's undescribed_keys)."""
    drop = set(keys)
    return Description([t for t in desc.tensors if t.key not in drop]) if drop else desc


@pytest.mark.conformance("Read.Golden", level="Required")
@pytest.mark.spec("CONF-1", "CONF-2", "CONF-7", "CONF-20", "CONF-29", "OVR-1", "OVR-4", "TBL-5", "TBL-8",
                 "TBL-11", "TBL-13", "CRC-1", "CRC-3", "V1-1", "V1-2", "V1-12", "IDX-1", "IDX-7",
                 "IDX-10", "DATA-1", "DATA-4", "DATA-8", "DATA-9", "SHARD-1")
def test_read_golden(check, golden_case):
    check.require("read", tags=golden_case.tags)
    expected = golden_case.description()
    got = check.call_ok(f"read of fixture {golden_case.id}", check.impl.read, golden_case.prefix, verify=True)
    got = without_keys(got, golden_case.undescribed_keys)
    assert_same(expected, got, what=f"{check.impl.name}'s read of fixture {golden_case.id}")


@pytest.mark.conformance("List.Golden", level="Required")
@pytest.mark.spec("CONF-3", "CONF-4", "CONF-10", "CONF-20", "OVR-4")
def test_list_golden(check, golden_case):
    check.require("list", tags=golden_case.tags)
    expected = {t.key: (t.dtype, tuple(t.shape)) for t in golden_case.description().tensors}
    infos = check.call_ok(f"list of fixture {golden_case.id}", check.impl.list, golden_case.prefix)
    got = {i.key: (i.dtype, tuple(i.shape)) for i in infos if i.key not in golden_case.undescribed_keys}
    problems = []
    if len(got) != len(infos):
        problems.append("keys listed more than once")
    for key in sorted(set(expected) - set(got)):
        problems.append(f"missing key {key!r}")
    for key in sorted(set(got) - set(expected)):
        problems.append(f"unexpected key {key!r}")
    for key in sorted(set(expected) & set(got)):
        if expected[key] != got[key]:
            problems.append(f"key {key!r}: expected dtype/shape {expected[key][0]} {list(expected[key][1])}, "
                            f"got {got[key][0]} {list(got[key][1])}")
    assert not problems, f"list of fixture {golden_case.id}:\n  " + "\n  ".join(problems)


@pytest.mark.conformance("Validate.Golden", level="Required")
@pytest.mark.spec("CONF-9", "CONF-20")
def test_validate_golden(check, golden_case):
    check.require("validate", tags=golden_case.tags)
    try:
        check.call(f"validate of fixture {golden_case.id}", check.impl.validate, golden_case.prefix)
    except ImplementationError as exc:
        if golden_case.undescribed_keys and exc.category in golden_case.undescribed_key_categories:
            return  # the fixture says reading its undescribed keys may raise this
        pytest.fail(f"validate of valid fixture {golden_case.id} was rejected with {exc.reported_category}: "
                    f"{exc.message}", pytrace=False)


def _slice_specs(tensor):
    """A slice inside the tensor: drop the first row of dimension 0 (and the last column of the last)."""
    shape = tensor.shape
    if not shape or shape[0] < 2:
        return None
    dims = [f"1,{shape[0] - 1}"] + ["-"] * (len(shape) - 1)
    if len(shape) >= 2 and shape[-1] >= 2:
        dims[-1] = f"0,{shape[-1] - 1}"
    return ":".join(dims)


@pytest.mark.conformance("ReadSlice.Golden", level="Recommended")
@pytest.mark.spec("CONF-11", "CONF-20")
def test_read_slice_golden(check, sliceable_case):
    golden_case = sliceable_case
    check.require("read_slice", tags=golden_case.tags)
    chosen = [(t, _slice_specs(t)) for t in golden_case.description().tensors]
    chosen = [(t, s) for t, s in chosen if s is not None]
    # Partitioned tensors first: a slice across stored partitions is the interesting case.
    chosen.sort(key=lambda ts: (not ts[0].partitions, ts[0].dtype == STRING))
    problems = []
    for tensor, spec in chosen[:3]:
        want = take_slice(tensor, spec)
        got = check.call_ok(f"read_slice {tensor.key!r} {spec!r} of {golden_case.id}",
                            check.impl.read_slice, golden_case.prefix, tensor.key, spec)
        problems += [f"slice {spec!r}: {p}" for p in compare_tensor(want, got, check_partitions=False)]
    assert not problems, "\n  ".join(problems)


@pytest.mark.conformance("Read.KeyOrder", level="Recommended")
@pytest.mark.spec("CONF-30")
def test_read_key_order(check, several_tensors_case):
    check.require("read", tags=several_tensors_case.tags)
    got = check.call_ok(f"read of fixture {several_tensors_case.id}", check.impl.read, several_tensors_case.prefix,
                        verify=True)
    keys = got.keys()
    assert keys == sorted_keys(keys), f"tensors not reported in bytewise key order: {keys!r}"
