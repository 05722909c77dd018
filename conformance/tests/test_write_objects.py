"""Object-graph writers: the implementation writes an object tree; TensorFlow's ``tf.train.Checkpoint.write`` is the golden.

For each ``objects`` fixture -- Keras 3 models with Adam or SGD, a ``tf.Module`` tree with a
nested module, a list attribute and escaped names, ``tf.compat.v1`` optimizers with slot
variables, an object saving its own tensors, a ``save_counter`` -- the implementation gets the
case's object tree (``objects.json``, the request of ``Adapter.write_objects``) and values:

``Required.WriteObjects.Graph.<case>``: its checkpoint holds TensorFlow's keys and values (read by
the trusted reader ``reference``) and its ``_CHECKPOINTABLE_OBJECT_GRAPH`` is TensorFlow's,
byte for byte -- node numbering, children, attributes, keys, slot references and
``has_checkpoint_values`` all follow from the tree (OBJ-22..OBJ-27).
``Recommended.WriteObjects.Bytes.<case>``: its ``.index`` and ``.data`` files are TensorFlow's
(the data order of OBJ-26 too).
``Required.WriteObjects.Restores.<case>``: TensorFlow restores the implementation's checkpoint into
the same objects with ``assert_consumed()`` and gets the values back.
``Required.WriteObjects.Refusals.<mistake>``: a tree naming a tensor the description lacks, or an
object it does not define, is refused with ``INVALID_ARGUMENT`` and leaves no files (OBJ-22);
``Recommended.WriteObjects.RefusalsStrict.repeated-child-name``: so is one giving an object two
children of the same name (TensorFlow's objects keep the last).
"""

from __future__ import annotations

import json
import os

import pytest

from tfckpt_conformance.checks import expect_rejection, fixture_case, scratch_dir
from tfckpt_conformance.description import assert_same

GRAPH_RULES = ("CONF-37", "OBJ-1", "OBJ-6", "OBJ-8", "OBJ-9", "OBJ-10", "OBJ-11", "OBJ-17", "OBJ-19", "OBJ-21",
               "OBJ-22", "OBJ-23", "OBJ-24", "OBJ-25", "OBJ-27")
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


@pytest.fixture(scope="module")
def objects_base(tmp_path_factory):
    return str(tmp_path_factory.mktemp("write_objects"))


def _tree(case) -> dict:
    with open(os.path.join(case.directory, case.expected["object_tree"]), encoding="utf-8") as f:
        return json.load(f)


def _write(check, case, directory) -> str:
    prefix = os.path.join(directory, "ckpt")
    check.call_ok(f"write_objects of {case.id}", check.impl.write_objects, case.description(), _tree(case), prefix)
    return prefix


@pytest.mark.conformance("WriteObjects.Graph", level="Required")
@pytest.mark.spec(*GRAPH_RULES)
@pytest.mark.judged_by("reference")
def test_object_graph_matches_tensorflows(check, objects_case, objects_base):
    check.require("write_objects", tags=["object_graph"])
    check.roles(producer=check.run.label, consumer="reference")
    reader = check.require_consumer("reference")
    with scratch_dir(objects_base) as d:
        prefix = _write(check, objects_case, d)
        got = check.trusted_call(reader, f"{check.impl.name}'s write_objects of {objects_case.id}", reader.read, prefix)
    want = check.trusted_call(reader, f"TensorFlow's checkpoint {objects_case.id}", reader.read, objects_case.prefix)
    graph = {t.key: t for t in got.tensors}.get(OBJECT_GRAPH_KEY)
    assert graph is not None, "the checkpoint has no _CHECKPOINTABLE_OBJECT_GRAPH entry"
    assert graph.strings == {t.key: t for t in want.tensors}[OBJECT_GRAPH_KEY].strings, \
        "the serialized object graph differs from TensorFlow's"
    assert_same(want, got, what=f"the keys and values of {check.impl.name}'s write_objects of {objects_case.id}")


