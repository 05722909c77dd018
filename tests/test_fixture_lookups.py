"""Lookups by attribute path and by Keras weight path on every TF2 fixture (fixtures/tf-*/manifest.json).

Expected keys are TensorFlow's: each case's ``expected.objects`` / ``expected.slots`` records
were made by TensorFlow's own graph view of the live objects that wrote it (fixtures/generate.py,
``object_keys``): an object path, its attribute, the key TensorFlow saved it under, and the
variable's ``full_name``.  A path with one wrong edge must fail naming the children that exist;
an unknown weight path must fail naming the weight paths that exist.
"""

import collections
import glob
import os

import pytest

import tfckpt
from tfckpt import errors
from tfckpt.objects import keras as kobj
from tfckpt_conformance.fixtures import FixtureSet

ROOT = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures")
SETS = [FixtureSet.load(d) for d in sorted(glob.glob(os.path.join(ROOT, "tf-*"))) if os.path.isdir(d)]
RECORDED = [(os.path.basename(s.directory), c) for s in SETS for c in s.cases
            if c.result == "valid" and c.prefix and (c.expected.get("objects") or c.expected.get("slots"))]


def _ids(cases):
    return [f"{version}/{case.id}" for version, case in cases]


def test_there_are_recorded_object_paths():
    assert len(RECORDED) >= 15, len(RECORDED)


@pytest.mark.parametrize("version,case", RECORDED, ids=_ids(RECORDED))
def test_attribute_paths_give_tensorflows_keys(version, case):
    for record in case.expected.get("objects", []):
        assert tfckpt.keys.key_for_object(case.prefix, record["path"], record["attribute"]) == record["checkpoint_key"]
    for record in case.expected.get("slots", []):
        assert tfckpt.keys.key_for_slot(case.prefix, record["variable"], record["optimizer"],
                                        record["slot_name"]) == record["checkpoint_key"]


@pytest.mark.parametrize("version,case", RECORDED, ids=_ids(RECORDED))
def test_weight_paths_give_tensorflows_keys(version, case):
    """A full_name recorded once resolves to its key, unless an unrecorded variable shares it
    (then the error says so); one recorded for several variables is refused as ambiguous."""
    records = [r for r in case.expected.get("objects", []) + case.expected.get("slots", [])
               if r.get("full_name") and (r.get("attribute", "VARIABLE_VALUE") == "VARIABLE_VALUE")]
    keys_of = collections.defaultdict(set)  # one variable may be recorded under several paths
    for record in records:
        keys_of[record["full_name"]].add(record["checkpoint_key"])
    counts = {name: len(keys) for name, keys in keys_of.items()}
    for record in records:
        name = record["full_name"]
        if counts[name] == 1:
            try:
                assert kobj.key_for_weight_path(case.prefix, name) == record["checkpoint_key"], name
            except errors.NotFoundError as exc:
                assert "variables" in str(exc) and record["checkpoint_key"] in str(exc), exc
        else:
            with pytest.raises(errors.NotFoundError, match=f"names {counts[name]} variables|names [0-9]+ variables"):
                kobj.key_for_weight_path(case.prefix, name)


@pytest.mark.parametrize("version,case", RECORDED, ids=_ids(RECORDED))
def test_wrong_paths_list_what_exists(version, case):
    record = (case.expected.get("objects") or [{"path": case.expected["slots"][0]["variable"]}])[0]
    roots = sorted({r["path"][0] for r in case.expected.get("objects", []) if r["path"]})
    with pytest.raises(errors.NotFoundError) as info:
        tfckpt.keys.key_for_object(case.prefix, ["no such root child"])
    assert "the root" in str(info.value) and all(repr(name) in str(info.value) for name in roots), str(info.value)
    if record["path"]:  # (a saved variable is the root itself: path [])
        first = record["path"][0]
        with pytest.raises(errors.NotFoundError) as info:
            tfckpt.keys.key_for_object(case.prefix, [first, "no such child"])
        message = str(info.value)
        assert f"object {first} " in message and "has no child 'no such child'" in message
        below = {r["path"][1] for r in case.expected.get("objects", []) if len(r["path"]) > 1 and r["path"][0] == first}
        for child in below:  # the children TensorFlow recorded below the first edge are listed
            assert repr(child) in message, (child, message)
    names = [r["full_name"] for r in case.expected.get("objects", []) if r.get("full_name")]
    with pytest.raises(errors.NotFoundError, match="no variable named 'no/such/weight'") as info:
        kobj.key_for_weight_path(case.prefix, "no/such/weight")
    for name in names:
        assert repr(name) in str(info.value), name
