"""``tfckpt convert SRC OUT``: a checkpoint to .safetensors, .npz or a directory of .npy (OUT ending in /),
or a .safetensors/.npz file to a checkpoint prefix.  The work is :func:`tfckpt.jobs.convert.convert`.

``--select``, ``--drop`` and ``--rename`` are ``tfckpt rewrite``'s options (exact keys, globs or
``re:<regex>``; ``OLD=NEW`` renames with a regular expression, in order).

Keras 3 weight files: SRC ending in .h5/.keras is read by its HDF5 dataset paths.  With
``--keras-layers LAYERS.json`` (a list with one ``{"class_name": "Dense", "weights":
["sequential/dense/kernel", ...], "attribute": null}`` per layer of ``model.layers``),
``--keras-kind sequential|functional|subclassed`` and optionally ``--keras-name``, a
.weights.h5 becomes the checkpoint ``tf.train.Checkpoint(model=model)`` restores, and a
checkpoint becomes OUT.weights.h5 for ``model.load_weights``.
"""

from __future__ import annotations

from .rewrite import PATTERNS_HELP, add_key_rule_options, rename_rules


def _keras_layers(path):
    import json

    from .. import errors

    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            layers = json.load(f)
    except OSError as exc:
        raise errors.from_os_error(exc, "reading --keras-layers", file=path) from exc
    except ValueError as exc:
        raise errors.InvalidArgumentError(f"--keras-layers is not JSON: {exc}", file=path) from None
    if not isinstance(layers, list) or not all(isinstance(l, dict) and isinstance(l.get("class_name"), str)
                                               and isinstance(l.get("weights", []), list) for l in layers):
        raise errors.InvalidArgumentError(
            'expected a list of {"class_name": str, "weights": [str, ...], "attribute": str|null}', file=path)
    return layers


def _run(args) -> int:
    from ..jobs.convert import convert
    from .progress import progress

    with progress(None, quiet=args.quiet, description="convert") as bar:
        written = convert(
            args.src, args.out, select=args.select or None, drop=args.drop or None, rename=rename_rules(args) or None,
            on_tensor=lambda key, n: bar.update(n),
            keras_layers=_keras_layers(args.keras_layers), keras_kind=args.keras_kind, keras_name=args.keras_name,
        )
    if not args.quiet:
        print(f"wrote {len(written)} tensors to {args.out}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("convert", help="to/from .safetensors, .npz, a .npy directory", description=__doc__ + "\n" + PATTERNS_HELP)
    p.add_argument("src", help="a checkpoint prefix or directory, or a .safetensors/.npz/.weights.h5/.keras file")
    p.add_argument("out", help="OUT.safetensors, OUT.npz, OUT/ (.npy files), OUT.weights.h5 (with --keras-layers), "
                               "or a checkpoint prefix")
    add_key_rule_options(p)
    p.add_argument("--keras-layers", metavar="LAYERS.json", help="a Keras model's layers: convert to/from .weights.h5")
    p.add_argument("--keras-kind", default="sequential", choices=["sequential", "functional", "subclassed"])
    p.add_argument("--keras-name", help="the model's name (default: from the weight paths)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    p.set_defaults(run=_run)