@pytest.mark.conformance("WriteObjects.Bytes", level="Recommended")
@pytest.mark.spec("OBJ-26", "OBJ-21")
def test_files_match_tensorflows(check, objects_case, objects_base):
    check.require("write_objects", tags=["object_graph"])
    check.roles(producer=check.run.label, consumer="bytes")
    with scratch_dir(objects_base) as d:
        prefix = _write(check, objects_case, d)
        for golden in objects_case.expected["files"]:
            suffix = golden[len("ckpt"):]
            with open(os.path.join(objects_case.directory, golden), "rb") as a, open(prefix + suffix, "rb") as b:
                assert b.read() == a.read(), f"{suffix} differs from tf.train.Checkpoint.write's"


@pytest.mark.conformance("WriteObjects.Restores", level="Required")
@pytest.mark.spec("OBJ-27")
@pytest.mark.judged_by("tensorflow")
def test_tensorflow_restores_it(check, objects_case, objects_base):
    check.require("write_objects", tags=["object_graph"])
    check.roles(producer=check.run.label, consumer="tensorflow")
    restorer = check.require_consumer("tensorflow")
    tree = _tree(objects_case)
    with scratch_dir(objects_base) as d:
        prefix = _write(check, objects_case, d)
        got = check.trusted_call(restorer, f"TensorFlow's restore of {check.impl.name}'s write_objects of {objects_case.id}",
                                 restorer.restore_objects, objects_case.description(), tree, prefix)
    assert_same(objects_case.description(), got, what=f"what TensorFlow restored from {objects_case.id}")


def _bad_tree(objects_case, mistake: str) -> dict:
    tree = _tree(objects_case)
    label, obj = next((k, v) for k, v in tree["objects"].items() if "variable" in v)
    if mistake == "unknown-tensor":
        tree["objects"][label] = dict(obj, variable="no such tensor")
    elif mistake == "undefined-object":
        tree["checkpoint"] = tree["checkpoint"] + [["extra", "no-such-label"]]
    else:  # repeated-child-name: one object given two children of the same name, the second another object
        parent = next(v for v in tree["objects"].values() if v.get("children"))
        name, first = parent["children"][0]
        other = next(k for k in tree["objects"] if k != first)
        parent["children"] = parent["children"] + [[name, other]]
    return tree


def _refused_and_leaves_nothing(check, mistake, conformance_run, objects_base):
    check.require("write_objects")
    objects_case = fixture_case(conformance_run, "objects-module-tree", "objects")
    tree = _bad_tree(objects_case, mistake)
    with scratch_dir(objects_base) as d:
        prefix = os.path.join(d, "sub", "ckpt")
        expect_rejection(check, f"write_objects with {mistake}", check.impl.write_objects, objects_case.description(),
                         tree, prefix, category="INVALID_ARGUMENT")
        assert not os.path.exists(os.path.join(d, "sub")), "a refused write_objects left files"


@pytest.mark.conformance("WriteObjects.Refusals", level="Required")
@pytest.mark.spec("OBJ-22")
@pytest.mark.parametrize("mistake", ["unknown-tensor", "undefined-object"])
def test_bad_tree_refused_and_leaves_nothing(check, mistake, conformance_run, objects_base):
    _refused_and_leaves_nothing(check, mistake, conformance_run, objects_base)


@pytest.mark.conformance("WriteObjects.RefusalsStrict", level="Recommended")
@pytest.mark.spec("OBJ-22")
@pytest.mark.parametrize("mistake", ["repeated-child-name"])
def test_repeated_child_name_refused(check, mistake, conformance_run, objects_base):
    """Recommended: TensorFlow's objects cannot hold two attributes of one name, so the second silently
    replaces the first (its adapter sets them in order); the spec asks for a refusal (OBJ-22)."""
    _refused_and_leaves_nothing(check, mistake, conformance_run, objects_base)
