"""``tfckpt savedmodel-build [PREFIX] [--graph X.meta|X.pb] --input x=x:0 --output y=y:0 -o DIR``: a TF1
checkpoint and its graph become a SavedModel for TF Serving, as ``SavedModelBuilder`` writes it.

The work is :func:`tfckpt.graph.saved_model_build.build` (spec/savedmodel.md §7, SMB-*).  Signatures
are given as groups: ``--signature KEY`` starts one (the first defaults to ``serving_default``), the
``--input NAME=TENSOR``, ``--output NAME=TENSOR`` and ``--method predict|classify|regress|<full name>``
after it belong to it.  Without PREFIX the graph must be a frozen GraphDef; the SavedModel then has an
empty ``variables/``.  ``--simple-save`` writes exactly what ``simple_save`` would (tag ``serve``, the
graph's ``asset_filepaths``, devices cleared).
"""

from __future__ import annotations

import argparse

#: ``signature_constants.DEFAULT_SERVING_SIGNATURE_DEF_KEY`` (kept here: ``tfckpt --help`` imports no numpy).
DEFAULT_SERVING_SIGNATURE_DEF_KEY = "serving_default"


class _SignatureAction(argparse.Action):
    """Collect ``--signature/--input/--output/--method`` into an ordered list of signatures."""

    def __call__(self, parser, namespace, value, option_string=None):
        signatures = getattr(namespace, "signatures", None)
        if signatures is None:
            signatures = []
            namespace.signatures = signatures
        if self.dest == "signature":
            signatures.append({"key": value, "inputs": {}, "outputs": {}, "method_name": "predict"})
            return
        if not signatures:
            signatures.append({"key": DEFAULT_SERVING_SIGNATURE_DEF_KEY, "inputs": {}, "outputs": {},
                               "method_name": "predict"})
        current = signatures[-1]
        if self.dest == "method":
            current["method_name"] = value
            return
        name, equals, tensor = value.partition("=")
        if not equals or not name or not tensor:
            parser.error(f"{option_string} wants NAME=TENSOR (e.g. x=x:0), not {value!r}")
        group = current["inputs" if self.dest == "input" else "outputs"]
        if name in group:
            parser.error(f"signature {current['key']!r} has {option_string} {name!r} twice")
        group[name] = tensor


def _run(args) -> int:
    from ..graph import saved_model_build as b

    signatures = {}
    for signature in args.signatures or ():
        key = signature.pop("key")
        if key in signatures:
            raise SystemExit(f"tfckpt savedmodel-build: signature {key!r} given twice")
        signatures[key] = signature
    options = dict(tensorflow_git_version=args.tensorflow_git_version or b.TFCKPT_GIT_VERSION)
    if args.simple_save:
        if list(signatures) not in ([], [DEFAULT_SERVING_SIGNATURE_DEF_KEY]):
            raise SystemExit("tfckpt savedmodel-build: --simple-save writes only the serving_default signature")
        only = signatures.get(DEFAULT_SERVING_SIGNATURE_DEF_KEY, {"inputs": {}, "outputs": {}})
        b.simple_save(args.export_dir, args.prefix, args.graph, only["inputs"], only["outputs"],
                      legacy_init_op=args.main_op, **options)
    else:
        b.build(args.export_dir, args.prefix, args.graph, signatures, tuple(args.tag or ("serve",)),
                assets_collection=args.asset, main_op=args.main_op, clear_devices=args.clear_devices, **options)
    import os

    from ..graph.saved_model import read_saved_model, variables_prefix

    meta = read_saved_model(args.export_dir).meta_graphs[0]
    variables = 0
    if os.listdir(os.path.join(args.export_dir, "variables")):
        from ..checkpoint_reader import list_variables

        variables = len(list_variables(variables_prefix(args.export_dir)))
    print(f"wrote {args.export_dir}: {len(meta.graph_def.node)} nodes, {variables} variables, "
          f"signatures {', '.join(sorted(meta.signature_def)) or '(none)'}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("savedmodel-build", help="build a TF1 SavedModel from a checkpoint and its graph")
    p.add_argument("prefix", nargs="?", help="checkpoint prefix (or directory with a checkpoint state file); "
                   "leave out for a frozen GraphDef")
    p.add_argument("--graph", help="the .meta MetaGraphDef or a frozen binary .pb GraphDef (default: PREFIX.meta)")
    p.add_argument("-o", "--export-dir", required=True, help="the export directory to create (new or empty)")
    p.add_argument("--signature", action=_SignatureAction, metavar="KEY",
                   help="start a signature (default key serving_default); repeat for several")
    p.add_argument("--input", action=_SignatureAction, metavar="NAME=TENSOR", help="an input of the signature")
    p.add_argument("--output", action=_SignatureAction, metavar="NAME=TENSOR", help="an output of the signature")
    p.add_argument("--method", action=_SignatureAction, help="predict (default), classify, regress or a full name")
    p.add_argument("--tag", action="append", help="a tag of the meta graph (repeat; default: serve)")
    p.add_argument("--asset", action="append", help="a string Const tensor holding an asset file's path (repeat)")
    p.add_argument("--main-op", help="an op the loader runs after restoring (e.g. a tables initializer)")
    p.add_argument("--clear-devices", action="store_true", help="clear every node's device")
    p.add_argument("--simple-save", action="store_true", help="what simple_save writes (serve, devices cleared)")
    p.add_argument("--tensorflow-git-version", help=argparse.SUPPRESS)
    p.set_defaults(run=_run, signatures=None)
