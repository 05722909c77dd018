"""A SavedModel's summary, printed as ``saved_model_cli show`` prints it (spec: ``spec/graph.md``).

TensorFlow's counterpart: ``tensorflow/python/tools/saved_model_cli.py``
(``show``: ``_show_tag_sets``, ``_show_signature_def_map_keys``,
``_show_inputs_outputs_mgd``, ``_print_tensor_info``, ``_show_all``,
``_show_ops_in_metagraph_mgd``) and ``saved_model_utils.get_meta_graph_def``.

Strategy
--------
Everything ``show`` prints comes from ``saved_model.pb`` (GRAPH-10): tag sets,
signature keys (sorted), each input/output's DataType *name*, its shape as a
tuple of dims (``-1`` unknown) or ``unknown_rank``, its tensor name, and the
method name.  ``--all`` also prints the set of op types of each meta graph --
as a Python ``set`` repr, so its order is the interpreter's hash order: we build
the set exactly as TensorFlow's ``ops_used_by_graph_def`` does (same insertions,
same order), so the same interpreter with the same ``PYTHONHASHSEED`` prints the
same line (GRAPH-11).  The concrete functions of a TF2 SavedModel, which
TensorFlow lists by loading the model's Python functions, come from its
SavedObjectGraph (:mod:`.concrete_functions`, GRAPH-12..15).

Functions return the text (lines joined by ``\\n``, ending in ``\\n``) rather than
printing it, so the command and tests share them.
"""

from __future__ import annotations

import os
from typing import List, Optional, Union

from .. import errors
from .concrete_functions import concrete_functions_text
from .saved_model import read_saved_model

__all__ = ["show", "show_all", "show_tag_sets", "show_signature_keys", "show_signature",
           "ops_used_by_graph_def", "NO_CONCRETE_FUNCTIONS"]

PathLike = Union[str, "os.PathLike[str]"]
#: What follows ``Concrete Functions:`` when a signature holds a value tfckpt cannot print (GRAPH-15);
#: the value is named after it, in parentheses.
NO_CONCRETE_FUNCTIONS = " N/A (not listed by tfckpt: a value only TensorFlow's classes can print"


def _dtype_name(value: int, where: str) -> str:
    from ..proto import types_pb2

    try:
        return types_pb2.DataType.Name(value)
    except ValueError:
        raise errors.DataLossError(f"{where}: unknown DataType {value}") from None


def _tensor_info_lines(info, indent: int, where: str) -> List[str]:
    pad = "  " * indent
    if info.tensor_shape.unknown_rank:
        shape = "unknown_rank"
    else:
        shape = "(" + ", ".join(str(d.size) for d in info.tensor_shape.dim) + ")"
    return [f"{pad}    dtype: {_dtype_name(info.dtype, where)}", f"{pad}    shape: {shape}", f"{pad}    name: {info.name}"]


def _signature_lines(meta_graph, key: str, indent: int) -> List[str]:
    if key not in meta_graph.signature_def:
        raise errors.NotFoundError(
            f'Could not find signature "{key}". Please choose from: {", ".join(meta_graph.signature_def.keys())}')
    signature = meta_graph.signature_def[key]
    pad = "  " * indent
    lines = [pad + "The given SavedModel SignatureDef contains the following input(s):"]
    for name, info in sorted(signature.inputs.items()):
        lines.append(f"{pad}  inputs['{name}'] tensor_info:")
        lines += _tensor_info_lines(info, indent + 1, f"signature {key!r} input {name!r}")
    lines.append(pad + "The given SavedModel SignatureDef contains the following output(s):")
    for name, info in sorted(signature.outputs.items()):
        lines.append(f"{pad}  outputs['{name}'] tensor_info:")
        lines += _tensor_info_lines(info, indent + 1, f"signature {key!r} output {name!r}")
    lines.append(f"{pad}Method name is: {signature.method_name}")
    return lines


