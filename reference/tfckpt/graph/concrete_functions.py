"""The ``Concrete Functions:`` section of ``saved_model_cli show --all`` (spec: ``spec/graph.md`` GRAPH-12..15).

TensorFlow's counterparts (TF 2.21): ``tensorflow/python/tools/saved_model_cli.py``
(``_show_defined_functions``, ``_print_args``), ``saved_model/load.py``
(``Loader._load_nodes``), ``saved_model/function_deserialization.py``
(``load_function_def_library``, ``_sort_function_defs``, ``_clean_function_name``),
``saved_model/nested_structure_coder.py`` and the codecs of
``framework/tensor.py`` / ``tensor_shape.py``.

Strategy
--------
TensorFlow loads the SavedModel's Python objects and asks each function child of
the root for its concrete functions.  Everything it prints is in
``saved_model.pb``, so we read it from there instead::

    SavedObjectGraph{ nodes[0].children: [ObjectReference{node_id, local_name}],
                      nodes[i].function.concrete_functions: [name],        a tf.function
                      nodes[i].bare_concrete_function.concrete_function_name,
                      concrete_functions: map<name, SavedConcreteFunction{
                          canonicalized_input_signature: StructuredValue }> }

1. Children of node 0 of kind ``function`` or ``bare_concrete_function``,
   sorted by local name, are the listed functions (GRAPH-13).
2. TensorFlow sorts a function's concrete functions by the name it gave them
   when loading: ``__inference_<name>_<uid>``, ``<name>`` the saved name without
   its own ``__inference_`` prefix and ``_<digits>`` suffix, ``uid`` a
   process-wide counter -- so ``_100`` sorts before ``_38``.  We replay the
   counter: the library's functions load in the topological order of
   ``_sort_function_defs``, and each takes a known number of uids (one per
   tensor its import creates, see :func:`loaded_names`) (GRAPH-14).
3. ``canonicalized_input_signature`` is decoded into plain Python values whose
   ``str``/``repr`` are those of TensorFlow's objects (``TensorSpec(shape=(None,
   2), dtype=tf.float32, name='x')``), and printed as ``_print_args`` prints
   them, backspaces included (GRAPH-15).  A dict's entries come in protobuf's
   map iteration order in TensorFlow, which its upb runtime randomises per
   process; we print them sorted by key, one of the orders TensorFlow prints.
4. Loading fails in TensorFlow 2.21 -- and it prints ``N/A (could not be listed
   due to unknown reasons)`` -- when a node has slot variables: without Keras's
   revived optimizer the loader asks a plain user object for ``add_slot``
   (GRAPH-12).  Values we cannot render without TensorFlow's classes (TypeSpecs
   other than TensorSpec, tensors) give our own ``N/A`` line with the reason.
"""

from __future__ import annotations

import collections
import re
from typing import Dict, List

__all__ = ["concrete_functions_text", "TF_LOAD_FAILED", "decode_structure", "dtype_name"]

#: TensorFlow's line when its loader fails for a reason it does not recognise (GRAPH-12).
TF_LOAD_FAILED = " N/A (could not be listed due to unknown reasons)"

_INFERENCE_NAME = re.compile(r"^__inference_(.*)_\d+$")
_NAMED_DTYPES = {"HALF": "float16", "FLOAT": "float32", "DOUBLE": "float64"}


class Unrenderable(Exception):
    """A value of the signature that only TensorFlow's own classes can print."""


def dtype_name(value: int) -> str:
    """``tf.as_dtype(value).name``: the DataType's enum name, lower case, with C's float names renamed."""
    from ..proto import types_pb2

    try:
        name = types_pb2.DataType.Name(value)[3:]
    except ValueError:
        raise Unrenderable(f"DataType {value}") from None
    ref = name.endswith("_REF")
    base = name[:-4] if ref else name
    if base == "INVALID":
        raise Unrenderable("DT_INVALID")
    return _NAMED_DTYPES.get(base, base.lower()) + ("_ref" if ref else "")


class DType:
    """Prints as ``tf.DType`` does: ``repr`` ``tf.float32``, ``str`` ``<dtype: 'float32'>``."""

    def __init__(self, value: int) -> None:
        self.name = dtype_name(value)

    def __repr__(self) -> str:
        return "tf." + self.name

    def __str__(self) -> str:
        return f"<dtype: {self.name!r}>"


