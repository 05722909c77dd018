"""Object-based (TF2) checkpoints: the ``_CHECKPOINTABLE_OBJECT_GRAPH`` an implementation returns, judged by the suite.

``Required.Read.ObjectGraph.<case>``, over the golden fixtures tagged
``object_graph``: the implementation reads the checkpoint; the suite takes the
object graph string *it returned*, decodes it with its own wire decoder
(:mod:`tfckpt_conformance.wire`, no implementation code), and checks the
rules of spec/object-graph.md against the graph and against the keys the
implementation returned: node numbering and paths (breadth-first), escaping,
``.ATTRIBUTES`` and ``.OPTIMIZER_SLOT`` keys, ``has_checkpoint_values``, field
order, ``save_counter``.  The graph was written by TensorFlow 2.21, so every
rule holds in the fixture; an implementation fails when the bytes or keys it
returns are not exactly the stored ones.
"""

from __future__ import annotations

from collections import deque

import pytest

from tfckpt_conformance import wire
from tfckpt_conformance.description import STRING

GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


def esc(name: str) -> str:
    """OBJ-7: '.' -> '..' first, then '/' -> '.S'."""
    return name.replace(".", "..").replace("/", ".S")


class Node:
    def __init__(self, raw: bytes) -> None:
        self.raw = wire.decode(raw)
        self.children = [(wire.varint_to_int32(wire.first(ref, 1, 0)), wire.first(ref, 2, b"").decode("utf-8"))
                         for ref in (wire.decode(f.value) for f in wire.fields(self.raw, 1))]
        self.attributes = [{"name": wire.first(a, 1, b"").decode("utf-8"),
                            "full_name": wire.first(a, 2, b"").decode("utf-8"),
                            "checkpoint_key": wire.first(a, 3, b"").decode("utf-8"), "raw": a}
                           for a in (wire.decode(f.value) for f in wire.fields(self.raw, 2))]
        self.slots = [(wire.varint_to_int32(wire.first(s, 1, 0)), wire.first(s, 2, b"").decode("utf-8"),
                       wire.varint_to_int32(wire.first(s, 3, 0)), s)
                      for s in (wire.decode(f.value) for f in wire.fields(self.raw, 3))]
        self.registered_saver = wire.first(self.raw, 4)
        hcv = wire.fields(self.raw, 5)
        self.has_values_raw = hcv[-1].value if hcv else None


def _field_order_problems(what: str, message) -> list[str]:
    numbers = [f.number for f in message]
    return [] if numbers == sorted(numbers) else [f"{what}: fields not in field-number order: {numbers}"]


