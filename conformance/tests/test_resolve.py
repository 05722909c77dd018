"""From objects, optimizer slots and TF1 variable names to bundle keys (``resolve``).

Every expected key here was given by TensorFlow 2.21 when it wrote the fixture
(the generator asked TensorFlow's own naming functions about the live objects
and recorded their answers in the manifest), next to the route the generator
used to build each object -- so the pair (path, key) is TensorFlow's statement,
not ours.

* ``Required.Resolve.Object.<case>``: every recorded local-name path (and
  attribute) of an object-based checkpoint resolves to TensorFlow's key,
  including shared objects reached by two routes and variables whose
  ``full_name`` is not unique (spec/object-graph.md OBJ-14, OBJ-16).
* ``Required.Resolve.Slot.<case>``: optimizer slots (OBJ-15).
* ``Required.Resolve.Variable.<case>``: every variable of a TF1 ``.meta``
  resolves to the key and slice TensorFlow's ``Saver`` uses (spec/meta-graph.md §6).
* ``Required.Resolve.SavedModel.<case>``: the same through a SavedModel
  directory: object paths through the ``SavedObjectGraph`` of a TF2 export, TF1
  names through the meta graph of a TF1 ``Builder`` export (spec/savedmodel.md).
* ``Required.Resolve.Errors.<what>``: a path, slot or name that leads nowhere
  is ``NOT_FOUND``; an object graph that is no graph, and a SavedModel whose two
  object graphs disagree (one byte of a child's name changed), are ``DATA_LOSS``.
* ``Required.Read.MetaGraph.<case>`` / ``Required.Read.SavedModelMetaGraph.<case>``:
  ``read_meta_graph`` returns the ``SaverDef``, collection keys, version and
  tags TensorFlow's own parser read from the same file.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tfckpt_conformance import wire
from tfckpt_conformance.adapter import SAVER_DEF_DEFAULTS, KeyQuery, MetaGraphInfo, ResolvedKey
from tfckpt_conformance.checks import expect_rejection


def _resolve_all(check, location: str, case_id: str, wanted: list[tuple[KeyQuery, ResolvedKey]]) -> None:
    problems = []
    for query, expected in wanted:
        got = check.call_ok(f"resolve of {query} in fixture {case_id}", check.impl.resolve, location, query)
        if got != expected:
            problems.append(f"{query}: got key {got.key!r} slice {got.slice!r}, "
                            f"TensorFlow's is key {expected.key!r} slice {expected.slice!r}")
    assert wanted, f"fixture {case_id} records nothing to resolve"
    assert not problems, f"keys resolved in fixture {case_id}:\n  " + "\n  ".join(problems)


def _object_queries(entries) -> list[tuple[KeyQuery, ResolvedKey]]:
    return [(KeyQuery(object=tuple(e["path"]), attribute=e.get("attribute", "VARIABLE_VALUE")),
             ResolvedKey(e["checkpoint_key"])) for e in entries if e.get("path") is not None]


def _variable_queries(entries) -> list[tuple[KeyQuery, ResolvedKey]]:
    return [(KeyQuery(variable=e["name"]), ResolvedKey(e["checkpoint_key"], e.get("slice"))) for e in entries]


@pytest.mark.conformance("Resolve.Object", level="Required")
@pytest.mark.spec("CONF-34", "OBJ-7", "OBJ-10", "OBJ-14", "OBJ-16")
def test_resolve_objects(check, object_keys_case):
    check.require("resolve", tags=object_keys_case.tags)
    _resolve_all(check, object_keys_case.prefix, object_keys_case.id,
                 _object_queries(object_keys_case.expected["objects"]))


def _slot_query(entry, slot_name=None) -> KeyQuery:
    return KeyQuery(slot_variable=tuple(entry["variable"]), slot_optimizer=tuple(entry["optimizer"]),
                    slot_name=entry["slot_name"] if slot_name is None else slot_name)


@pytest.mark.conformance("Resolve.Slot", level="Required")
@pytest.mark.spec("CONF-34", "OBJ-11", "OBJ-15")
def test_resolve_slots(check, slot_keys_case):
    check.require("resolve", tags=slot_keys_case.tags)
    wanted = [(_slot_query(e), ResolvedKey(e["checkpoint_key"])) for e in slot_keys_case.expected["slots"]]
    _resolve_all(check, slot_keys_case.prefix, slot_keys_case.id, wanted)


@pytest.mark.conformance("Resolve.Variable", level="Required")
@pytest.mark.spec("CONF-34", "META-1", "META-3", "META-7", "META-8", "META-9", "META-10")
def test_resolve_tf1_variables(check, meta_variables_case):
    check.require("resolve", tags=meta_variables_case.tags)
    _resolve_all(check, meta_variables_case.prefix, meta_variables_case.id,
                 _variable_queries(meta_variables_case.expected["meta_graph"]["variables"]))


def _is_tf1_export(case) -> bool:
    return case.expected["saved_model"].get("object_graph_def") is False


@pytest.mark.conformance("Resolve.SavedModel", level="Required")
@pytest.mark.spec("CONF-34", "SM-1", "SM-2", "SM-4", "SM-5", "SM-6", "SM-7", "SM-8")
def test_resolve_in_saved_model(check, saved_model_case):
    check.require("resolve", tags=saved_model_case.tags)
    entries = saved_model_case.expected["saved_model"].get("variables") or []
    # A TF1 Builder export: names through its meta graph (SM-8); a TF2 export: paths through
    # its SavedObjectGraph (SM-6).
    wanted = _variable_queries(entries) if _is_tf1_export(saved_model_case) else _object_queries(entries)
    _resolve_all(check, saved_model_case.saved_model_directory(), saved_model_case.id, wanted)


def _disagreeing_saved_model(case, target: str) -> str:
    """A copy of ``case``'s SavedModel whose SavedObjectGraph calls node 0's first child differently from the
    checkpoint's graph (one byte of its local name changed in place; every length stays right)."""
    source = case.saved_model_directory()
    shutil.copytree(source, target)
    path = os.path.join(target, "saved_model.pb")
    with open(path, "rb") as f:
        data = bytearray(f.read())
    meta_graph = wire.first(wire.decode(bytes(data)), 2)
    object_graph = wire.first(wire.decode(meta_graph), 7)
    root = wire.fields(wire.decode(object_graph), 1)[0].value  # nodes = 1 (repeated): node 0
    first_child = wire.fields(wire.decode(root), 1)[0].value  # children = 1 (repeated): the first
    name = wire.first(wire.decode(first_child), 2)
    start = bytes(data).find(object_graph) + object_graph.find(first_child) + first_child.find(name)
    data[start] ^= 0x01  # "layer" -> "mayer": still a name, no longer the checkpoint's
    with open(path, "wb") as f:
        f.write(bytes(data))
    return name.decode("utf-8")


