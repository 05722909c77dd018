"""Rewriting a checkpoint: a subset, renamed, the moving averages, without the optimizer, cast.

Spec: ``spec/rewrite.md`` (REW-1..REW-9).  What TensorFlow programs do by hand with
``Saver(var_list={...})``, ``ExponentialMovingAverage.variables_to_restore()`` and
a restore-then-save, done on the files.

Strategy
--------
A rewrite is planned completely before anything is written, then streamed::

    plan    every source key -> kept under a destination key, or dropped (with why)
            conflicts (two keys onto one, an unknown selected key, a cast that
            cannot be) are errors here: nothing exists at dst yet
    write   one BundleWriter at dst; one tensor (or one partition) in memory at
            a time; published in the package's one order (tfckpt.bundle.publish)

The rules, in the order they apply to each key (REW-2..REW-6):

1. ``select`` (names, globs, or ``re:<regex>``) keeps only what matches; ``drop``
   removes what matches;
2. ``strip_optimizer`` removes TF1 optimizer slots (``<var>/Adam``, ``<var>/Adam_1``,
   ``<var>/Momentum``, ``<var>/RMSProp``, ... where ``<var>`` is itself a key),
   their hyper-parameters (``beta1_power``, ``beta2_power``) and, in a TF2
   object-based checkpoint, every ``.OPTIMIZER_SLOT`` key and the optimizer's
   own objects;
3. ``ema`` takes each ``X/ExponentialMovingAverage`` as ``X`` and drops the raw
   ``X`` it replaces (``variables_to_restore()``'s mapping);
4. ``rename``: a mapping of exact keys, a list of ``(regex, replacement)`` rules
   applied in turn with ``re.sub``, or a callable;
5. ``dtype``: ``{"float32": "bfloat16"}`` casts tensors of floating dtypes.

Order of the output: a TF1 ``Saver`` hands ``SaveV2`` its tensors sorted by
name, so a rewrite of a checkpoint without an object graph writes them sorted
by their new keys, and its files are what ``Saver(var_list={new: var})``
would write.  A TF2 object-based checkpoint keeps the source's order (that of
``tf.train.Checkpoint.write``), with its object graph rewritten to match: the
optimizer's nodes removed, node ids renumbered in order, attributes of dropped
keys removed, ``has_checkpoint_values`` recomputed.  Renaming keys that the
object graph refers to is refused (rename objects in the program instead).
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Optional, Sequence

from .. import errors
from ..bundle.writer import BundleWriter
from ..checkpoint_reader import load_checkpoint, resolve_checkpoint_path
from ..dtypes import as_dtype
from ..objects.object_graph import OBJECT_GRAPH_KEY, checkpoint_key, node_paths, parse_object_graph
from .key_rules import Patterns, Rename, matcher as _matcher, renamer as _renamer

__all__ = ["rewrite", "plan_rewrite", "load_variables", "RewritePlan", "TF1_SLOT_NAMES", "EMA_NAME"]

#: The slot names of TF1's optimizers (``tensorflow/python/training/*.py``: ``_create_slots``
#: under the optimizer's default name), and of BERT's AdamWeightDecay (``adam_m``, ``adam_v``).
TF1_SLOT_NAMES = ("Adam", "Adam_1", "Momentum", "RMSProp", "RMSProp_1", "Adagrad", "AdagradDA", "AdagradDA_1",
                  "Ftrl", "Ftrl_1", "Adadelta", "Adadelta_1", "ProximalAdagrad", "adam_m", "adam_v")
#: Optimizer hyper-parameters TF1 saves as plain variables (Adam's accumulated powers).
TF1_OPTIMIZER_KEYS = re.compile(r"^(.*/)?beta[12]_power(_\d+)?$")
#: The default name of ``tf.train.ExponentialMovingAverage`` (its shadow: ``<var>/<name>``).
EMA_NAME = "ExponentialMovingAverage"



@dataclass
class RewritePlan:
    """What a rewrite does: ``kept`` (source key, destination key), ``dropped`` (key, why), ``casts``."""

    source: str
    kept: list = field(default_factory=list)
    dropped: list = field(default_factory=list)
    casts: dict = field(default_factory=dict)
    object_graph: Optional[bytes] = None
    #: where the object graph goes among ``kept`` (the source's order), for an object-based checkpoint
    object_graph_index: int = -1

    @property
    def renamed(self) -> list:
        return [(s, d) for s, d in self.kept if s != d]

    def summary(self) -> str:
        lines = [f"kept {len(self.kept)}, renamed {len(self.renamed)}, dropped {len(self.dropped)}"]
        lines += [f"  rename {s} -> {d}" for s, d in self.renamed]
        lines += [f"  drop   {k} ({why})" for k, why in self.dropped]
        lines += [f"  cast   {d} {a} -> {b}" for d, (a, b) in sorted(self.casts.items())]
        return "\n".join(lines)


#: The floating dtypes a cast may go from or to.
FLOATING = ("float16", "bfloat16", "float32", "float64", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz",
            "float8_e4m3b11fnuz", "float8_e5m2fnuz", "float4_e2m1fn", "float8_e8m0fnu")


def _casts(dtype) -> dict:
    if not dtype:
        return {}
    out = {}
    for a, b in dict(dtype).items():
        src, dst = as_dtype(a), as_dtype(b)
        if src.name not in FLOATING or dst.name not in FLOATING:
            raise errors.InvalidArgumentError(f"dtype casts are for floating types only, not {src.name} -> {dst.name}")
        out[src.name] = dst
    return out


def _tf1_optimizer_key(key: str, keys: set) -> bool:
    if TF1_OPTIMIZER_KEYS.match(key):
        return True
    parent, _, last = key.rpartition("/")
    return bool(parent) and last in TF1_SLOT_NAMES and parent in keys


def plan_rewrite(src, *, select: Patterns = None, drop: Patterns = None, rename: Rename = None, ema: bool = False,
                 ema_name: str = EMA_NAME, strip_optimizer: bool = False, dtype=None) -> RewritePlan:
    """Decide, without writing, what :func:`rewrite` keeps, renames, drops and casts."""
    with load_checkpoint(src) as reader:
        path = reader.path
        dtypes = reader.get_variable_to_dtype_map()
        order = _source_order(reader, list(dtypes))
        graph_bytes = reader.get_tensor(OBJECT_GRAPH_KEY).item() if OBJECT_GRAPH_KEY in dtypes else None
    keys = [k for k in order if k != OBJECT_GRAPH_KEY]
    keyset = set(keys)
    plan = RewritePlan(source=path)
    selected = _matcher(select, "select", keys)
    dropped_by = _matcher(drop, "drop", keys)
    new_name = _renamer(rename)
    casts = _casts(dtype)
    graph = parse_object_graph(graph_bytes) if graph_bytes is not None else None
    kept_nodes = _reachable(graph, _optimizer_nodes(graph) if strip_optimizer else set()) if graph is not None else []
    optimizer_keys = _keys_outside(graph, kept_nodes) if graph is not None else set()
    shadow = "/" + ema_name
    shadowed = {k[: -len(shadow)] for k in keys if ema and k.endswith(shadow)}
    destinations: dict[str, str] = {}
    for key in keys:
        why = None
        if selected is not None and not selected(key):
            why = "not selected"
        elif dropped_by is not None and dropped_by(key):
            why = "dropped"
        elif strip_optimizer and (key in optimizer_keys or "/.OPTIMIZER_SLOT/" in key
                                  or (graph is None and _tf1_optimizer_key(key, keyset))):
            why = "optimizer"
        elif key in shadowed:
            why = f"replaced by its moving average {key + shadow}"
        if why:
            plan.dropped.append((key, why))
            continue
        base = key[: -len(shadow)] if ema and key.endswith(shadow) else key
        dest = new_name(base)
        if not isinstance(dest, str) or not dest:
            raise errors.InvalidArgumentError(f"rename gave {dest!r}, not a key", key=key)
        if dest == OBJECT_GRAPH_KEY:
            raise errors.InvalidArgumentError("rename onto the object graph's key", key=key)
        if dest in destinations:
            raise errors.InvalidArgumentError(
                f"two keys would be written as {dest!r}: {destinations[dest]!r} and {key!r}", key=dest)
        destinations[dest] = key
        if graph is not None and dest != key:
            raise errors.UnimplementedError(
                "renaming a key of a TF2 object-based checkpoint would break its object graph; rename the "
                "objects in the program, or convert the checkpoint to plain keys first", key=key)
        name = dtypes[key].name
        if name in casts:
            plan.casts[dest] = (name, casts[name].name)
        plan.kept.append((key, dest))
    if graph is not None:
        kept_keys = {s for s, _ in plan.kept}
        plan.object_graph, new_keys = _rewrite_object_graph(graph, kept_nodes, kept_keys)
        rank = {k: i for i, k in enumerate(order)}
        plan.object_graph_index = sum(1 for s, _ in plan.kept if rank[s] < rank[OBJECT_GRAPH_KEY])
        plan.kept = [(s, new_keys.get(s, d)) for s, d in plan.kept]
        plan.casts = {new_keys.get(d, d): c for d, c in plan.casts.items()}
    else:
        plan.kept.sort(key=lambda sd: sd[1].encode("utf-8", "surrogateescape"))  # a Saver's sorted order
    return plan


def rewrite(src, dst, *, select: Patterns = None, drop: Patterns = None, rename: Rename = None, ema: bool = False,
            ema_name: str = EMA_NAME, strip_optimizer: bool = False, dtype=None, assemble_partitions: bool = False,
            dry_run: bool = False, sync: bool = True,
            on_tensor: Optional[Callable[[str, int], None]] = None) -> RewritePlan:
    """Stream the checkpoint ``src`` into a new V2 checkpoint at prefix ``dst``; returns the plan.

    V1 and V2 sources, sharded or partitioned; partitions are kept as slices
    unless ``assemble_partitions``.  Memory: the largest tensor (or partition).
    Every refusal happens before ``dst`` exists.  ``on_tensor(key, nbytes)`` is
    called after each tensor is written (progress).
    """
    src_path = resolve_checkpoint_path(src)
    dst = os.fspath(dst)
    if os.path.realpath(dst) == os.path.realpath(src_path):
        raise errors.InvalidArgumentError("the destination is the source checkpoint; write elsewhere", file=dst)
    plan = plan_rewrite(src_path, select=select, drop=drop, rename=rename, ema=ema, ema_name=ema_name,
                        strip_optimizer=strip_optimizer, dtype=dtype)
    if dry_run:
        return plan
    with load_checkpoint(src_path) as reader, BundleWriter(dst, sync=sync) as writer:
        for index, (source, dest) in enumerate(plan.kept):
            if index == plan.object_graph_index:
                writer.add(OBJECT_GRAPH_KEY, plan.object_graph, dtype="string")
            cast = plan.casts.get(dest)
            entry = reader.entry(source)
            nbytes = 0
            if entry.is_partitioned and not assemble_partitions:
                for part in entry.slices:
                    value = reader.get_slice(source, part.to_string())
                    writer.add_slice(dest, list(entry.shape), part.to_string(), _cast(value, cast))
                    nbytes += value.nbytes
            else:
                value = reader.get_tensor(source)
                writer.add(dest, _cast(value, cast), dtype=(cast[1] if cast else entry.dtype))
                nbytes = value.nbytes
            value = None  # dropped before the next tensor is read
            if on_tensor is not None:
                on_tensor(dest, nbytes)
        if plan.object_graph is not None and plan.object_graph_index >= len(plan.kept):
            writer.add(OBJECT_GRAPH_KEY, plan.object_graph, dtype="string")
    return plan


def _cast(value, cast):
    if not cast:
        return value
    return value.astype(as_dtype(cast[1]).numpy_dtype)


def _source_order(reader, keys: list) -> list:
    """The order the source's producer wrote its tensors in (data file, offset); V1: key order."""
    def position(key):
        entry = reader.entry(key)
        text = key.encode("utf-8", "surrogateescape")
        if entry.is_partitioned or not hasattr(entry, "offset"):  # V1 entries have no location
            return (0, 0, text)
        return (entry.shard_id, entry.offset, text)
    return sorted(keys, key=position)


