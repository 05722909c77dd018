"""Graph inspection: the implementation reads a ``.meta`` as TensorFlow's ``import_meta_graph`` rebuilds it.

``Required.Graph.Facts.<case>``: for each ``graph`` fixture -- the ``.meta`` files of TF1 graphs
written by TensorFlow 2.21 (ref and resource variables, a partitioned embedding, an EMA graph,
``cond``/``while_loop`` reads) and by TensorFlow 1.15.5, 1.4.0 and 0.12.1 (an Estimator, a
partitioned variable, Adam with moving averages) -- the implementation's answer to ``graph``
must equal what TensorFlow 2.21 rebuilt from the same bytes (``graph.json``): every node with
its op, in the GraphDef's order; every tensor ``node:i`` with its dtype (GRAPH-5); the collections of
GRAPH-6, item for item; and each variable of the ``variables`` collection with the checkpoint
key (and slice) a TF1 ``Saver`` gives it (GRAPH-7); and its ``text`` must be the bytes of
TensorFlow's ``tf.io.write_graph(as_text=True)`` of the message (``text.pbtxt``, GRAPH-1, GRAPH-2).
One case is the text ``graph.pbtxt`` of TF 1.15.5's Estimator: parsed (old printers'
floats, GRAPH-3) to the message TensorFlow parses (GRAPH-4), imported by ``import_graph_def``; a
GraphDef carries no OpDefs, so a tensor's dtype may be answered as unknown (null) there (GRAPH-5).
"""

from __future__ import annotations

import json
import os

import pytest

from tfckpt_conformance.checks import first_difference


def _facts(case) -> dict:
    with open(os.path.join(case.directory, case.expected["graph_facts"]), encoding="utf-8") as handle:
        return json.load(handle)


@pytest.mark.conformance("Graph.Facts", level="Required")
@pytest.mark.spec("GRAPH-1", "GRAPH-2", "GRAPH-3", "GRAPH-4", "GRAPH-5", "GRAPH-6", "GRAPH-7")
def test_graph_equals_import_meta_graph(check, graph_case):
    check.require("graph")
    want = _facts(graph_case)
    got = check.call_ok(f"graph of {graph_case.id}", check.impl.graph,
                        os.path.join(graph_case.directory, graph_case.expected["graph"]))
    bare = graph_case.expected["graph"].endswith(".pbtxt")  # a GraphDef: no OpDefs in the file (GRAPH-5)
    for part in ("nodes", "tensors"):
        mine = [list(x) for x in got.get(part, [])]
        if part == "tensors" and bare:  # its dtypes come from an op registry: unknown (null) is allowed
            mine = [[n, want_t[1] if t is None else t] for (n, t), want_t in zip(mine, want[part])] + mine[len(want[part]):]
        if mine != want[part]:
            first = next((i for i, (a, b) in enumerate(zip(mine, want[part])) if a != b), min(len(mine), len(want[part])))
            pytest.fail(f"{part} differ from TensorFlow's at index {first}: "
                        f"{mine[first:first + 1]} != {want[part][first:first + 1]} ({len(mine)} vs {len(want[part])})")
    collections = got.get("collections", {})
    assert sorted(collections) == sorted(want["collections"]), "not the collections GRAPH-6 names"
    for key, items in want["collections"].items():
        assert list(collections[key]) == items, f"collection {key!r} differs from TensorFlow's"
    assert [dict(v) for v in got.get("variables", [])] == want["variables"], "variables' checkpoint keys differ"
    with open(os.path.join(graph_case.directory, graph_case.expected["text"]), "rb") as handle:
        text = handle.read()
    mine = str(got.get("text", "")).encode("utf-8")
    assert mine == text, f"the text format differs from TensorFlow's write_graph: {first_difference(text, mine)}"
