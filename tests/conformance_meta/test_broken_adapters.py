"""Deliberately broken implementations must fail the conformance suite, with messages that say why."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.spec("CONF-6", "CONF-21", "CONF-23", "CONF-25", "CONF-29")


def test_reference_passes_the_mini_fixtures(run_suite, mini_fixtures):
    run = run_suite("--impl", "reference", "-k", "golden or invalid or string or bfloat16",
                    fixture_dir=mini_fixtures)
    assert run.returncode == 0, run.output[-3000:]
    assert run.outcome("Required.Read.Golden.mini-valid") == "passed"
    assert run.outcome("Required.Read.Invalid.mini-data-crc") == "passed"


def test_skipping_checksums_fails_invalid_inputs(run_suite, mini_fixtures):
    run = run_suite("--impl", "broken_adapters:SkipsChecksums", "-k", "invalid or golden",
                    fixture_dir=mini_fixtures)
    assert run.returncode == 1, run.output[-3000:]
    test_id = "Required.Read.Invalid.mini-data-crc"
    assert run.outcome(test_id) == "failed"
    message = run.message(test_id)
    assert "ACCEPTED SILENTLY" in message and "DATA_LOSS" in message, message
    assert run.outcome("Required.Validate.Invalid.mini-data-crc") == "failed"
    assert run.outcome("Required.Read.Golden.mini-valid") == "passed"  # it still reads good files


def test_wrong_string_lengths_fail_the_writer_tests(run_suite, mini_fixtures):
    run = run_suite("--impl", "broken_adapters:WrongStringLengths", "-k", "string or write_trusted",
                    fixture_dir=mini_fixtures)
    assert run.returncode == 1, run.output[-3000:]
    for test_id in ("Required.RoundTrip.ImplToReference.string", "Required.Write.Trusted.mini-valid.reference"):
        assert run.outcome(test_id) == "failed", (test_id, run.failed())
        message = run.message(test_id)
        assert "string" in message.lower(), message
        assert "rejected the output" in message or "differs" in message, message
    # Reading is not broken: the reference's strings read back fine.
    assert run.outcome("Required.RoundTrip.ReferenceToImpl.string") == "passed"


def test_wrong_dtype_fails_reads(run_suite, mini_fixtures):
    run = run_suite("--impl", "broken_adapters:WrongDtype", "-k", "bfloat16 or golden", fixture_dir=mini_fixtures)
    assert run.returncode == 1, run.output[-3000:]
    for test_id in ("Required.RoundTrip.ReferenceToImpl.bfloat16", "Required.Read.Golden.mini-valid"):
        assert run.outcome(test_id) == "failed", (test_id, run.failed())
        assert "dtype: expected bfloat16, got float16" in run.message(test_id), run.message(test_id)
    assert run.outcome("Required.RoundTrip.ImplToReference.bfloat16") == "passed"  # writing is fine
