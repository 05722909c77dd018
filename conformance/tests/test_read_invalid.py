"""Invalid and implementation-defined inputs: rejected cleanly, with the expected category.

``Required.Read.Invalid.<case>`` reads (with checksum verification) every
``invalid`` fixture and ``Required.Validate.Invalid.<case>`` validates it: the
answer must be a rejection naming the manifest's category.  A crash, a
timeout, a rejection with another category, or -- worst -- silent success
fails.  ``Required.Read.Acceptable.<case>``: an ``acceptable`` fixture may be
read (and must then match its description, if it has one) or rejected, but
never crash.  ``Required.Read.Errors.*`` are inputs every reader must refuse
whatever the fixtures hold.
"""

from __future__ import annotations

import os

import pytest

from tfckpt_conformance.adapter import ImplementationError
from tfckpt_conformance.checks import expect_rejection
from tfckpt_conformance.description import assert_same


def _note(case):
    return f" (fixture {case.id}; TensorFlow: {case.tf_behaviour})" if case.tf_behaviour else f" (fixture {case.id})"


@pytest.mark.conformance("Read.Invalid", level="Required")
@pytest.mark.spec("CONF-5", "CONF-6", "CONF-21", "TBL-2", "TBL-4", "TBL-6", "TBL-7", "CRC-2", "CRC-3",
                 "ERR-1", "ERR-2", "IDX-2", "IDX-4", "IDX-5", "IDX-6", "IDX-11", "IDX-12", "IDX-13", "DATA-3",
                 "DATA-5")
def test_read_invalid(check, invalid_case):
    check.require("read", tags=invalid_case.tags)
    expect_rejection(check, f"read of invalid fixture {invalid_case.id}", check.impl.read, invalid_case.prefix,
                     category=invalid_case.error, case_note=_note(invalid_case))


@pytest.mark.conformance("Validate.Invalid", level="Required")
@pytest.mark.spec("CONF-5", "CONF-9", "CONF-21")
def test_validate_invalid(check, invalid_case):
    check.require("validate", tags=invalid_case.tags)
    expect_rejection(check, f"validate of invalid fixture {invalid_case.id}", check.impl.validate,
                     invalid_case.prefix, category=invalid_case.error, case_note=_note(invalid_case))


@pytest.mark.conformance("Read.Acceptable", level="Required")
@pytest.mark.spec("CONF-6", "CONF-22", "ERR-1", "DATA-11")
def test_read_acceptable(check, acceptable_case):
    check.require("read", tags=acceptable_case.tags)
    try:
        got = check.call(f"read of fixture {acceptable_case.id}", check.impl.read, acceptable_case.prefix)
    except ImplementationError as exc:
        allowed = [c for c in [acceptable_case.error, *acceptable_case.categories_any_of] if c]
        if allowed and exc.category not in allowed:
            pytest.fail(f"read of acceptable fixture {acceptable_case.id}: rejected with {exc.reported_category}, "
                        f"allowed are {', '.join(allowed)}{_note(acceptable_case)}", pytrace=False)
        return  # a clean rejection is acceptable
    if acceptable_case.description_path:
        assert_same(acceptable_case.description(), got,
                    what=f"{check.impl.name}'s read of acceptable fixture {acceptable_case.id} (accepted, so it must be right)")


@pytest.mark.conformance("Read.Errors.missing-prefix", level="Required")
@pytest.mark.spec("CONF-5", "CONF-7")
def test_read_missing_prefix(check, tmp_path):
    check.require("read")
    expect_rejection(check, "read of a prefix with no files", check.impl.read, os.path.join(str(tmp_path), "nothing"),
                     category="NOT_FOUND")


@pytest.mark.conformance("List.Errors.missing-prefix", level="Required")
@pytest.mark.spec("CONF-5", "CONF-10")
def test_list_missing_prefix(check, tmp_path):
    check.require("list")
    expect_rejection(check, "list of a prefix with no files", check.impl.list, os.path.join(str(tmp_path), "nothing"),
                     category="NOT_FOUND")