class TensorShape:
    """Prints as ``tf.TensorShape`` (v2 behaviour): ``(None, 2)``, ``(3,)``, ``()``, ``<unknown>``."""

    def __init__(self, proto) -> None:
        self.dims = None if proto.unknown_rank else [None if d.size == -1 else d.size for d in proto.dim]

    def __iter__(self):
        if self.dims is None:
            raise Unrenderable("iterating a shape of unknown rank")
        return iter(self.dims)

    def __str__(self) -> str:
        if self.dims is None:
            return "<unknown>"
        if len(self.dims) == 1:
            return f"({self.dims[0]},)"
        return "(" + ", ".join(str(d) for d in self.dims) + ")"

    def __repr__(self) -> str:
        return "TensorShape(None)" if self.dims is None else f"TensorShape({self.dims})"


class TensorSpec:
    """Prints as ``tf.TensorSpec``; ``name`` is ``None`` for an empty stored name."""

    def __init__(self, proto) -> None:
        self.shape = TensorShape(proto.shape)
        self.dtype = DType(proto.dtype)
        self.name = proto.name or None

    def __repr__(self) -> str:
        return f"TensorSpec(shape={self.shape}, dtype={self.dtype!r}, name={self.name!r})"


def decode_structure(value, where: str):
    """A ``StructuredValue`` as ``nested_structure_coder.decode_proto`` builds it, dict keys sorted."""
    kind = value.WhichOneof("kind")
    if kind == "none_value":
        return None
    if kind == "float64_value":
        return value.float64_value
    if kind == "int64_value":
        return value.int64_value
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "tensor_shape_value":
        return TensorShape(value.tensor_shape_value)
    if kind == "tensor_dtype_value":
        return DType(value.tensor_dtype_value)
    if kind == "tensor_spec_value":
        return TensorSpec(value.tensor_spec_value)
    if kind == "list_value":
        return [decode_structure(v, where) for v in value.list_value.values]
    if kind == "tuple_value":
        return tuple(decode_structure(v, where) for v in value.tuple_value.values)
    if kind == "dict_value":
        return {k: decode_structure(v, where) for k, v in sorted(value.dict_value.fields.items())}
    if kind == "named_tuple_value":
        pairs = value.named_tuple_value.values
        try:
            cls = collections.namedtuple(value.named_tuple_value.name, [p.key for p in pairs])
        except ValueError as exc:
            raise Unrenderable(f"{where}: named tuple {value.named_tuple_value.name!r}: {exc}") from None
        return cls(*(decode_structure(p.value, where) for p in pairs))
    raise Unrenderable(f"{where}: a {kind or 'empty'} value")


class _Printer:
    """Collects text with ``print``'s ``end`` semantics."""

    def __init__(self) -> None:
        self.parts: List[str] = []

    def __call__(self, text: str = "", end: str = "\n") -> None:
        self.parts.append(text + end)

    def text(self) -> str:
        return "".join(self.parts)


def _quoted(value) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value)


def _print_args(out: _Printer, arguments, argument_type: str = "Argument", indent: int = 4) -> None:
    pad = "  " * indent
    for index, element in enumerate(arguments, 1):
        if indent == 4:
            out(f"{pad}{argument_type} #{index}")
        if isinstance(element, str):
            out(f"{pad}  {element}")
        elif isinstance(element, TensorSpec):
            out((indent + 1) * "  " + f"{element.name}: {element!r}")
        elif isinstance(element, (list, tuple, TensorShape)):
            out(f"{pad}  DType: {type(element).__name__}")
            out(f"{pad}  Value: [", end="")
            for item in element:
                out(_quoted(item), end=", ")
            out("\b\b]")
        elif isinstance(element, dict):
            out(f"{pad}  DType: dict")
            out(f"{pad}  Value: {{", end="")
            for key, item in element.items():
                out(f"'{key}': {_quoted(item)}", end=", ")
            out("\b\b}")
        else:
            out(f"{pad}  DType: {type(element).__name__}")
            out(f"{pad}  Value: {element}")


def _function_deps(fdef, library_names, gradient_names) -> set:
    deps = set()
    for node in fdef.node_def:
        grad = None
        if "_gradient_op_type" in node.attr and node.op not in ("StatefulPartitionedCall", "PartitionedCall"):
            grad = node.attr["_gradient_op_type"].s
        if node.op in library_names:
            deps.add(node.op)
        elif grad and grad in gradient_names:
            deps.add(gradient_names[grad])
        else:
            for attr in node.attr.values():
                if attr.WhichOneof("value") == "func":
                    deps.add(attr.func.name)
                elif attr.WhichOneof("value") == "list":
                    deps.update(f.name for f in attr.list.func)
    return deps


def _output_count(node, op_defs, functions) -> int:
    if node.op in functions:
        return len(functions[node.op].signature.output_arg)
    op = op_defs.get(node.op)
    if op is None:
        return 1  # an op neither the stripped op list nor the library defines: assumed one output (GRAPH-14)
    count = 0
    for arg in op.output_arg:
        if arg.type_list_attr:
            count += len(node.attr[arg.type_list_attr].list.type)
        elif arg.number_attr:
            count += node.attr[arg.number_attr].i
        else:
            count += 1
    return count


