"""Big-endian bundles (written on a big-endian host) are byte-swapped on read.

No big-endian machine is at hand, so the bundle is built here by hand from the
layout rules (spec: data-file.md, "Endianness"): every element's bytes are
reversed per swap unit (complex numbers per component), string lengths are
still varints but their CRC runs over big-endian 4-byte lengths, the stored
length checksum is big-endian, and the header says ``endianness: BIG``.
"""

import struct

import crc32c
import numpy as np

import tfckpt
from tfckpt import checksums
from tfckpt.proto import tensor_bundle_pb2

from index_surgery import write_index


def _entry(dtype, shape, offset, payload):
    entry = tensor_bundle_pb2.BundleEntryProto(dtype=dtype, offset=offset, size=len(payload))
    entry.shape.SetInParent()
    for d in shape:
        entry.shape.dim.add().size = d
    entry.crc32c = checksums.mask(crc32c.crc32c(payload))
    return entry


def test_reading_a_big_endian_bundle(tmp_path):
    prefix = str(tmp_path / "be")
    floats = struct.pack(">3f", 1.5, -2.0, 3.25)
    complexes = struct.pack(">4d", 1.0, 2.0, -3.0, 0.5)
    lengths_crc = crc32c.crc32c(struct.pack(">II", 2, 1))
    checksum = struct.pack(">I", checksums.mask(lengths_crc))
    strings = b"\x02\x01" + checksum + b"abc"
    data = floats + complexes + strings
    with open(prefix + ".data-00000-of-00001", "wb") as handle:
        handle.write(data)
    header = tensor_bundle_pb2.BundleHeaderProto(num_shards=1, endianness=tensor_bundle_pb2.BundleHeaderProto.BIG)
    header.version.producer = 1
    entries = {
        b"c": _entry(18, [2], len(floats), complexes),
        b"f": _entry(1, [3], 0, floats),
        b"s": _entry(7, [2], len(floats) + len(complexes), strings),
    }
    # A string entry's CRC covers the lengths as fixed-width integers, not the varints.
    entries[b"s"].crc32c = checksums.mask(crc32c.crc32c(b"abc", crc32c.crc32c(checksum, lengths_crc)))
    write_index(prefix, [(b"", header.SerializeToString())] + [(k, entries[k].SerializeToString()) for k in sorted(entries)])
    with tfckpt.load_checkpoint(prefix) as reader:
        assert reader.get_tensor("f").tolist() == [1.5, -2.0, 3.25]
        assert reader.get_tensor("c").tolist() == [1 + 2j, -3 + 0.5j]
        assert reader.get_tensor("s").tolist() == [b"ab", b"c"]
        assert reader.get_tensor("f").dtype == np.float32  # native order after the swap
