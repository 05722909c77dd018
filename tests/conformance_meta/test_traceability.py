"""Requirement ids in spec/*.md and the conformance tests that cite them, checked both ways."""

from __future__ import annotations

import os

from tfckpt_conformance import traceability

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_ids_are_extracted_with_the_documented_regex():
    assert traceability.ID_PATTERN.pattern == r"\*\*\[([A-Z0-9]+-[0-9]+)\]\*\*"
    assert traceability.ID_PATTERN.findall("x **[IDX-4]** y [NOT-1] **[CONF-12]**") == ["IDX-4", "CONF-12"]


def test_every_id_is_cited_and_every_citation_exists():
    found = traceability.problems(REPO)
    assert not found, "\n".join(found)


def test_withdrawn_ids_are_recognised_and_not_required(tmp_path):
    spec = tmp_path / "spec"
    spec.mkdir()
    (spec / "x.md").write_text("**[X-1]** A rule.\n\n**[X-2]** *(withdrawn: no longer a rule)* Text.\n")
    tests = tmp_path / "conformance" / "tests"
    tests.mkdir(parents=True)
    (tests / "test_x.py").write_text(
        "import pytest\nRULES = ('X-1',)\n@pytest.mark.spec(*RULES)\ndef test_a():\n    pass\n")
    assert traceability.spec_ids(str(tmp_path)) == {"X-1": "spec/x.md"}
    assert traceability.withdrawn_ids(str(tmp_path)) == {"X-2": "spec/x.md"}
    assert traceability.problems(str(tmp_path)) == []  # X-1 cited through the constant, X-2 needs no test
    (tests / "test_y.py").write_text("import pytest\n@pytest.mark.spec('X-2')\ndef test_b():\n    pass\n")
    assert traceability.problems(str(tmp_path)) == [
        "X-2 is withdrawn (spec/x.md) but cited by conformance/tests/test_y.py::test_b"]
