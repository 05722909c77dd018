"""Byte-exactness against TensorFlow: every ``.index`` under ``fixtures/`` is rewritten identically.

Each table TensorFlow wrote is read with our reader and its entries are added,
in order, to our writer with TensorFlow's bundle options (block size 262144,
restart interval 16, no compression); the bytes must equal TensorFlow's.  The
small TensorFlow-written tables kept beside these tests (``data/tf-2.21.0``)
join the list, so the check runs even before ``fixtures/`` is populated.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import json

import pytest

from tfckpt.table import TableReader, TableWriter

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
LOCAL = Path(__file__).parent / "data" / "tf-2.21.0"



def _valid_case_dirs() -> set:
    """Directories of valid cases TensorFlow wrote as they are (invalid ones are broken on purpose;
    valid "mutated" ones were re-encoded by fixtures/mutate.py, e.g. with a non-minimal varint)."""
    dirs = set()
    for manifest in FIXTURES.glob("tf-*/manifest.json"):
        for case in json.loads(manifest.read_text(encoding="utf-8"))["cases"]:
            if case.get("result") == "valid" and "mutated" not in case.get("tags", ()):
                dirs.add(manifest.parent / case["id"])
    return dirs


_VALID = _valid_case_dirs()
FIXTURE_INDEXES = sorted(p for p in FIXTURES.glob("**/*.index") if any(d in p.parents for d in _VALID))
LOCAL_TABLES = sorted(LOCAL.glob("*.zlib"))


def load(path: Path) -> bytes:
    data = path.read_bytes()
    return zlib.decompress(data) if path.suffix == ".zlib" else data


@pytest.mark.parametrize(
    "path", FIXTURE_INDEXES + LOCAL_TABLES, ids=lambda p: str(p.relative_to(ROOT))
)
def test_rewrite_is_byte_identical(path):
    original = load(path)
    with TableReader(original, name=str(path)) as reader:
        items = list(reader.items())
        for key, value in items[:: max(1, len(items) // 50)]:
            assert reader.get(key) == value
    out = io.BytesIO()
    writer = TableWriter(out)
    for key, value in items:
        writer.add(key, value)
    assert writer.finish() == len(original)
    assert out.getvalue() == original


def test_fixture_directory_is_not_empty_once_generated():
    generated = FIXTURES / "tf-2.21.0"
    if generated.is_dir():
        assert sorted(generated.glob("**/*.index")), f"{generated} exists but holds no .index file"
