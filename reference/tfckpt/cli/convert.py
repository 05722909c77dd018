"""``tfckpt convert SRC OUT``: a checkpoint to .safetensors, .npz or a directory of .npy (OUT ending in /),
or a .safetensors/.npz file to a checkpoint prefix.  The work is :func:`tfckpt.jobs.convert.convert`.

``--select``, ``--drop`` and ``--rename`` are ``tfckpt rewrite``'s options (exact keys, globs or
``re:<regex>``; ``OLD=NEW`` renames with a regular expression, in order).
"""

from __future__ import annotations

from .rewrite import PATTERNS_HELP, add_key_rule_options, rename_rules


def _run(args) -> int:
    from ..jobs.convert import convert
    from .progress import progress

    with progress(None, quiet=args.quiet, description="convert") as bar:
        written = convert(
            args.src, args.out, select=args.select or None, drop=args.drop or None, rename=rename_rules(args) or None,
            on_tensor=lambda key, n: bar.update(n),
        )
    if not args.quiet:
        print(f"wrote {len(written)} tensors to {args.out}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("convert", help="to/from .safetensors, .npz, a .npy directory", description=__doc__ + "\n" + PATTERNS_HELP)
    p.add_argument("src", help="a checkpoint prefix or directory, or a .safetensors/.npz file")
    p.add_argument("out", help="OUT.safetensors, OUT.npz, OUT/ (.npy files), or a checkpoint prefix")
    add_key_rule_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    p.set_defaults(run=_run)
