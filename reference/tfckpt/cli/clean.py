"""``tfckpt clean DIR``: remove the leftovers of interrupted writes (see :mod:`tfckpt.jobs.clean`)."""

from __future__ import annotations


def _run(args) -> int:
    from ..jobs.clean import clean

    removed = clean(args.dir, older_than=args.older_than, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for path in removed:
        print(f"{verb} {path}")
    print(f"# {len(removed)} leftover file(s) {verb}")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "clean",
        help="remove temporary and orphan files that interrupted writes left in a directory",
        description="Remove what killed writers leave behind: *.tempstate<N> files, checkpoint.tmp<hex>, data "
                    "files whose .index is missing, and unfinished sharded saves (<prefix>_temp*/part-*). "
                    "Complete checkpoints are never touched.",
    )
    p.add_argument("dir", help="a checkpoint directory")
    p.add_argument("--older-than", type=float, default=0.0, metavar="SECONDS",
                   help="spare files modified in the last SECONDS (a writer may still be running)")
    p.add_argument("--dry-run", action="store_true", help="list what would be removed; remove nothing")
    p.set_defaults(run=_run)
