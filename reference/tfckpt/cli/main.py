"""``tfckpt`` on the command line: inspect and verify checkpoints without TensorFlow.

::

    tfckpt ls PATH               one line per tensor: name, dtype, shape (like inspect_checkpoint)
    tfckpt show PATH NAME        print one tensor's value
    tfckpt verify PATH           read every tensor, checking every checksum; exit 1 on the first error
    tfckpt state DIR             the directory's checkpoint state file, paths resolved
    tfckpt inspect --file_name=P TensorFlow's inspect_checkpoint, byte for byte (cli/inspect.py)

PATH is a checkpoint prefix, a directory with a ``checkpoint`` state file, or
an ``.index``/``.data-*`` file of the checkpoint.  Errors are printed with the
file, key and offset they concern, and the exit status is 1 (TensorFlow's
``inspect_checkpoint`` prints errors and exits 0).
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from .. import errors

# numpy and the readers are imported inside the commands, so ``tfckpt --help`` costs
# nothing but argparse.


def _cmd_ls(args) -> int:
    import json
    import math
    import re

    from ..checkpoint_reader import load_checkpoint

    # No numpy on this path: listing starts in a tenth of a second (tfckpt/_lazy.py).
    with load_checkpoint(args.path) as reader:
        if args.objects:
            return _print_objects(reader)
        shapes = reader.get_variable_to_shape_map()
        dtypes = reader.get_variable_to_dtype_map()
        excluded = re.compile(args.exclude) if args.exclude else None
        total = skipped = skipped_params = 0
        for name in sorted(shapes):
            shape = shapes[name]
            params = math.prod(shape)
            if excluded is not None and excluded.search(name):
                skipped += 1
                skipped_params += params
            else:
                total += params
            if args.json:
                entry = reader.entry(name)
                record = {
                    "key": name,
                    "dtype": dtypes[name].name,
                    "shape": shape,
                    "size": int(getattr(entry, "size", 0) or 0),
                    "shard": getattr(entry, "shard_id", None),
                    "partitioned": bool(getattr(entry, "slices", None)),
                }
                print(json.dumps(record))
            else:
                print(f"{name} ({dtypes[name].name}) {shape}")
        if not args.json:
            counted = len(shapes) - skipped
            line = f"# {counted} tensors, {total} parameters in all"
            if excluded is not None:
                line += f" (not counting {skipped} tensors, {skipped_params} parameters, matching {args.exclude})"
            print(f"{line} ({reader.path})")
    return 0


def _print_objects(reader) -> int:
    """A TF2 checkpoint's object graph: each object path with the keys of its attributes."""
    from ..objects.object_graph import node_paths, read_object_graph, slot_variable_paths

    graph = read_object_graph(reader)
    if graph is None:
        print("# no object graph: a name-based (TF1) checkpoint; keys are variable names")
        return 0
    paths = node_paths(graph)
    paths.update(slot_variable_paths(graph, paths))
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    for node_id in sorted(paths, key=lambda n: paths[n]):
        node = graph.nodes[node_id]
        for attribute in node.attributes:
            key = attribute.checkpoint_key
            where = f"({dtypes[key].name}) {shapes[key]}" if key in shapes else "(missing from the index)"
            full = f"  [{attribute.full_name}]" if attribute.full_name else ""
            print(f"{paths[node_id] or '(root)'}  {attribute.name} -> {key} {where}{full}")
    print(f"# {len(graph.nodes)} objects, {sum(len(n.attributes) for n in graph.nodes)} saved attributes")
    return 0


def _cmd_show(args) -> int:
    import numpy as np

    from ..checkpoint_reader import load_checkpoint

    with load_checkpoint(args.path) as reader:
        value = reader.get_slice(args.name, args.slice) if args.slice else reader.get_tensor(args.name)
        dtype = reader.get_variable_to_dtype_map()[args.name].name
    if args.npy:
        # np.save needs allow_pickle for strings (object arrays of bytes) only.
        np.save(args.npy, value, allow_pickle=value.dtype == object)
        print(f"wrote {args.npy}: {args.name} ({dtype}) {list(value.shape)}")
    elif args.json:
        import json

        data = value.tolist() if value.dtype != object else [v.decode("utf-8", "backslashreplace") for v in value.ravel()]
        if value.dtype != object and value.dtype.kind not in "biuf":  # bfloat16, float8, complex: as float/str
            data = value.astype(np.float64).tolist() if value.dtype.kind != "c" else [str(v) for v in value.ravel()]
        print(json.dumps({"key": args.name, "dtype": dtype, "shape": list(value.shape), "value": data}))
    elif args.name == "_CHECKPOINTABLE_OBJECT_GRAPH" and value.shape == () and isinstance(value.item(), bytes):
        # The object graph is a serialized TrackableObjectGraph: shown decoded, in text format.
        from google.protobuf import text_format

        from ..objects.object_graph import parse_object_graph

        print(f"{args.name} ({dtype}) [] -- a TrackableObjectGraph (tfckpt ls --objects: paths and keys)")
        print(text_format.MessageToString(parse_object_graph(value.item())), end="")
    else:
        print(f"{args.name} ({dtype}) {list(value.shape)}")
        with np.printoptions(threshold=args.threshold):
            print(value)
    return 0


