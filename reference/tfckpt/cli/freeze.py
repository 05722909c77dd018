"""``tfckpt freeze PREFIX [--graph X.meta|X.pb] --outputs a,b -o frozen.pb``: a checkpoint and its
graph become one GraphDef with the variables as constants, as TensorFlow's ``freeze_graph`` does.

The work is :func:`tfckpt.graph.freeze.freeze`; the file is written under a
temporary name and renamed into place, in the deterministic serialisation
(spec/freeze.md, FREEZE-1).  Without ``--graph`` the graph is ``PREFIX.meta``.
"""

from __future__ import annotations


def _names(text):
    return [n for n in (text or "").split(",") if n] or None


def _run(args) -> int:
    from ..graph.freeze import _write_frozen
    from .progress import progress

    # Streaming: one variable's value in memory at a time (benchmarks/freeze.py).
    with progress(None, quiet=args.quiet, description="freeze") as bar:
        _, frozen = _write_frozen(args.output, args.prefix, args.graph, _names(args.outputs), _names(args.whitelist),
                                  _names(args.blacklist), args.clear_devices, lambda name, n: bar.update(n))
    constants = sum(1 for n in frozen.node if n.op == "Const")
    if not args.quiet:
        print(f"wrote {args.output}: {len(frozen.node)} nodes, {constants} constants")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("freeze", help="freeze a checkpoint and its graph into a .pb GraphDef")
    p.add_argument("prefix", help="checkpoint prefix (or directory with a checkpoint state file)")
    p.add_argument("--graph", help="the .meta MetaGraphDef or binary .pb GraphDef (default: PREFIX.meta)")
    p.add_argument("--outputs", required=True, help="comma-separated output node names")
    p.add_argument("-o", "--output", required=True, help="the frozen .pb to write")
    p.add_argument("--whitelist", help="comma-separated variable node names to freeze (default: all)")
    p.add_argument("--blacklist", help="comma-separated variable node names to leave as variables")
    p.add_argument("--clear-devices", action="store_true", help="clear every node's device first")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    p.set_defaults(run=_run)
