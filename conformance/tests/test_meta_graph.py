"""TF1 name-based checkpoints and their ``.meta`` files (spec/meta-graph.md).

* ``Required.List.MetaGraphKeys.<case>``: the suite decodes the ``MetaGraphDef`` a TF1
  ``Saver`` wrote next to the checkpoint (with its own wire decoder,
  :mod:`tfckpt_conformance.wire`), maps every ``VariableDef`` of the ``variables``
  collection to its checkpoint key and shape, and checks that the implementation
  lists exactly that key with that shape.
* ``Required.Read.MetaIgnored.<case>``: the checkpoint is read with its ``.meta``
  missing, replaced by bytes that are no ``MetaGraphDef``, and replaced by a
  ``.meta`` whose ``SaverDef.version`` names the other layout; the tensors must
  come back the same each time.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tfckpt_conformance import wire
from tfckpt_conformance.description import Description, assert_same

# MetaGraphDef: saver_def = 3, collection_def = 4 (map entry: key = 1, value = 2).
# CollectionDef: bytes_list = 2 (BytesList: value = 1).  SaverDef: version = 7.
# VariableDef: variable_name = 1, save_slice_info_def = 4 (SaveSliceInfoDef: full_name = 1, full_shape = 2).
GLOBAL_COLLECTIONS = ("variables",)


def _packed_int64(fields) -> list[int]:
    out = []
    for f in fields:
        if f.wire_type == 0:
            out.append(f.value)
        else:
            pos, buf = 0, f.value
            while pos < len(buf):
                value = shift = 0
                while True:
                    byte = buf[pos]
                    pos += 1
                    value |= (byte & 0x7F) << shift
                    shift += 7
                    if not byte & 0x80:
                        break
                out.append(value)
    return [v - (1 << 64) if v >= 1 << 63 else v for v in out]


def _collections(meta: list) -> dict[str, list]:
    out = {}
    for entry in (wire.decode(f.value) for f in wire.fields(meta, 4)):
        out[wire.first(entry, 1, b"").decode("utf-8")] = wire.decode(wire.first(entry, 2, b""))
    return out


def saver_version(meta_bytes: bytes):
    return wire.first(wire.decode(wire.first(wire.decode(meta_bytes), 3, b"")), 7, 0)


def expected_keys(meta_bytes: bytes) -> dict[str, tuple]:
    """checkpoint key -> shape (or None when the VariableDef does not give it), by META-9 and META-10."""
    collections = _collections(wire.decode(meta_bytes))
    keys: dict[str, tuple] = {}
    for name in GLOBAL_COLLECTIONS:
        collection = collections.get(name)
        if collection is None:
            continue
        for item in wire.fields(wire.decode(wire.first(collection, 2, b"")), 1):
            var = wire.decode(item.value)
            slice_info = wire.first(var, 4)
            if slice_info is not None:
                info = wire.decode(slice_info)
                keys[wire.first(info, 1, b"").decode("utf-8")] = tuple(_packed_int64(wire.fields(info, 2)))
            else:
                tensor_name = wire.first(var, 1, b"").decode("utf-8")
                node, colon, index = tensor_name.rpartition(":")
                keys[node if colon and index.isdigit() else tensor_name] = None
    return keys


@pytest.mark.conformance("List.MetaGraphKeys", level="Required")
@pytest.mark.spec("META-7", "META-8", "META-9", "META-10")
def test_list_meta_graph_keys(check, meta_case):
    check.require("list", tags=meta_case.tags)
    with open(meta_case.file_with_suffix(".meta"), "rb") as f:
        wanted = expected_keys(f.read())
    assert wanted, f"the .meta of {meta_case.id} has no variables collection"
    infos = check.call_ok(f"list of fixture {meta_case.id}", check.impl.list, meta_case.prefix)
    listed = {i.key: tuple(i.shape) for i in infos}
    described = {t.key: tuple(t.shape) for t in meta_case.description().tensors}
    problems = []
    for key, shape in sorted(wanted.items()):
        if key not in listed:
            problems.append(f"VariableDef key {key!r} is not listed")
        elif listed[key] != (shape if shape is not None else described.get(key)):
            problems.append(f"{key!r}: listed shape {list(listed[key])}, expected "
                            f"{list(shape if shape is not None else described.get(key, ()))}")
    assert not problems, f"the keys the .meta of {meta_case.id} implies:\n  " + "\n  ".join(problems)


@pytest.mark.conformance("Read.MetaIgnored", level="Required")
@pytest.mark.spec("META-2", "META-5")
def test_read_ignores_meta(check, meta_case, tmp_path, conformance_run):
    check.require("read", tags=meta_case.tags)
    meta = meta_case.file_with_suffix(".meta")
    with open(meta, "rb") as f:
        version = saver_version(f.read())
    other = None  # a .meta whose SaverDef names the other layout (V1 <-> V2)
    for c in conformance_run.fixtures.golden_with_meta():
        with open(c.file_with_suffix(".meta"), "rb") as f:
            data = f.read()
        if (saver_version(data) == 2) != (version == 2):
            other = data
            break
    variants = {"missing": None, "not a MetaGraphDef": b"\xff\xff\xff\xff not a protobuf message \x00\x0a",
                "other layout's SaverDef": other}
    expected = meta_case.description()
    for name, content in variants.items():
        if name != "missing" and content is None:
            continue
        directory = tmp_path / name.replace(" ", "-").replace("'", "")
        directory.mkdir()
        for f in meta_case.files:
            if os.path.dirname(f) == os.path.dirname(meta) and f != meta and not f.endswith((".json", ".npz")):
                shutil.copy(f, directory)
        if content is not None:
            (directory / os.path.basename(meta)).write_bytes(content)
        prefix = os.path.join(str(directory), os.path.basename(meta_case.prefix))
        got = check.call_ok(f"read of fixture {meta_case.id} with its .meta {name}", check.impl.read, prefix,
                            verify=True)
        got = Description([t for t in got.tensors if t.key not in meta_case.undescribed_keys])
        assert_same(expected, got, what=f"{check.impl.name}'s read of {meta_case.id} with its .meta {name}")