@pytest.mark.conformance("Resolve.Errors.graphs-disagree", level="Required")
@pytest.mark.spec("SM-5")
def test_resolve_in_saved_model_whose_graphs_disagree(check, tf2_saved_model_case, tmp_path):
    case = tf2_saved_model_case
    check.require("resolve", tags=case.tags)
    location = str(tmp_path / "saved_model")
    original = _disagreeing_saved_model(case, location)
    entry = next(e for e in case.expected["saved_model"]["variables"] if e.get("path") and e["path"][0] == original)
    expect_rejection(check, f"resolve of {entry['path']} in a SavedModel whose two object graphs disagree at node 0",
                     check.impl.resolve, location, KeyQuery(object=tuple(entry["path"])), category="DATA_LOSS")


# -- routes that lead nowhere: NOT_FOUND.  The names are chosen so that no TensorFlow object carries them.

MISSING = "no such child \u2205"


def _expect_not_found(check, case, location, query):
    expect_rejection(check, f"resolve of {query} in fixture {case.id}", check.impl.resolve, location, query,
                     category="NOT_FOUND")


@pytest.mark.conformance("Resolve.Errors.object-path", level="Required")
@pytest.mark.spec("OBJ-14")
def test_resolve_missing_object(check, object_keys_case):
    check.require("resolve", tags=object_keys_case.tags)
    path = tuple(object_keys_case.expected["objects"][0]["path"]) + (MISSING,)
    _expect_not_found(check, object_keys_case, object_keys_case.prefix, KeyQuery(object=path))


@pytest.mark.conformance("Resolve.Errors.slot", level="Required")
@pytest.mark.spec("OBJ-15")
def test_resolve_missing_slot(check, slot_keys_case):
    check.require("resolve", tags=slot_keys_case.tags)
    query = _slot_query(slot_keys_case.expected["slots"][0], slot_name=MISSING)
    _expect_not_found(check, slot_keys_case, slot_keys_case.prefix, query)


