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
