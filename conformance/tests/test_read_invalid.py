"""Invalid and implementation-defined inputs: rejected cleanly, with the expected category.

The levels follow what TensorFlow 2.21 itself does (the manifest records it
per fixture as ``tf_behaviour``):

* ``Required.Read.Invalid.<case>`` / ``Required.Validate.Invalid.<case>``: an
  invalid fixture that TensorFlow rejects must be rejected -- a clean error of
  any category.  A crash, a timeout or silent success fails.
* ``Recommended.Read.InvalidCategory.<case>`` / ``Recommended.Validate.InvalidCategory.<case>``:
  the rejection names the manifest's category (TensorFlow's ``load_checkpoint``
  reports most failures as ``UNKNOWN``).
* ``Recommended.Read.InvalidStrict.<case>``: invalid fixtures that TensorFlow
  aborts on, accepts, or misreads must be rejected with the expected category
  -- the spec's stricter rule (spec/errors.md).  ``Required.Read.Acceptable.<case>``: an ``acceptable`` fixture may be
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


#: The rules the invalid fixtures break, between them (each fixture's ``reason`` names its own).
INVALID_READ_RULES = (
    "CONF-5", "CONF-6", "CONF-21", "TBL-2", "TBL-4", "TBL-6", "TBL-7", "TBL-20", "TBL-21", "CRC-2", "CRC-3",
    "ERR-1", "ERR-2", "ERR-3", "IDX-2", "IDX-4", "IDX-5", "IDX-6", "IDX-11", "IDX-12", "IDX-13",
    "DATA-3", "DATA-5", "DATA-12", "PRIM-2", "PRIM-5", "PRIM-6", "STR-4", "STR-7", "SLICE-2", "OVR-6",
    "SEC-1", "SEC-2", "SEC-3", "SEC-4", "SEC-5", "V1-4", "V1-9", "V1-10", "DATA-10", "DATA-11", "SEC-8", "SEC-10",
)


def _note(case):
    return f" (fixture {case.id}; TensorFlow: {case.tf_behaviour})" if case.tf_behaviour else f" (fixture {case.id})"


@pytest.mark.conformance("Read.Invalid", level="Required")
@pytest.mark.spec(*INVALID_READ_RULES)
def test_read_invalid(check, tf_rejected_case):
    check.require("read", tags=tf_rejected_case.tags)
    expect_rejection(check, f"read of invalid fixture {tf_rejected_case.id}", check.impl.read,
                     tf_rejected_case.prefix, case_note=_note(tf_rejected_case))


@pytest.mark.conformance("Read.InvalidCategory", level="Recommended")
@pytest.mark.spec(*INVALID_READ_RULES)
def test_read_invalid_category(check, tf_rejected_case):
    check.require("read", tags=tf_rejected_case.tags)
    expect_rejection(check, f"read of invalid fixture {tf_rejected_case.id}", check.impl.read,
                     tf_rejected_case.prefix, category=tf_rejected_case.error, case_note=_note(tf_rejected_case))


@pytest.mark.conformance("Read.InvalidStrict", level="Recommended")
@pytest.mark.spec(*INVALID_READ_RULES)
def test_read_invalid_where_tensorflow_is_lax(check, tf_lax_case):
    check.require("read", tags=tf_lax_case.tags)
    expect_rejection(check, f"read of invalid fixture {tf_lax_case.id}", check.impl.read, tf_lax_case.prefix,
                     category=tf_lax_case.error, case_note=_note(tf_lax_case))


@pytest.mark.conformance("Validate.Invalid", level="Required")
@pytest.mark.spec("CONF-5", "CONF-9", "CONF-21")
def test_validate_invalid(check, tf_rejected_case):
    check.require("validate", tags=tf_rejected_case.tags)
    expect_rejection(check, f"validate of invalid fixture {tf_rejected_case.id}", check.impl.validate,
                     tf_rejected_case.prefix, case_note=_note(tf_rejected_case))


@pytest.mark.conformance("Validate.InvalidCategory", level="Recommended")
@pytest.mark.spec("CONF-5", "CONF-9", "CONF-21")
def test_validate_invalid_category(check, invalid_case):
    check.require("validate", tags=invalid_case.tags)
    expect_rejection(check, f"validate of invalid fixture {invalid_case.id}", check.impl.validate,
                     invalid_case.prefix, category=invalid_case.error, case_note=_note(invalid_case))


@pytest.mark.conformance("Read.Acceptable", level="Required")
@pytest.mark.spec("CONF-6", "CONF-22", "ERR-1", "DATA-11", "V1-13")
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


def _file_names(case) -> list[str]:
    """What a message may use to name the files of ``case``'s checkpoint: the prefix as a path (TensorFlow
    names a data file as "TensorBundle at <prefix> shard <n>"), each file's name, and the prefix's own name
    followed by ``.index`` / ``.data-`` (a missing shard is not among the files)."""
    base = os.path.basename(case.prefix)
    names = {case.prefix, base + ".index", base + ".data-"}
    names |= {os.path.basename(f) for f in case.files if f.endswith(".index") or ".data-" in f}
    if "v1" in case.tags:  # a V1 file, or a pattern whose shards share the part before the first wildcard
        names |= {os.path.basename(f) for f in case.files if os.path.dirname(f) == os.path.dirname(case.prefix)
                  and not f.endswith((".json", ".npz", ".meta")) and os.path.basename(f) != "checkpoint"}
        names.add(base.split("?", 1)[0].split("*", 1)[0])
    return sorted(n for n in names if n)


@pytest.mark.conformance("Read.InvalidMessage", level="Recommended")
@pytest.mark.spec("ERR-4", "CONF-5")
def test_read_invalid_message_names_file(check, tf_rejected_case):
    """The rejection's message names the file concerned (by its name or path)."""
    check.require("read", tags=tf_rejected_case.tags)
    exc = expect_rejection(check, f"read of invalid fixture {tf_rejected_case.id}", check.impl.read,
                           tf_rejected_case.prefix, case_note=_note(tf_rejected_case))
    names = _file_names(tf_rejected_case)
    assert any(n in exc.message for n in names), (
        f"the rejection of invalid fixture {tf_rejected_case.id} names none of its files {names}: {exc.message[:300]!r}")
