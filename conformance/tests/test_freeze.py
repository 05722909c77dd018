"""Freezing: the implementation freezes a TF1 Saver's .meta and checkpoint; TensorFlow's frozen GraphDef is the golden.

``Required.Freeze.Bytes.<case>``: for each ``freeze`` fixture -- ref and resource variables of a
dense/conv/batch-norm model, partitioned embeddings (``Identity`` reads and ``ResourceGather``), an
EMA graph, reads of a resource variable under TF1 ``cond``/``while_loop``, a whitelist with
``clear_devices`` -- the implementation freezes the case's ``.meta`` with its checkpoint for the
case's outputs and options (spec/freeze.md), and its ``.pb`` must equal TensorFlow's
``convert_variables_to_constants`` result in the deterministic serialisation byte for byte.
``Required.Freeze.Refusals``: an output node the graph lacks, and a checkpoint without the
graph's variables, are refused cleanly, naming the node or the variable, and leave no file.
"""

from __future__ import annotations

import os
import re

import pytest

from tfckpt_conformance.checks import expect_rejection, first_difference, fixture_case, scratch_dir

FREEZE_RULES = ("FREEZE-1", "FREEZE-2", "FREEZE-3", "FREEZE-4", "FREEZE-5", "FREEZE-6", "FREEZE-7", "FREEZE-8",
                "FREEZE-11")


@pytest.fixture(scope="module")
def freeze_base(tmp_path_factory):
    return str(tmp_path_factory.mktemp("freeze"))


def _paths(case):
    return os.path.join(case.directory, case.expected["graph"]), case.prefix


@pytest.mark.conformance("Freeze.Bytes", level="Required")
@pytest.mark.spec(*FREEZE_RULES)
def test_freeze_matches_tensorflows_frozen_graph(check, freeze_case, freeze_base):
    check.require("freeze")
    graph, checkpoint = _paths(freeze_case)
    request = freeze_case.expected["freeze"]
    with scratch_dir(freeze_base) as d:
        dst = os.path.join(d, "frozen.pb")
        check.call_ok(f"freeze of {freeze_case.id} with {request}", check.impl.freeze, graph, checkpoint, dst, request)
        with open(os.path.join(freeze_case.directory, freeze_case.expected["frozen"]), "rb") as a, open(dst, "rb") as b:
            want, got = a.read(), b.read()
        assert got == want, f"the frozen graph differs from TensorFlow's: {first_difference(want, got)}"


def _case(conformance_run, cid):
    return fixture_case(conformance_run, cid, "freeze")


@pytest.mark.conformance("Freeze.Refusals", level="Required")
@pytest.mark.spec("FREEZE-12")
@pytest.mark.parametrize("mistake", ["missing-output", "variable-not-in-checkpoint"])
def test_freeze_refusals_name_what_is_missing(check, mistake, conformance_run, freeze_base):
    check.require("freeze")
    case = _case(conformance_run, "freeze-tf1-ema")
    graph, checkpoint = _paths(case)
    request = dict(case.expected["freeze"])
    if mistake == "missing-output":
        request["outputs"] = ["no_such_output"]
        named = "no_such_output"
    else:
        # The EMA graph's variable w, against the partitioned embedding's checkpoint (emb only).
        checkpoint = _case(conformance_run, "freeze-tf1-partitioned-embedding").prefix
        named = None  # either of the EMA graph's variables, w or s, whichever is looked up first
    with scratch_dir(freeze_base) as d:
        dst = os.path.join(d, "frozen.pb")
        exc = expect_rejection(check, f"freeze of {case.id} with {mistake}", check.impl.freeze, graph,
                               checkpoint, dst, request, category=None if named else "NOT_FOUND")
        if named:
            assert named in exc.message, f"the refusal does not name {named!r}: {exc.message[:300]}"
        else:
            assert re.search(r"(^|[\s'\"])[ws]($|[\s'\"])", exc.message), \
                f"the refusal names neither variable w nor s: {exc.message[:300]}"
        assert not os.path.exists(dst), "a refused freeze left a file at its destination"