def ops_used_by_graph_def(graph_def) -> list:
    """Op types a graph uses, following function calls, as ``meta_graph.ops_used_by_graph_def`` lists them."""
    functions = {f.signature.name: f for f in graph_def.library.function}
    used = set()
    pending = []

    def mark(op):
        if op not in used and op in functions:
            pending.append(functions[op])
        used.add(op)

    def visit(node):
        mark(node.op)
        if node.op in ("PartitionedCall", "StatefulPartitionedCall"):
            mark(node.attr["f"].func.name)

    for node in graph_def.node:
        visit(node)
    while pending:
        for node in pending.pop().node_def:
            visit(node)
    return [op for op in used if op not in functions]


def _tags_repr(tags) -> str:
    # TensorFlow formats the repeated field with %s: a protobuf repeated container prints like a list.
    return "[" + ", ".join(repr(t) for t in tags) + "]"


def select(saved_model, tag_set: str, directory: str = ""):
    """The meta graph whose tags are exactly the comma-separated ``tag_set`` (empty tags ignored)."""
    wanted = {t for t in tag_set.split(",") if t}
    valid = []
    for graph in saved_model.meta_graphs:
        tags = set(graph.meta_info_def.tags)
        if tags == wanted:
            return graph
        valid.append(",".join(tags))
    raise errors.NotFoundError(
        f"MetaGraphDef associated with tag-set {tag_set} could not be found in the SavedModel. "
        f"Please use one of the following tag-sets: {valid}", file=directory or None)


def show_tag_sets(directory: PathLike) -> str:
    saved_model = read_saved_model(directory)
    lines = ["The given SavedModel contains the following tag-sets:"]
    for tags in sorted(sorted(g.meta_info_def.tags) for g in saved_model.meta_graphs):
        lines.append(repr(", ".join(tags)))
    return "\n".join(lines) + "\n"


def show_signature_keys(directory: PathLike, tag_set: str) -> str:
    graph = select(read_saved_model(directory), tag_set, os.fspath(directory))
    lines = ["The given SavedModel MetaGraphDef contains SignatureDefs with the following keys:"]
    lines += [f'SignatureDef key: "{key}"' for key in sorted(graph.signature_def.keys())]
    return "\n".join(lines) + "\n"


def show_signature(directory: PathLike, tag_set: str, key: str) -> str:
    graph = select(read_saved_model(directory), tag_set, os.fspath(directory))
    return "\n".join(_signature_lines(graph, key, 0)) + "\n"


def show_all(directory: PathLike) -> str:
    """``saved_model_cli show --dir DIR --all``, byte for byte (GRAPH-10..15)."""
    saved_model = read_saved_model(directory)
    lines: List[str] = []
    for graph in sorted(saved_model.meta_graphs, key=lambda g: list(g.meta_info_def.tags)):
        tags = graph.meta_info_def.tags
        lines.append("")
        lines.append(f"MetaGraphDef with tag-set: '{', '.join(tags)}' contains the following SignatureDefs:")
        for key in sorted(graph.signature_def.keys()):
            lines.append("")
            lines.append(f"signature_def['{key}']:")
            lines += _signature_lines(graph, key, 1)
        ops = set(ops_used_by_graph_def(graph.graph_def))
        lines.append(f"The MetaGraph with tag set {_tags_repr(tags)} contains the following ops: {ops}")
    text = "\n".join(lines) + "\n"
    with_objects = [g for g in saved_model.meta_graphs if g.HasField("object_graph_def")]
    if with_objects:
        # TensorFlow loads the first meta graph with an object graph (its default tags, "serve").
        text += "\nConcrete Functions:" + concrete_functions_text(with_objects[0], NO_CONCRETE_FUNCTIONS)
    return text


def show(directory: PathLike, tag_set: Optional[str] = None, signature_def: Optional[str] = None,
         all: bool = False) -> str:  # noqa: A002 -- saved_model_cli's flag name
    """What ``saved_model_cli show`` prints for the same flags."""
    if all:
        return show_all(directory)
    if tag_set is None:
        return show_tag_sets(directory)
    if signature_def is None:
        return show_signature_keys(directory, tag_set)
    return show_signature(directory, tag_set, signature_def)