def _optimizer_nodes(graph) -> set:
    """Nodes of optimizers: those holding slot variables, and the root's child named ``optimizer``."""
    found = {i for i, node in enumerate(graph.nodes) if node.slot_variables}
    if graph.nodes:
        found |= {c.node_id for c in graph.nodes[0].children if c.local_name == "optimizer"}
    for i, node in enumerate(graph.nodes):
        found |= {ref.slot_variable_node_id for ref in node.slot_variables}
    return found


def _reachable(graph, blocked: set) -> list:
    """Nodes reachable from the root avoiding ``blocked``, in breadth-first order: TensorFlow numbers
    the nodes of the graph it writes in that order (REW-7)."""
    seen, order = {0}, [0]
    for node in order:  # grows while it is walked: a queue
        for child in graph.nodes[node].children:
            if child.node_id not in seen and child.node_id not in blocked and 0 <= child.node_id < len(graph.nodes):
                seen.add(child.node_id)
                order.append(child.node_id)
    return order


def _keys_outside(graph, kept_nodes: list) -> set:
    """The checkpoint keys of the nodes a rewrite removes."""
    kept = set(kept_nodes)
    return {a.checkpoint_key for i, node in enumerate(graph.nodes) if i not in kept for a in node.attributes}


def _rewrite_object_graph(graph, kept: list, kept_keys: set) -> tuple[bytes, dict]:
    """The object graph of the rewritten checkpoint (REW-7), serialized, and old key -> new key.

    Keys are object paths found breadth-first, so removing the optimizer can rename
    what remains: Keras 3 reaches a model's variables first through the optimizer's
    ``_trainable_variables``, and a checkpoint without the optimizer names them by
    their path through the model, as ``tf.train.Checkpoint(model=...)`` would.
    """
    new_id = {old: new for new, old in enumerate(kept)}
    out = type(graph)()
    for old in kept:
        node = graph.nodes[old]
        copy = out.nodes.add()
        for child in node.children:
            if child.node_id in new_id:
                copy.children.add(node_id=new_id[child.node_id], local_name=child.local_name)
        for attribute in node.attributes:
            if attribute.checkpoint_key in kept_keys:
                copy.attributes.add().CopyFrom(attribute)
        for ref in node.slot_variables:
            if ref.original_variable_node_id in new_id and ref.slot_variable_node_id in new_id:
                copy.slot_variables.add(original_variable_node_id=new_id[ref.original_variable_node_id],
                                        slot_name=ref.slot_name, slot_variable_node_id=new_id[ref.slot_variable_node_id])
        if node.HasField("registered_saver"):
            copy.registered_saver.CopyFrom(node.registered_saver)
    _recompute_has_checkpoint_values(graph, out, kept)
    new_keys = {}
    if len(kept) != len(graph.nodes):  # nodes were removed: the first paths, and so the keys, may change
        paths = node_paths(out)
        for i, node in enumerate(out.nodes):
            for attribute in node.attributes:
                key = checkpoint_key(paths[i], attribute.name)
                new_keys[attribute.checkpoint_key] = key
                attribute.checkpoint_key = key
    return out.SerializeToString(), new_keys


