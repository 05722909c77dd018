"""``tfckpt graph PATH [--ops] [--tensors] [--collections] [--as-text] [--json]``: what a ``.meta``,
``.pb``, ``.pbtxt`` or SavedModel's graph holds, without TensorFlow.

The work is :mod:`tfckpt.graph.inspect`; ``--as-text`` prints the message as
``export_meta_graph(as_text=True)`` writes it (spec/graph.md, GRAPH-1).  With no
option: a summary (producer, node and op counts, variables and their checkpoint keys).
"""

from __future__ import annotations


def _run(args) -> int:
    import json
    import sys

    from ..graph.inspect import load

    graph = load(args.path, tags=[t for t in (args.tag_set or "serve").split(",") if t])
    if args.as_text:
        sys.stdout.write(graph.as_text())
        return 0
    record = {}
    if args.ops:
        record["nodes"] = [vars(n) for n in graph.nodes]
    if args.tensors:
        record["tensors"] = [vars(t) for t in graph.tensors()]
    if args.collections:
        record["collections"] = graph.collections
    if not record:
        record = {"path": graph.path, "meta_info_def": graph.meta_info_def, "nodes": len(graph.graph_def.node),
                  "ops": sorted({n.op for n in graph.graph_def.node}), "saver_def": graph.saver_def,
                  "variables": graph.variables(), "signatures": graph.signatures}
    if args.json:
        print(json.dumps(record, default=repr))
        return 0
    if "nodes" in record and isinstance(record["nodes"], list):
        for n in record["nodes"]:
            device = f" @{n['device']}" if n["device"] else ""
            print(f"{n['name']} = {n['op']}({', '.join(n['inputs'])}){device}")
    if "tensors" in record:
        for t in record["tensors"]:
            print(f"{t['name']} {t['dtype'] or '?'} {t['shape'] if t['shape'] is not None else '<unknown>'}")
    if "collections" in record:
        for name, c in record["collections"].items():
            print(f"{name} ({c['kind']}): {c['value']}")
    if not (args.ops or args.tensors or args.collections):
        for key, value in record.items():
            print(f"{key}: {value}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("graph", help="show a .meta/.pb/.pbtxt graph or a SavedModel's graph")
    p.add_argument("path", help="a .meta, .pb, .pbtxt file or a SavedModel directory")
    p.add_argument("--ops", action="store_true", help="every node: name = op(inputs) @device")
    p.add_argument("--tensors", action="store_true", help="every tensor node:N with dtype and shape")
    p.add_argument("--collections", action="store_true", help="the collections, decoded")
    p.add_argument("--as-text", action="store_true", help="the message in TensorFlow's text format")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.add_argument("--tag-set", help="SavedModel: the meta graph's tags (default serve)")
    p.set_defaults(run=_run)
