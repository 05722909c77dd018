"""``tfckpt convert SRC OUT``: a checkpoint to .safetensors, .npz or a directory of .npy (OUT ending in /),
or a .safetensors/.npz file to a checkpoint prefix.  The work is :func:`tfckpt.jobs.convert.convert`.

``--select GLOB`` keeps matching keys (repeatable); ``--rename REGEX=REPLACEMENT`` renames
keys with ``re.sub`` (repeatable, in order).
"""

from __future__ import annotations

import argparse


def _rename_rule(text: str):
    pattern, sep, replacement = text.partition("=")
    if not sep or not pattern:
        raise argparse.ArgumentTypeError(f"{text!r} is not REGEX=REPLACEMENT")
    return pattern, replacement


def _run(args) -> int:
    from ..jobs.convert import convert
    from .progress import progress

    with progress(None, quiet=args.quiet, description="convert") as bar:
        written = convert(
            args.src, args.out, select=args.select, rename=args.rename or (), on_tensor=lambda key, n: bar.update(n)
        )
    if not args.quiet:
        print(f"wrote {len(written)} tensors to {args.out}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("convert", help="to/from .safetensors, .npz, a .npy directory", description=__doc__)
    p.add_argument("src", help="a checkpoint prefix or directory, or a .safetensors/.npz file")
    p.add_argument("out", help="OUT.safetensors, OUT.npz, OUT/ (.npy files), or a checkpoint prefix")
    p.add_argument("--select", action="append", metavar="GLOB", help="keep only keys matching (repeatable)")
    p.add_argument("--rename", action="append", type=_rename_rule, metavar="REGEX=REPLACEMENT")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    p.set_defaults(run=_run)