def load_order(library) -> List[str]:
    """The library's functions in the order TensorFlow's loader creates them (``_sort_function_defs``)."""
    names = [f.signature.name for f in library.function]
    gradient_names = {g.registered_op_type.encode(): g.gradient_func for g in library.registered_gradients
                      if g.registered_op_type}
    deps = {f.signature.name: _function_deps(f, set(names), gradient_names) for f in library.function}
    edges: Dict[str, List[str]] = collections.defaultdict(list)
    in_count: Dict[str, int] = collections.defaultdict(int)
    for name, needs in deps.items():
        for dep in needs:
            edges[dep].append(name)
            in_count[name] += 1
    ready = [n for n in names if in_count[n] == 0]
    order: List[str] = []
    while ready:
        name = ready.pop()
        order.append(name)
        for dest in edges[name]:
            in_count[dest] -= 1
            if not in_count[dest]:
                ready.append(dest)
    if len(order) != len(names):
        raise _LoadFails("cyclic function library")
    return order


def loaded_names(meta_graph) -> Dict[str, str]:
    """Saved function name -> the name TensorFlow's loader gives it, ``__inference_<name>_<uid>`` (GRAPH-14).

    The uid is TensorFlow's process-wide counter (``ops.uid``).  In ``saved_model_cli``
    it stands at 1 when the library starts loading; then each registered
    gradient takes one, and each function, in load order: one for its graph, one
    per input argument and per output of each of its nodes (every tensor the
    import creates), one for each ``HashTableV2`` without node-name sharing, and
    one for its name.
    """
    library = meta_graph.graph_def.library
    functions = {f.signature.name: f for f in library.function}
    op_defs = {op.name: op for op in meta_graph.meta_info_def.stripped_op_list.op}
    uid = 1 + sum(1 for g in library.registered_gradients if g.registered_op_type)
    names = {}
    for name in load_order(library):
        fdef = functions[name]
        uid += 1 + len(fdef.signature.input_arg)
        for node in fdef.node_def:
            uid += _output_count(node, op_defs, functions)
            if node.op == "HashTableV2" and not node.attr["use_node_name_sharing"].b:
                uid += 1
        uid += 1
        match = _INFERENCE_NAME.search(name)
        names[name] = f"__inference_{match.group(1) if match else name}_{uid}"
    return names


class _LoadFails(Exception):
    """TensorFlow's loader would fail on this SavedModel."""


def _loaded_name(name: str, loaded: Dict[str, str]) -> str:
    if name not in loaded:
        raise _LoadFails(f"concrete function {name!r} is not in the function library")
    return loaded[name]


def _signature_args(graph, name: str):
    saved = graph.concrete_functions.get(name)
    if saved is None or not saved.HasField("canonicalized_input_signature"):
        raise Unrenderable(f"concrete function {name!r} has no input signature")
    decoded = decode_structure(saved.canonicalized_input_signature, f"concrete function {name!r}")
    if not (isinstance(decoded, tuple) and len(decoded) == 2):
        raise Unrenderable(f"concrete function {name!r}: its input signature is not (args, kwargs)")
    return decoded


def concrete_functions_text(meta_graph, no_tensorflow_reason: str) -> str:
    """What TensorFlow prints after ``Concrete Functions:`` for the meta graph holding the object graph."""
    graph = meta_graph.object_graph_def
    if any(node.slot_variables for node in graph.nodes):
        return TF_LOAD_FAILED + "\n"
    try:
        loaded = loaded_names(meta_graph)
        out = _Printer()
        root = graph.nodes[0] if graph.nodes else None
        children = sorted(((ref.local_name, ref.node_id) for ref in (root.children if root else ())))
        for local_name, node_id in children:
            if node_id >= len(graph.nodes):
                raise _LoadFails(f"child {local_name!r} refers to node {node_id}")
            node = graph.nodes[node_id]
            kind = node.WhichOneof("kind")
            if kind == "function":
                names = list(node.function.concrete_functions)
            elif kind == "bare_concrete_function":
                names = [node.bare_concrete_function.concrete_function_name]
            else:
                continue
            out(f"\n  Function Name: '{local_name}'")
            for index, name in enumerate(sorted(names, key=lambda n: _loaded_name(n, loaded)), 1):
                args, kwargs = _signature_args(graph, name)
                if args:
                    out(f"    Option #{index}")
                    out("      Callable with:")
                    _print_args(out, args)
                if kwargs:
                    _print_args(out, kwargs, "Named Argument")
        return out.text()
    except _LoadFails:
        return TF_LOAD_FAILED + "\n"
    except Unrenderable as exc:
        return f"{no_tensorflow_reason}: {exc})\n"