def _cmd_verify(args) -> int:
    from ..checkpoint_reader import load_checkpoint
    from .progress import progress, tensor_bytes

    with load_checkpoint(args.path, verify_checksums=True) as reader:
        names = sorted(reader.get_variable_to_shape_map())
        sizes = {name: tensor_bytes(reader, name) for name in names}
        with progress(sum(sizes.values()), quiet=args.quiet, description="verify") as bar:
            for name in names:
                reader.get_tensor(name)
                bar.update(sizes[name])
    print(f"OK: {len(names)} tensors read, every checksum verified")
    return 0


def _cmd_state(args) -> int:
    import os

    from ..state_file import get_checkpoint_state, latest_checkpoint

    if not os.path.isdir(args.dir):
        what = "is a file, not a directory" if os.path.exists(args.dir) else "does not exist"
        print(f"tfckpt: {args.dir} {what}; pass the directory holding the 'checkpoint' state file", file=sys.stderr)
        return 1
    state = get_checkpoint_state(args.dir)
    if state is None:
        print(f"no readable checkpoint state file in {args.dir}")
        return 1
    print(state, end="")
    print(f"# latest existing checkpoint: {latest_checkpoint(args.dir)}")
    return 0


#: Modules of this package that add subcommands, each with ``register(subparsers)``: one job, one
#: module (rewrite, graph, freeze, ...). A command's module is imported only to build the parser.
COMMAND_MODULES: tuple = ("inspect", "clean", "rewrite", "diff", "convert", "freeze", "savedmodel", "graph",
                           "savedmodel_build")


_PATH_HELP = "a checkpoint prefix (dir/ckpt-1), a directory with a 'checkpoint' state file, or its .index file"


def _register_core(sub) -> None:
    p = sub.add_parser("ls", help="list tensors with dtype and shape")
    p.add_argument("path", help=_PATH_HELP)
    p.add_argument("--json", action="store_true", help="one JSON object per tensor")
    p.add_argument("--exclude", metavar="REGEX", help="leave tensors matching REGEX out of the parameter count")
    p.add_argument("--objects", action="store_true",
                   help="TF2 checkpoints: the object graph, each object path with its attributes' keys")
    p.set_defaults(run=_cmd_ls)
    p = sub.add_parser("show", help="print one tensor")
    p.add_argument("path", help=_PATH_HELP)
    p.add_argument("name")
    p.add_argument("--threshold", type=int, default=1000, help="numpy print threshold (elements)")
    p.add_argument("--slice", help="only this slice, TensorFlow's syntax: '0,10:-' (start,length per dim; - = all)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object: key, dtype, shape, value")
    out.add_argument("--npy", metavar="FILE", help="write the value to FILE.npy instead of printing it")
    p.set_defaults(run=_cmd_show)
    p = sub.add_parser("verify", help="read every tensor, verifying every checksum")
    p.add_argument("path", help=_PATH_HELP)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_cmd_verify)
    p = sub.add_parser("state", help="show a directory's checkpoint state file")
    p.add_argument("dir")
    p.set_defaults(run=_cmd_state)


def main(argv: Optional[Sequence[str]] = None) -> int:
    import importlib
    parser = argparse.ArgumentParser(prog="tfckpt", description="Inspect TensorFlow checkpoints without TensorFlow.")
    sub = parser.add_subparsers(dest="command", required=True)
    _register_core(sub)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__package__}.{name}").register(sub)
    args = parser.parse_args(argv)
    try:
        status = args.run(args)
        sys.stdout.flush()
        return status
    except errors.CheckpointError as exc:
        print(f"tfckpt: {type(exc).__name__} [{exc.category}]: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader of our output went away (``tfckpt ls x | head -1``): not an error of
        # ours. Point stdout at /dev/null so the interpreter's final flush is silent too.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
