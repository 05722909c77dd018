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

The ``remote`` target reads through an fsspec URL whose file system (fsspec's
memory file system under its own protocol) misbehaves as the input's first bytes
say: sizes that lie, replies cut short or lengthened, transport exceptions.

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


#: The transport's failures a remote read may meet (fsspec passes them through; aiohttp's are OSError-like).
_TRANSPORT_ERRORS = (OSError, ConnectionResetError, TimeoutError, FileNotFoundError, PermissionError, ValueError,
                     RuntimeError, KeyError)
_REMOTE = "tfckptfuzz"


def _remote_fs():
    """fsspec's memory file system under its own protocol, with faults the input chooses (class state)."""
    try:
        import fsspec
    except ImportError:  # as storage.py says without the extra: a tfckpt error, the contract's end
        raise errors.UnimplementedError("the remote target needs fsspec: pip install 'tfckpt[remote]'") from None
    from fsspec.implementations.memory import MemoryFileSystem

    class FaultyFileSystem(MemoryFileSystem):
        protocol = (_REMOTE,)
        store: dict = {}
        pseudo_dirs = [""]
        faults: dict = {}
        calls = 0

        @classmethod
        def _strip_protocol(cls, path):
            return super()._strip_protocol(path.replace(f"{_REMOTE}://", "memory://", 1))

        def info(self, path, **kwargs):
            out = dict(super().info(path, **kwargs))
            lie = self.faults.get("size", {}).get(_basename(path))
            if lie is not None and out.get("type") == "file":
                out["size"] = None if lie == "none" else max(0, out["size"] + lie)
            return out

        def cat_file(self, path, start=None, end=None, **kwargs):
            data = super().cat_file(path, start, end, **kwargs)
            cls = type(self)
            cls.calls += 1
            mode, k, first, which = self.faults.get("read", (0, 0, 0, ""))
            if mode and cls.calls > first and which in ("", _basename(path)):
                if mode == 1:
                    data = data[: max(0, len(data) - k)]  # a short read
                elif mode == 2:
                    data = data + bytes([k]) * k  # more than was asked for
                elif mode == 3:
                    data = b""
                elif mode == 4:
                    raise _TRANSPORT_ERRORS[k % len(_TRANSPORT_ERRORS)]("injected transport failure")
                elif mode == 5:
                    data = bytearray(data)
            return data

    fsspec.register_implementation(_REMOTE, FaultyFileSystem, clobber=True)
    return FaultyFileSystem


def _basename(path: str) -> str:
    return path.rstrip("/").rpartition("/")[2]


_FAULTY = None


@_contract
def remote(data: bytes) -> None:
    """A checkpoint read through an fsspec URL whose storage misbehaves as the first 4 bytes say.

    byte 0: bits 0-1 the data file's size as reported (true, +k, -k, unknown), bits 2-3 the index's;
    bit 4: the rest is a V1 checkpoint file instead of index + data.  byte 1: reads (low 3 bits: none,
    short by k, k bytes too many, empty, a transport exception, a bytearray; bits 4-5: every file,
    the index, the data file, the state file).  byte 2: k.  byte 3: the read from which faults start.
    Then the state file ``checkpoint`` is read and the checkpoint opened and read whole."""
    global _FAULTY
    if _FAULTY is None:
        _FAULTY = _remote_fs()
    control, rest = data[:4].ljust(4, b"\0"), data[4:]
    sizes, reads, k, first = control
    v1_file = bool(sizes & 0x10)
    index_name, data_name = ("ckpt", "") if v1_file else ("ckpt.index", "ckpt.data-00000-of-00001")
    lies = {}
    for name, bits in ((data_name, sizes & 3), (index_name, (sizes >> 2) & 3)):
        if bits and name:
            lies[name] = {1: k, 2: -k, 3: "none"}[bits]
    target = ("", index_name, data_name, "checkpoint")[(reads >> 4) & 3]
    _FAULTY.faults = {"size": lies, "read": ((reads & 7) % 6, k, first, target)}
    _FAULTY.calls = 0
    _FAULTY.store.clear()
    files = {"ckpt": rest} if v1_file else dict(zip(("ckpt.index", "ckpt.data-00000-of-00001"), split(rest)))
    files["checkpoint"] = b'model_checkpoint_path: "ckpt"\n'
    for name, content in files.items():
        _FAULTY().pipe_file(f"/d/{name}", content)
    url = f"{_REMOTE}://d"
    tfckpt.latest_checkpoint(url)
    with tfckpt.load_checkpoint(url + "/ckpt") as reader:
        _read_all(reader)


#: name -> target, in the order run.py visits them.
TARGETS = {t.__name__: t for t in (bundle, v1, state_file, meta_graph, graph_def, object_graph, saved_model,
                                   safetensors_input, npz_input, weights_h5, remote)}
