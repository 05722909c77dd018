"""``tfckpt rewrite SRC DST``: a subset, renamed, the moving averages, without the optimizer (see :mod:`tfckpt.jobs.rewrite`)."""

from __future__ import annotations


PATTERNS_HELP = "Patterns are exact keys, globs (dense/*), or regular expressions written re:<regex>."


def add_key_rule_options(p) -> None:
    """--select, --drop and --rename, as ``rewrite`` and ``convert`` both take them (jobs/key_rules.py)."""
    p.add_argument("--select", action="append", default=[], metavar="P", help="keep only keys matching P (repeatable)")
    p.add_argument("--drop", action="append", default=[], metavar="P", help="leave out keys matching P (repeatable)")
    p.add_argument("--rename", action="append", default=[], metavar="OLD=NEW",
                   help="rename keys: OLD is a regular expression, NEW its replacement (repeatable, applied in order)")


def rename_rules(args) -> list:
    """``--rename OLD=NEW`` options as (regex, replacement) pairs."""
    from .. import errors

    renames = []
    for rule in args.rename:
        old, sep, new = rule.partition("=")
        if not sep or not old:
            raise errors.InvalidArgumentError(f"--rename takes OLD=NEW (a regex and its replacement), not {rule!r}")
        renames.append((old, new))
    return renames


def _run(args) -> int:
    from .. import errors
    from ..jobs.rewrite import rewrite

    renames = rename_rules(args)
    casts = {}
    for cast in args.dtype:
        a, sep, b = cast.partition(":")
        if not sep:
            raise errors.InvalidArgumentError(f"--dtype takes FROM:TO, e.g. float32:bfloat16, not {cast!r}")
        casts[a] = b
    from .progress import progress

    with progress(None, quiet=args.quiet or args.dry_run, description="rewrite") as bar:
        plan = rewrite(args.src, args.dst, select=args.select or None, drop=args.drop or None, rename=renames or None,
                       ema=args.ema, strip_optimizer=args.strip_optimizer, dtype=casts or None,
                       assemble_partitions=args.assemble_partitions, dry_run=args.dry_run,
                       on_tensor=lambda key, n: bar.update(n))
    print(plan.summary())
    print(f"# {'would write' if args.dry_run else 'wrote'} {len(plan.kept)} tensors to {args.dst}")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "rewrite", help="copy a checkpoint with a subset, renamed keys, EMA values, no optimizer, or cast floats",
        description="Stream SRC (a prefix, V1 file, or a directory with a 'checkpoint' file) into a new V2 "
                    "checkpoint DST, one tensor in memory at a time. " + PATTERNS_HELP + " Nothing is written when a request cannot be met.")
    p.add_argument("src", help="the source checkpoint")
    p.add_argument("dst", help="the prefix to write (must not be SRC)")
    add_key_rule_options(p)
    p.add_argument("--ema", action="store_true", help="take each X/ExponentialMovingAverage as X")
    p.add_argument("--strip-optimizer", action="store_true", help="drop optimizer slots and state (TF1 and TF2)")
    p.add_argument("--dtype", action="append", default=[], metavar="FROM:TO", help="cast floats, e.g. float32:bfloat16")
    p.add_argument("--assemble-partitions", action="store_true", help="write partitioned variables whole")
    p.add_argument("--dry-run", action="store_true", help="print what would happen; write nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_run)