@pytest.mark.conformance("Resolve.Errors.object-graph", level="Required")
@pytest.mark.spec("OBJ-2", "OBJ-4", "OBJ-14")
def test_resolve_in_broken_object_graph(check, broken_object_graph_case):
    """A resolver interprets the object graph, so it must refuse one that is not a graph."""
    check.require("resolve", tags=broken_object_graph_case.tags)
    expect_rejection(check, f"resolve of the root in fixture {broken_object_graph_case.id}", check.impl.resolve,
                     broken_object_graph_case.prefix, KeyQuery(object=()),
                     category=broken_object_graph_case.expected["object_graph_category"])


@pytest.mark.conformance("Resolve.Errors.tf1-variable", level="Required")
@pytest.mark.spec("META-9")
def test_resolve_missing_variable(check, meta_variables_case):
    check.require("resolve", tags=meta_variables_case.tags)
    _expect_not_found(check, meta_variables_case, meta_variables_case.prefix, KeyQuery(variable="no/such/variable:0"))


@pytest.mark.conformance("Resolve.Errors.saved-model", level="Required")
@pytest.mark.spec("SM-6", "SM-8")
def test_resolve_missing_in_saved_model(check, saved_model_case):
    check.require("resolve", tags=saved_model_case.tags)
    query = KeyQuery(variable="no/such/variable:0") if _is_tf1_export(saved_model_case) else KeyQuery(object=(MISSING,))
    _expect_not_found(check, saved_model_case, saved_model_case.saved_model_directory(), query)


# -- read_meta_graph ----------------------------------------------------------------------------------


def _compare_meta_graph(got: MetaGraphInfo, facts: dict, what: str) -> None:
    problems = []
    if "saver_def" in facts:
        want = MetaGraphInfo.from_json({"saver_def": facts["saver_def"]}).saver_def
        for name in SAVER_DEF_DEFAULTS:
            if got.saver_def.get(name) != want[name]:
                problems.append(f"saver_def.{name}: got {got.saver_def.get(name)!r}, TensorFlow read {want[name]!r}")
    if "collection_keys" in facts and sorted(got.collection_keys) != sorted(facts["collection_keys"]):
        problems.append(f"collection keys: got {sorted(got.collection_keys)}, TensorFlow read {sorted(facts['collection_keys'])}")
    if "tensorflow_version" in facts and got.tensorflow_version != facts["tensorflow_version"]:
        problems.append(f"tensorflow_version: got {got.tensorflow_version!r}, TensorFlow read {facts['tensorflow_version']!r}")
    if "tags" in facts and sorted(got.tags) != sorted(facts["tags"]):
        problems.append(f"tags: got {sorted(got.tags)}, TensorFlow read {sorted(facts['tags'])}")
    assert not problems, f"{what}:\n  " + "\n  ".join(problems)


@pytest.mark.conformance("Read.MetaGraph", level="Required")
@pytest.mark.spec("CONF-35", "META-1", "META-3", "META-4", "META-6")
def test_read_meta_graph(check, meta_case):
    """The ``.meta`` is found from the prefix alone (a V1 shard pattern loses its ``-?????-of-N`` tail)."""
    check.require("read_meta_graph", tags=meta_case.tags)
    facts = meta_case.expected.get("meta_graph") or {}
    got = check.call_ok(f"read_meta_graph of fixture {meta_case.id}", check.impl.read_meta_graph, meta_case.prefix)
    _compare_meta_graph(got, facts, f"{check.impl.name}'s meta graph of fixture {meta_case.id}")


@pytest.mark.conformance("Read.SavedModelMetaGraph", level="Required")
@pytest.mark.spec("CONF-35", "SM-2", "SM-4", "META-4")
def test_read_saved_model_meta_graph(check, saved_model_case):
    check.require("read_meta_graph", tags=saved_model_case.tags)
    facts = saved_model_case.expected["saved_model"]
    got = check.call_ok(f"read_meta_graph of the SavedModel of fixture {saved_model_case.id}",
                        check.impl.read_meta_graph, saved_model_case.saved_model_directory())
    _compare_meta_graph(got, facts, f"{check.impl.name}'s meta graph of the SavedModel of fixture {saved_model_case.id}")


@pytest.mark.conformance("Read.MetaGraph.Errors.missing", level="Required")
@pytest.mark.spec("CONF-35", "META-1", "META-2")
def test_read_meta_graph_missing(check, no_meta_case):
    """A checkpoint without its ``.meta`` (the ``.meta`` is optional) has no meta graph: NOT_FOUND."""
    check.require("read_meta_graph", tags=no_meta_case.tags)
    expect_rejection(check, f"read_meta_graph of fixture {no_meta_case.id}", check.impl.read_meta_graph,
                     no_meta_case.prefix, category="NOT_FOUND")
