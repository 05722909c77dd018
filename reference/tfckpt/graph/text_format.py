"""Protobuf text format of graph messages, byte for byte as TensorFlow writes it (spec: ``spec/graph.md``).

TensorFlow's counterparts: ``tensorflow/python/framework/graph_io.py``
(``write_graph(as_text=True)``, used by ``export_meta_graph(as_text=True)``),
which prints the message with ``google.protobuf.text_format.MessageToString``
and its default options (GRAPH-1).

Strategy
--------
Field names and numbers of tfckpt's messages are TensorFlow's, so protobuf's
text printer writes the same text for them -- except inside
``google.protobuf.Any`` fields (``CollectionDef.any_list``, e.g. asset
collections), which the printer expands as ``[type.googleapis.com/tensorflow.X] {...}``
only when it finds the message ``tensorflow.X`` in a pool (GRAPH-2).  Our
messages live under the package ``tfckpt.proto``, and ``tensorflow.*`` names
must never enter protobuf's default pool.  So we build a *private*
``DescriptorPool`` holding copies of tfckpt's files with the package renamed to
``tensorflow``, re-parse the message's bytes into the twin class from that pool
and print it with that pool.  Parsing goes the same way backwards: text into the
twin class, its bytes into the caller's class.  The wire bytes never change, so
no field can be lost in the round trip; unknown fields are dropped by the text
printer exactly as TensorFlow's printer drops them.

Malformed text is :class:`tfckpt.errors.DataLossError` naming the file and the
line:column protobuf reports.
"""

from __future__ import annotations

import os
from typing import Optional, Union

from .. import errors

__all__ = ["message_to_text", "text_to_message", "write_text", "read_text", "is_text_file"]

PathLike = Union[str, "os.PathLike[str]"]
_OUR_PACKAGE = "tfckpt.proto"
_TF_PACKAGE = "tensorflow"
_POOL = None


def _private_pool():
    """A DescriptorPool of tfckpt's proto files renamed to package ``tensorflow`` (built once)."""
    global _POOL
    if _POOL is not None:
        return _POOL
    from google.protobuf import descriptor_pb2, descriptor_pool
    from google.protobuf import any_pb2, struct_pb2 as _wkt_struct  # noqa: F401 -- well-known types in default pool
    from .. import proto as _proto_pkg
    import importlib
    import pkgutil

    pool = descriptor_pool.DescriptorPool()
    files = {}
    for info in pkgutil.iter_modules(_proto_pkg.__path__):
        if info.name.endswith("_pb2"):
            module = importlib.import_module(f"{_proto_pkg.__name__}.{info.name}")
            files[module.DESCRIPTOR.name] = module.DESCRIPTOR
    added = set()

    def add(file_descriptor):
        name = file_descriptor.name
        if name in added:
            return
        for dependency in file_descriptor.dependencies:
            if dependency.name in files:
                add(dependency)
            elif dependency.name not in added:
                pool.AddSerializedFile(dependency.serialized_pb)
                added.add(dependency.name)
        copy = descriptor_pb2.FileDescriptorProto()
        file_descriptor.CopyToProto(copy)
        copy.package = _TF_PACKAGE
        _rename(copy)
        pool.Add(copy)
        added.add(name)

    for descriptor in files.values():
        add(descriptor)
    _POOL = pool
    return pool


def _rename(file_proto) -> None:
    prefix, new = f".{_OUR_PACKAGE}.", f".{_TF_PACKAGE}."

    def fix_message(message):
        for field in message.field:
            if field.type_name.startswith(prefix):
                field.type_name = new + field.type_name[len(prefix):]
        for nested in message.nested_type:
            fix_message(nested)

    for message in file_proto.message_type:
        fix_message(message)


def _twin(message):
    """The private-pool class of ``message``'s type, holding ``message``'s bytes."""
    from google.protobuf import message_factory

    full_name = message.DESCRIPTOR.full_name
    if full_name.startswith(_OUR_PACKAGE + "."):
        full_name = _TF_PACKAGE + full_name[len(_OUR_PACKAGE):]
    pool = _private_pool()
    cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(full_name))
    return cls, pool


def message_to_text(message) -> str:
    """``message`` (a tfckpt GraphDef, MetaGraphDef, ...) as TensorFlow's ``as_text`` writes it (GRAPH-1)."""
    from google.protobuf import text_format

    cls, pool = _twin(message)
    twin = cls()
    twin.ParseFromString(message.SerializeToString())
    return text_format.MessageToString(twin, descriptor_pool=pool)


def text_to_message(text: Union[str, bytes], message, *, file: Optional[str] = None):
    """Parse protobuf text into ``message`` (cleared first) and return it; bad text is DataLossError."""
    from google.protobuf import text_format

    cls, pool = _twin(message)
    twin = cls()
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise errors.DataLossError(f"text format is not UTF-8 (byte {exc.start})", file=file) from None
    try:
        text_format.Parse(text, twin, descriptor_pool=pool)
    except text_format.ParseError as exc:
        raise errors.DataLossError(f"not a text {message.DESCRIPTOR.name}: {exc}", file=file) from None
    message.Clear()
    message.ParseFromString(twin.SerializeToString())
    return message


def write_text(path: PathLike, message) -> str:
    """Write ``message`` as text to ``path`` (atomically, like ``write_graph``); returns the path."""
    from ..files import atomic_output, tempstate_name

    path = os.fspath(path)
    data = message_to_text(message).encode("utf-8")
    with atomic_output(path, tempstate_name(path), "xb") as handle:  # local or a URL (STORE-5)
        handle.write(data)
    return path


def read_text(path: PathLike, message):
    """Parse the text-format file ``path`` into ``message``."""
    from .meta_graph import read_file_bytes

    path = os.fspath(path)
    return text_to_message(read_file_bytes(path), message, file=path)


def is_text_file(path: PathLike) -> bool:
    """Whether ``path`` holds text format rather than binary: ``.pbtxt``/``.txt`` suffix or a printable head."""
    path = os.fspath(path)
    if path.endswith((".pbtxt", ".txt", ".prototxt")):
        return True
    from .. import storage

    head = storage.read_head(path, 64)
    return bool(head) and all(32 <= b < 127 or b in (9, 10, 13) for b in head) and head[:1].isalpha()
