"""Fuzz targets: every reading entry point of tfckpt, each a function of one byte string.

Strategy
--------
The contract (spec ERR-1, SEC-1..SEC-12): whatever the bytes, a reader returns
a result or raises :class:`tfckpt.errors.CheckpointError`; it never raises
anything else, crashes, hangs, or allocates more than the bytes justify.  Each
target below turns one input into the files an entry point reads and drives
the entry point to the end (every tensor read, every map built), so that
coverage-guided fuzzing (``run.py``, atheris) and the replay of the committed
corpus (``test_corpus_replay.py``, in the ordinary test run) exercise the same
code.  A target returns normally for a result *and* for a tfckpt error; any
other exception escapes and is the finding.

Inputs that stand for several files are framed as ``u32 little-endian length``
+ first file + the rest (a checkpoint: index then data file), so a mutation can
change either file or the boundary between them.

Files are written under one scratch directory per process (``/dev/shm`` when it
exists, so that millions of inputs do not wear a disk).
"""

from __future__ import annotations

import os
import struct
import tempfile

import tfckpt
from tfckpt import errors
from tfckpt.graph import meta_graph as mg  # imported here, so that atheris instruments them
from tfckpt.graph import saved_model as sm
from tfckpt.jobs import foreign as _foreign  # noqa: F401 - instrumented for the input targets
from tfckpt.objects import keras_h5 as _keras_h5  # noqa: F401 - likewise
from tfckpt.objects import object_graph as og
from tfckpt.v1 import reader as _v1_reader  # noqa: F401 - load_checkpoint imports it lazily

_SCRATCH = tempfile.mkdtemp(prefix="tfckpt-fuzz-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)


def split(data: bytes) -> tuple[bytes, bytes]:
    """``u32 length`` + first + rest -> (first, rest); short inputs give an empty first part."""
    if len(data) < 4:
        return b"", data
    (n,) = struct.unpack_from("<I", data)
    n = min(n, len(data) - 4)
    return data[4 : 4 + n], data[4 + n :]


def join(first: bytes, rest: bytes) -> bytes:
    return struct.pack("<I", len(first)) + first + rest


def _write(name: str, data: bytes) -> str:
    path = os.path.join(_SCRATCH, name)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def _contract(fn):
    """Run ``fn``; a tfckpt error is an acceptable end, anything else propagates."""

    def target(data: bytes) -> None:
        try:
            fn(data)
        except errors.CheckpointError:
            pass

    target.__name__ = fn.__name__
    target.__doc__ = fn.__doc__
    return target


def _read_all(reader) -> None:
    shapes = reader.get_variable_to_shape_map()
    reader.get_variable_to_dtype_map()
    for name in sorted(shapes):
        reader.get_tensor(name)
    for name in sorted(shapes)[:4]:  # slices of a few, as partitioned restores read them
        rank = len(shapes[name])
        if rank:
            reader.get_slice(name, ":".join(["-"] * rank))


@_contract
def bundle(data: bytes) -> None:
    """A V2 checkpoint: index + data file; open, list, read every tensor."""
    index, payload = split(data)
    _write("ckpt.index", index)
    _write("ckpt.data-00000-of-00001", payload)
    with tfckpt.load_checkpoint(os.path.join(_SCRATCH, "ckpt")) as reader:
        _read_all(reader)


@_contract
def v1(data: bytes) -> None:
    """A legacy V1 checkpoint file."""
    path = _write("model.ckpt", data)
    with tfckpt.load_checkpoint(path) as reader:
        _read_all(reader)


@_contract
def state_file(data: bytes) -> None:
    """The ``checkpoint`` state file, resolved in a directory that holds one small checkpoint."""
    directory = os.path.join(_SCRATCH, "state")
    if not os.path.isdir(directory):
        os.makedirs(directory)
        tfckpt.save(os.path.join(directory, "ckpt-1"), {"v": [1.0, 2.0]})
    with open(os.path.join(directory, "checkpoint"), "wb") as handle:
        handle.write(data)
    tfckpt.get_checkpoint_state(directory)
    tfckpt.latest_checkpoint(directory)


@_contract
def meta_graph(data: bytes) -> None:
    """A ``.meta`` MetaGraphDef: parse, VariableDefs of every collection, TF1 keys."""
    path = _write("model.ckpt.meta", data)
    graph = mg.read_meta_graph(path)
    for collection in ("variables", "trainable_variables", "local_variables", "model_variables"):
        for definition in mg.variable_defs(graph, collection):
            mg.variable_key(definition)
    mg.graph_constants(graph.graph_def)


@_contract
def graph_def(data: bytes) -> None:
    """A binary GraphDef (a frozen ``.pb``): parse, every ``Const`` value."""
    path = _write("frozen.pb", data)
    mg.graph_constants(mg.read_graph_def(path))


@_contract
def object_graph(data: bytes) -> None:
    """A serialized TrackableObjectGraph: parse, paths, slot paths, full names, lookups."""
    graph = og.parse_object_graph(data)
    paths = og.node_paths(graph)
    og.slot_variable_paths(graph, paths)
    og.full_name_to_key(graph)
    for node_id, path in list(paths.items())[:8]:
        if path:
            try:
                og.resolve_key(graph, path.split("/"))
            except errors.NotFoundError:
                pass


@_contract
def saved_model(data: bytes) -> None:
    """A ``saved_model.pb`` in a directory (variables/ holding one small checkpoint)."""
    directory = os.path.join(_SCRATCH, "sm")
    if not os.path.isdir(directory):
        os.makedirs(os.path.join(directory, "variables"))
        tfckpt.save(os.path.join(directory, "variables", "variables"), {"v": [1.0]})
    with open(os.path.join(directory, "saved_model.pb"), "wb") as handle:
        handle.write(data)
    model = sm.read_saved_model(directory)
    for tags in ([], ["serve"]):
        try:
            sm.select_meta_graph(model, tags)
        except errors.NotFoundError:
            pass


@_contract
def safetensors_input(data: bytes) -> None:
    """A ``.safetensors`` file as ``tfckpt convert`` reads it: every tensor."""
    from tfckpt.jobs.convert import _FROM_SAFETENSORS
    from tfckpt.jobs.foreign import read_safetensors

    for _name, value in read_safetensors(_write("in.safetensors", data), _FROM_SAFETENSORS):
        value.tobytes()


@_contract
def npz_input(data: bytes) -> None:
    """An ``.npz`` archive as ``tfckpt convert`` reads it: every member."""
    from tfckpt.jobs.foreign import read_npz

    for _name, value in read_npz(_write("in.npz", data)):
        value.tobytes()


@_contract
def weights_h5(data: bytes) -> None:
    """A Keras 3 ``.weights.h5`` (or, starting ``PK``, a ``.keras`` archive): the maps, every dataset, the names."""
    from tfckpt.objects.keras_h5 import load_keras_weights

    with load_keras_weights(_write("in.weights.h5", data)) as reader:
        reader.get_variable_to_shape_map()
        reader.get_variable_to_dtype_map()
        for name in reader.keys():
            reader.get_tensor(name).tobytes()
        # The name attribute of the model's and every layer's vars group: a variable-length string,
        # whose global heap h5_heap checks before HDF5 reads it (reports/weights-h5-finding.md).
        for group in ["vars"] + sorted({name.rpartition("/")[0] for name in reader.keys()}):
            reader.group_name(group)


#: name -> target, in the order run.py visits them.
TARGETS = {t.__name__: t for t in (bundle, v1, state_file, meta_graph, graph_def, object_graph, saved_model,
                                   safetensors_input, npz_input, weights_h5)}
