"""Test helpers: rewrite a bundle's .index with one thing broken, keeping its SSTable well-formed.

The block checksums stay valid, so a reader reaches the check the test is meant for.
"""

import os

from tfckpt.proto import tensor_bundle_pb2
from tfckpt.table import TableReader, TableWriter


def read_index(prefix):
    with TableReader(prefix + ".index") as table:
        return list(table.items())


def write_index(prefix, items):
    """Rewrite ``prefix.index`` from (key, value) pairs, keeping the SSTable well-formed."""
    with open(prefix + ".index", "wb") as handle:
        writer = TableWriter(handle)
        for key, value in items:
            writer.add(key, value)
        writer.finish()


def mutate_entry(prefix, key, change):
    """Apply ``change(entry)`` to the BundleEntryProto under ``key`` and rewrite the index."""
    items = []
    for k, v in read_index(prefix):
        if k == key:
            entry = tensor_bundle_pb2.BundleEntryProto.FromString(v)
            change(entry)
            v = entry.SerializeToString()
        items.append((k, v))
    write_index(prefix, items)


def mutate_header(prefix, change):
    items = read_index(prefix)
    header = tensor_bundle_pb2.BundleHeaderProto.FromString(items[0][1])
    change(header)
    items[0] = (b"", header.SerializeToString())
    write_index(prefix, items)
