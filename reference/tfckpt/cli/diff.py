"""``tfckpt diff A B``: what differs between two checkpoints; exit 0 if equal, 1 if not.

Output: one line per difference (``only in A``, ``only in B``, a dtype or shape
change, or ``max|a-b|`` and relative L2 change of a tensor whose values differ),
then a summary line; ``--json`` prints the whole result as one JSON object.
The work is :func:`tfckpt.jobs.diff.diff` (tensor by tensor, bounded memory).
"""

from __future__ import annotations


def _run(args) -> int:
    import dataclasses
    import json

    from ..jobs.diff import diff
    from .progress import progress

    with progress(None, quiet=args.quiet or args.json, description="diff") as bar:
        result = diff(args.a, args.b, atol=args.atol, rtol=args.rtol, on_tensor=lambda key, n: bar.update(n))
    if args.json:
        record = dataclasses.asdict(result)
        record["equal"] = result.equal
        print(json.dumps(record))
        return 0 if result.equal else 1
    for key in result.only_in_a:
        print(f"only in A: {key}")
    for key in result.only_in_b:
        print(f"only in B: {key}")
    for change in result.changed:
        if change.reason == "dtype":
            print(f"dtype:     {change.key} {change.dtype[0]} -> {change.dtype[1]}")
        elif change.reason == "shape":
            print(f"shape:     {change.key} {change.shape[0]} -> {change.shape[1]}")
        elif change.max_abs is None:
            print(f"values:    {change.key} ({change.dtype[0]}) differ")
        else:
            print(f"values:    {change.key} max|a-b|={change.max_abs:.6g} rel_l2={change.rel_l2:.6g}")
    verdict = "equal" if result.equal else "different"
    print(
        f"# {verdict}: {result.same} equal, {len(result.changed)} changed, "
        f"{len(result.only_in_a)} only in A, {len(result.only_in_b)} only in B"
    )
    return 0 if result.equal else 1


def register(subparsers) -> None:
    p = subparsers.add_parser("diff", help="compare two checkpoints (exit 0 equal, 1 different)", description=__doc__)
    p.add_argument("a", help="checkpoint A: a prefix, or a directory with a 'checkpoint' state file")
    p.add_argument("b", help="checkpoint B")
    p.add_argument("--atol", type=float, default=0.0, help="absolute tolerance (default 0: exact)")
    p.add_argument("--rtol", type=float, default=0.0, help="relative tolerance (default 0: exact)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_run)
