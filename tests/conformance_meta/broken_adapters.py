"""Deliberately broken implementations: the reference with one behaviour wrong each.

The suite must fail each of them, with a message that points at what is
broken (tests in ``test_broken_adapters.py``).  Each class changes exactly one
thing, so that a failure elsewhere would be the suite's fault.
"""

from __future__ import annotations

import contextlib

from tfckpt import checksums
from tfckpt.bundle import writer as bundle_writer
from tfckpt.encoding import FIXED32, encode_varint

from tfckpt_conformance.adapters.reference import ReferenceAdapter
from tfckpt_conformance.description import Description, TensorDescription


class SkipsChecksums(ReferenceAdapter):
    """Never verifies tensor checksums: reads and validates with verification off."""

    name = "broken-skips-checksums"

    def read(self, prefix, *, verify=True):
        return super().read(prefix, verify=False)

    def validate(self, prefix):
        self.read(prefix)


def _off_by_one_strings(elements):
    """Like the real encoder, but every length is written one too large (checksums consistent with it)."""
    crc = 0
    lengths = bytearray()
    for element in elements:
        wrong = len(element) + 1
        lengths += encode_varint(wrong)
        crc = checksums.extend(crc, wrong.to_bytes(4, "little"))
    length_checksum = FIXED32.pack(checksums.mask(crc))
    crc = checksums.extend(crc, length_checksum)
    body = b"".join(elements)
    crc = checksums.extend(crc, body)
    return bytes(lengths) + length_checksum + body, checksums.mask(crc)


class WrongStringLengths(ReferenceAdapter):
    """Writes string tensors with every element length off by one."""

    name = "broken-string-lengths"

    def write(self, description, prefix):
        with _patched(bundle_writer.data_layout, "encode_strings", _off_by_one_strings):
            super().write(description, prefix)


class WrongDtype(ReferenceAdapter):
    """Reports bfloat16 tensors as float16 (same width, different type)."""

    name = "broken-wrong-dtype"

    def read(self, prefix, *, verify=True):
        got = super().read(prefix, verify=verify)
        return Description([
            TensorDescription(t.key, "float16", t.shape, data=t.data, partitions=t.partitions)
            if t.dtype == "bfloat16" else t
            for t in got.tensors
        ])


@contextlib.contextmanager
def _patched(module, name, value):
    old = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, old)

