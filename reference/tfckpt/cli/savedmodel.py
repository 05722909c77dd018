"""``tfckpt savedmodel DIR [--tag-set serve] [--signature-def K] [--all]``: a SavedModel's tag sets,
signatures and ops, printed line for line as ``saved_model_cli show`` prints them.

The work is :mod:`tfckpt.graph.saved_model_show` (spec/graph.md, GRAPH-10..15).
"""

from __future__ import annotations


def _run(args) -> int:
    import sys

    from ..graph.saved_model_show import show

    sys.stdout.write(show(args.dir, args.tag_set, args.signature_def, all=args.all))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("savedmodel", help="show a SavedModel's signatures like saved_model_cli show")
    p.add_argument("dir", help="the SavedModel directory (holding saved_model.pb)")
    p.add_argument("--tag-set", help="comma-separated tags of one meta graph (e.g. serve)")
    p.add_argument("--signature-def", help="one signature's inputs and outputs (with --tag-set)")
    p.add_argument("--all", action="store_true", help="every meta graph, signature and op")
    p.set_defaults(run=_run)
