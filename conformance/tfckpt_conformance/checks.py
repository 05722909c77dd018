"""Helpers shared by the test families: scratch directories, expected rejections, byte diffs,
named fixture cases."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager

import pytest

from tfckpt_conformance.adapter import ImplementationError

SCRATCH_ENV = "TFCKPT_CONFORMANCE_SCRATCH"


@contextmanager
def scratch_dir(base: str):
    """A fresh directory under ``base``, removed afterwards (safe inside hypothesis examples)."""
    path = tempfile.mkdtemp(dir=base)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def fixture_case(run, case_id: str, kind: str):
    """The case ``case_id`` of kind ``kind`` in the fixtures under test; a fixture set without it
    (an older producer's goldens) skips the test that needs it, saying which case is absent."""
    for case in run.fixtures.cases:
        if case.id == case_id and case.kind == kind:
            return case
    pytest.skip(f"fixture set has no case {case_id}")


def expect_rejection(check, what, fn, *args, category=None, case_note=""):
    """Call ``fn`` expecting a clean rejection; fail on success or crash; return the error."""
    try:
        check.call(what, fn, *args)
    except ImplementationError as exc:
        if category is not None and exc.category != category:
            pytest.fail(
                f"{what}: rejected with category {exc.reported_category}, expected {category}"
                f"{case_note} (message: {exc.message[:300]})",
                pytrace=False,
            )
        return exc
    pytest.fail(f"{what}: ACCEPTED SILENTLY, expected a rejection"
                f"{' with category ' + category if category else ''}{case_note}", pytrace=False)


def first_difference(a: bytes, b: bytes) -> str:
    """Where two byte strings first differ, with a little hex context."""
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            lo = max(0, i - 8)
            return (f"first difference at byte {i} (0x{i:x}): expected {a[lo:i + 8].hex(' ')} "
                    f"got {b[lo:i + 8].hex(' ')} (from offset {lo})")
    if len(a) != len(b):
        return f"lengths differ: expected {len(a)} bytes, got {len(b)}; identical up to byte {n}"
    return "identical"


def list_outputs(prefix: str) -> list[str]:
    """The files a writer produced for ``prefix`` (index and data files), sorted."""
    directory, base = os.path.split(prefix)
    return sorted(n for n in os.listdir(directory) if n.startswith(base + ".") and not n.endswith(".tmp"))