def _recompute_has_checkpoint_values(source, out, kept: list) -> None:
    """``has_checkpoint_values``: the node or a descendant has attributes or a registered saver."""
    if not any(n.HasField("has_checkpoint_values") for n in source.nodes):
        return
    has = [bool(n.attributes) or n.HasField("registered_saver") for n in out.nodes]
    changed = True
    while changed:  # a fixed point over the (possibly cyclic) graph
        changed = False
        for i, node in enumerate(out.nodes):
            if not has[i] and any(has[c.node_id] for c in node.children):
                has[i] = changed = True
    for i, node in enumerate(out.nodes):
        if source.nodes[kept[i]].HasField("has_checkpoint_values"):
            node.has_checkpoint_values.value = has[i]


def load_variables(path, names_or_mapping, *, ema: bool = False, ema_name: str = EMA_NAME) -> dict:
    """Read variables with TF1 ``Saver(var_list)`` semantics: a list of keys, or ``{checkpoint key: your name}``.

    With ``ema``, each key is read from ``<key>/ExponentialMovingAverage`` when the
    checkpoint has it.  Missing keys are reported together, each with the closest keys.
    """
    mapping = dict(names_or_mapping) if isinstance(names_or_mapping, Mapping) else {k: k for k in names_or_mapping}
    with load_checkpoint(path) as reader:
        keys = list(reader.get_variable_to_shape_map())
        present = set(keys)
        missing = [k for k in mapping if k not in present and not (ema and k + "/" + ema_name in present)]
        if missing:
            lines = []
            for k in missing:
                near = difflib.get_close_matches(k, keys, n=3)
                lines.append(f"{k!r}" + (f" (closest: {', '.join(near)})" if near else ""))
            raise errors.NotFoundError(f"{len(missing)} key(s) not in the checkpoint: " + "; ".join(lines),
                                       file=reader.path)
        out = {}
        for key, name in mapping.items():
            source = key + "/" + ema_name if ema and key + "/" + ema_name in present else key
            out[name] = reader.get_tensor(source)
    return out