def _graph_problems(nodes: list[Node], keys: dict) -> list[str]:
    problems: list[str] = []
    n = len(nodes)
    # OBJ-4: every reference in range.
    for i, node in enumerate(nodes):
        for child, name in node.children:
            if not 0 <= child < n:
                problems.append(f"node {i}: child {name!r} -> node {child} out of range (0..{n - 1})")
        for original, slot_name, slot_node, _ in node.slots:
            if not (0 <= original < n and 0 <= slot_node < n):
                problems.append(f"node {i}: slot {slot_name!r} references out of range ({original}, {slot_node})")
    if problems:
        return problems
    # OBJ-6 step 1 / OBJ-8: breadth-first numbering and first-discovery paths (visited set: OBJ-5).
    path = {0: ""}
    order = [0]
    queue = deque([0])
    while queue:
        i = queue.popleft()
        for child, name in nodes[i].children:
            if child not in path:
                path[child] = esc(name) if i == 0 else f"{path[i]}/{esc(name)}"
                order.append(child)
                queue.append(child)
    if order != list(range(len(order))):
        problems.append(f"nodes not numbered in breadth-first order of discovery: {order[:20]}")
    # OBJ-6 step 2 / OBJ-11: slot variables numbered after, optimizer by optimizer, slot name by slot name.
    next_id = len(order)
    for i, node in enumerate(nodes):
        names = list(dict.fromkeys(s[1] for s in node.slots))
        for slot_name in names:
            for original, _, slot_node, _ in sorted((s for s in node.slots if s[1] == slot_name), key=lambda s: s[0]):
                if slot_node != next_id:
                    problems.append(f"slot {slot_name!r} of variable node {original} (optimizer node {i}) is node "
                                    f"{slot_node}, expected {next_id}")
                next_id += 1
                if slot_node not in path:
                    path[slot_node] = f"{path.get(original, '?')}/.OPTIMIZER_SLOT/{path.get(i, '?')}/{esc(slot_name)}"
                if nodes[slot_node].children:
                    problems.append(f"slot variable node {slot_node} has children")
    unreached = [i for i in range(n) if i not in path]
    if unreached:
        problems.append(f"nodes neither reachable from the root nor slot variables: {unreached[:10]}")
    # OBJ-9 / OBJ-10 / OBJ-12 / OBJ-13: attribute keys, and each names what the implementation returned.
    for i, node in enumerate(nodes):
        for attr in node.attributes:
            key = attr["checkpoint_key"]
            if i in path:
                want = f"{path[i]}/.ATTRIBUTES/{esc(attr['name'])}"
                if key != want:
                    problems.append(f"node {i} attribute {attr['name']!r}: checkpoint_key {key!r}, the path rule "
                                    f"gives {want!r}")
            if key not in keys and not any(k.startswith(key + "-") for k in keys):
                problems.append(f"node {i} attribute {attr['name']!r}: checkpoint_key {key!r} names no tensor the "
                                f"implementation returned (nor a prefix of one)")
    # OBJ-17: has_checkpoint_values on every node, true iff something below holds values.
    holds = [bool(nd.attributes or nd.slots or nd.registered_saver is not None) for nd in nodes]
    for i, node in enumerate(nodes):
        seen, stack, value = {i}, [i], False
        while stack and not value:
            j = stack.pop()
            value = holds[j]
            for child, _ in nodes[j].children:
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        want = b"\x08\x01" if value else b""
        if node.has_values_raw is None:
            problems.append(f"node {i}: has_checkpoint_values absent")
        elif node.has_values_raw != want:
            problems.append(f"node {i}: has_checkpoint_values payload {node.has_values_raw.hex()}, expected "
                            f"{want.hex() or 'empty'}")
        # OBJ-21: fields in field-number order, in every message.
        problems += _field_order_problems(f"node {i}", node.raw)
        for attr in node.attributes:
            problems += _field_order_problems(f"node {i} attribute {attr['name']!r}", attr["raw"])
        for slot in node.slots:
            problems += _field_order_problems(f"node {i} slot {slot[1]!r}", slot[3])
    # OBJ-19: tf.train.Checkpoint's save_counter is an int64 scalar under its fixed key.
    if any(name == "save_counter" for _, name in nodes[0].children):
        t = keys.get("save_counter/.ATTRIBUTES/VARIABLE_VALUE")
        if t is None or t.dtype != "int64" or tuple(t.shape) != ():
            problems.append(f"root has a save_counter child but save_counter/.ATTRIBUTES/VARIABLE_VALUE is "
                            f"{'missing' if t is None else f'{t.dtype} {list(t.shape)}'}")
    return problems


@pytest.mark.conformance("Read.ObjectGraph", level="Required")
@pytest.mark.spec("OBJ-1", "OBJ-2", "OBJ-3", "OBJ-4", "OBJ-5", "OBJ-6", "OBJ-7", "OBJ-8", "OBJ-9", "OBJ-10",
                  "OBJ-11", "OBJ-12", "OBJ-13", "OBJ-17", "OBJ-18", "OBJ-19", "OBJ-21", "SM-1")
def test_read_object_graph(check, object_graph_case):
    check.require("read", tags=object_graph_case.tags)
    got = check.call_ok(f"read of fixture {object_graph_case.id}", check.impl.read, object_graph_case.prefix,
                        verify=True)
    keys = got.by_key()
    graph = keys.get(GRAPH_KEY)
    assert graph is not None, f"{GRAPH_KEY} is not among the tensors returned for {object_graph_case.id}"
    assert graph.dtype == STRING and tuple(graph.shape) == (), \
        f"{GRAPH_KEY} returned as {graph.dtype} {list(graph.shape)}, expected a string scalar"
    try:
        nodes = [Node(f.value) for f in wire.fields(wire.decode(graph.strings[0]), 1)]
    except (wire.WireError, UnicodeDecodeError) as exc:
        pytest.fail(f"the returned {GRAPH_KEY} is not a TrackableObjectGraph: {exc}", pytrace=False)
    assert nodes, f"the returned {GRAPH_KEY} has no nodes"
    problems = _graph_problems(nodes, keys)
    assert not problems, f"object graph of {object_graph_case.id} as returned:\n  " + "\n  ".join(problems[:20])
