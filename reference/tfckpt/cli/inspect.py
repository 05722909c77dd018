"""``tfckpt inspect``: TensorFlow's ``inspect_checkpoint`` tool, output byte for byte.

Strategy
--------
Scripts and habits are built on ``python -m tensorflow.python.tools.inspect_checkpoint``;
this subcommand takes the same flags and prints the same bytes on a readable
checkpoint, so it can replace the TensorFlow tool in them.  The facts come from
``tensorflow/python/tools/inspect_checkpoint.py`` (TF 2.21):

- no flag: the reader's debug string (``name (DT_FLOAT) [3,4]`` per line, sorted),
  then the blank line ``print`` adds after it;
- ``--all_tensor_names``: ``tensor: NAME (float32) [3, 4]`` per key, sorted;
  ``--all_tensors`` adds each value printed as numpy prints it (so
  ``--printoptions k=v`` set numpy's print options, values typed like the default);
- ``--tensor_name=N``: that one line and value, or ``Tensor N not found in checkpoint``
  (with no parameter count after it);
- then ``# Total number of params: N``, preceded with ``--count_exclude_pattern RE`` by
  ``# Excluding T tensors (P params) that match RE when counting.``

``--all_tensors`` and ``--all_tensor_names`` take an optional ``true``/``false`` as in
TensorFlow.  Unlike TensorFlow, which prints the message of any error and exits 0,
an error is reported on stderr with exit status 1 (by :mod:`tfckpt.cli.main`).
"""

from __future__ import annotations

import argparse
import math
import re


def _printoption(text: str):
    """``k=v`` -> ``(k, v)``, with v of the type of numpy's current value for k."""
    import numpy as np

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"'{text}' is not in the form k=v.")
    current = np.get_printoptions()
    if key not in current:
        raise argparse.ArgumentTypeError(f"'{key}' is not a valid printoption.")
    kind = type(current[key])
    if current[key] is None:
        raise argparse.ArgumentTypeError(f"Setting '{key}' from the command line is not supported.")
    if kind is bool:
        lowered = value.lower()
        if lowered not in ("true", "false", "1", "0", "t", "f"):
            raise argparse.ArgumentTypeError(f"'{value}' is not a boolean")
        return key, lowered in ("true", "1", "t")
    try:
        return key, kind(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _bool_flag(text: str) -> bool:
    return text.lower() == "true"


def _param_count(shapes: dict, exclude: str) -> int:
    # Python integers, not numpy: listing never imports numpy (tfckpt/_lazy.py).
    if exclude:
        pattern = re.compile(exclude)
        excluded = [name for name in shapes if pattern.search(name)]
        params = sum(math.prod(shapes[name]) for name in excluded)
        print(f"# Excluding {len(excluded)} tensors ({params} params) that match {exclude} when counting.")
        shapes = {k: v for k, v in shapes.items() if k not in set(excluded)}
    return sum(math.prod(shape) for shape in shapes.values())


def _debug_string(reader) -> str:
    """TensorFlow's ``CheckpointReader::DebugString``, as the tool prints it.

    For a V2 bundle (``BundleReader::DebugString``) that is every index entry but the
    header and the partitioned entries themselves, in key order -- slice-data keys
    included, raw bytes and all, each with its slice's shape -- decoded as UTF-8
    dropping undecodable bytes.  For V1 files (``TensorSliceReader::DebugString``) a
    tensor stored in more than one slice gets ``, N slices``; TensorFlow walks a hash
    map there (no defined order), we print the keys sorted.
    """
    from ..bundle import BundleReader

    impl = reader._impl
    lines = []
    if not isinstance(impl, BundleReader):
        for key in sorted(reader.keys()):
            entry = reader.entry(key)
            dims = ",".join(str(d) for d in entry.shape)
            more = f", {len(entry.slices)} slices" if len(entry.slices) > 1 else ""
            lines.append(f"{key} ({entry.dtype.enum_name}) [{dims}]{more}\n".encode("utf-8", "surrogateescape"))
    for entry in impl.iter_entries() if isinstance(impl, BundleReader) else ():
        if entry.slices:
            continue
        dims = ",".join(str(d) for d in entry.shape)
        lines.append(entry.key + f" ({entry.dtype.enum_name}) [{dims}]\n".encode())
    return b"".join(lines).decode("utf-8", errors="ignore")


def _print_tensor_line(name: str, dtype, shape) -> None:
    print(f"tensor: {name} ({dtype.name}) {shape}")


def _run(args) -> int:
    import contextlib

    from ..checkpoint_reader import load_checkpoint

    if not args.file_name:
        print(
            "Usage: inspect_checkpoint --file_name=checkpoint_file_name [--tensor_name=tensor_to_print] "
            "[--all_tensors] [--all_tensor_names] [--count_exclude_pattern] [--printoptions]"
        )
        return 1
    # numpy is imported only when values are printed or print options are given.
    values_printed = args.all_tensors or args.tensor_name or args.printoptions
    if values_printed:
        import numpy as np

        printing = np.printoptions(**dict(args.printoptions or ()))
    else:
        printing = contextlib.nullcontext()
    with printing, load_checkpoint(args.file_name) as reader:
        shapes = reader.get_variable_to_shape_map()
        dtypes = reader.get_variable_to_dtype_map()
        if args.all_tensors or args.all_tensor_names:
            for name in sorted(shapes):
                _print_tensor_line(name, dtypes[name], shapes[name])
                if args.all_tensors:
                    print(reader.get_tensor(name))
        elif not args.tensor_name:
            print(_debug_string(reader))
        else:
            if args.tensor_name not in shapes:
                print(f"Tensor {args.tensor_name} not found in checkpoint")
                return 1
            _print_tensor_line(args.tensor_name, dtypes[args.tensor_name], shapes[args.tensor_name])
            print(reader.get_tensor(args.tensor_name))
        print(f"# Total number of params: {_param_count(shapes, args.count_exclude_pattern)}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "inspect",
        help="TensorFlow's inspect_checkpoint, same flags, same output",
        description=__doc__.split("Strategy")[0].strip().splitlines()[0],
    )
    p.add_argument("--file_name", default="", help="checkpoint prefix (or a directory with a state file)")
    p.add_argument("--tensor_name", default="", help="name of the tensor to print")
    p.add_argument("--count_exclude_pattern", default="", help="regex of tensors left out of the count")
    for flag in ("--all_tensors", "--all_tensor_names"):
        p.add_argument(flag, nargs="?", const=True, type=_bool_flag, default=False)
    p.add_argument("--printoptions", nargs="*", type=_printoption, help="numpy print options, k=v")
    p.set_defaults(run=_run)
