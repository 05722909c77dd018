"""The ``checkpoint`` state file: read fixtures, round trips with the reference, and TensorFlow's bytes.

* ``Required.State.Read.Golden.<case>`` -- the fields of a TensorFlow-written state file;
* ``Required.State.RoundTrip.ImplToReference`` / ``ReferenceToImpl`` -- generated states
  (``strategies.checkpoint_states``) written by one side and read by the other;
* ``Required.State.Read.Errors.missing`` -- a directory without a state file is ``NOT_FOUND``;
* ``Recommended.State.Bytes.<case>`` -- writing a fixture's state gives TensorFlow's exact text.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given

from tfckpt_conformance import strategies as cs
from tfckpt_conformance.adapter import CheckpointState, ImplementationError
from tfckpt_conformance.checks import expect_rejection, first_difference, scratch_dir  # noqa: F401


def _state_problems(want: CheckpointState, got: CheckpointState) -> list[str]:
    out = []
    for name in ("model_checkpoint_path", "all_model_checkpoint_paths", "all_model_checkpoint_timestamps",
                 "last_preserved_timestamp"):
        a, b = getattr(want, name), getattr(got, name)
        if name.endswith("timestamps"):
            same = len(a) == len(b) and all(x.hex() == y.hex() for x, y in zip(map(float, a), map(float, b)))
        elif name == "last_preserved_timestamp":
            same = float(a).hex() == float(b).hex()
        else:
            same = a == b
        if not same:
            out.append(f"{name}: expected {a!r}, got {b!r}")
    return out


@pytest.fixture(scope="module")
def state_base(tmp_path_factory):
    return str(tmp_path_factory.mktemp("state"))


@pytest.mark.conformance("State.Read.Golden", level="Required")
@pytest.mark.spec("CONF-12", "CONF-26", "STATE-1", "STATE-2", "STATE-3", "STATE-9", "STATE-11")
def test_state_read_golden(check, state_case):
    check.require("read_state", tags=["state_file", *state_case.tags])
    want = state_case.expected_state()
    if want is None:
        pytest.skip(f"fixture {state_case.id} gives no expected state")
    directory = os.path.dirname(state_case.state_file())
    got = check.call_ok(f"read_state of fixture {state_case.id}", check.impl.read_state, directory)
    problems = _state_problems(want, got)
    assert not problems, f"state file of fixture {state_case.id}:\n  " + "\n  ".join(problems)


@pytest.mark.conformance("State.Bytes", level="Recommended")
@pytest.mark.spec("CONF-12", "CONF-24", "CONF-26", "STATE-4", "STATE-5", "STATE-6", "STATE-7", "STATE-8")
def test_state_bytes(check, state_case, state_base):
    check.require("write_state", tags=["state_file", *state_case.tags])
    want = state_case.expected_state()
    tf_file = state_case.state_file()
    if want is None or tf_file is None:
        pytest.skip(f"fixture {state_case.id} gives no expected state and TensorFlow-written file")
    with open(tf_file, "rb") as f:
        tf_bytes = f.read()
    with scratch_dir(state_base) as d:
        check.call_ok(f"write_state of fixture {state_case.id}", check.impl.write_state, d, want)
        with open(os.path.join(d, "checkpoint"), "rb") as f:
            got = f.read()
    assert got == tf_bytes, f"state file differs from TensorFlow's: {first_difference(tf_bytes, got)}"


@pytest.mark.conformance("State.RoundTrip.ImplToReference", level="Required")
@pytest.mark.spec("CONF-12", "CONF-26")
@given(state=cs.checkpoint_states())
def test_state_impl_to_reference(check, state_base, state):
    check.require("write_state", tags=["state_file"])
    check.roles(producer=check.run.label, consumer="reference")
    ref = check.run.trusted("reference")
    with scratch_dir(state_base) as d:
        check.call_ok("write_state", check.impl.write_state, d, state)
        got = check.trusted_call(ref, "write_state", ref.read_state, d)
    problems = _state_problems(state, got)
    assert not problems, "reference's read of the written state file:\n  " + "\n  ".join(problems)


@pytest.mark.conformance("State.RoundTrip.ReferenceToImpl", level="Required")
@pytest.mark.spec("CONF-12", "CONF-26")
@given(state=cs.checkpoint_states())
def test_state_reference_to_impl(check, state_base, state):
    check.require("read_state", tags=["state_file"])
    check.roles(producer="reference", consumer=check.run.label)
    ref = check.run.trusted("reference")
    with scratch_dir(state_base) as d:
        ref.write_state(d, state)
        got = check.call_ok("read_state", check.impl.read_state, d)
    problems = _state_problems(state, got)
    assert not problems, "read of the reference's state file:\n  " + "\n  ".join(problems)


@pytest.mark.conformance("State.Read.Errors.missing", level="Required")
@pytest.mark.spec("CONF-5", "CONF-12", "CONF-26")
def test_state_missing(check, tmp_path):
    check.require("read_state", tags=["state_file"])
    expect_rejection(check, "read_state of a directory without a state file", check.impl.read_state,
                     str(tmp_path), category="NOT_FOUND")


def _same_path(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return os.path.normpath(os.path.abspath(a)) == os.path.normpath(os.path.abspath(b))


@pytest.mark.conformance("State.Latest", level="Required")
@pytest.mark.spec("CONF-12", "CONF-26", "STATE-15", "STATE-16", "STATE-17", "STATE-18")
def test_state_latest(check, latest_case):
    check.require("latest_checkpoint", tags=["state_file", *latest_case.tags])
    what = f"latest_checkpoint of fixture {latest_case.id}"
    try:
        got = check.call(what, check.impl.latest_checkpoint, latest_case.prefix)
    except ImplementationError as exc:
        allowed_categories = latest_case.categories_any_of if latest_case.result == "acceptable" else []
        if exc.category in allowed_categories:
            return
        pytest.fail(f"{what} was rejected with {exc.reported_category}: {exc.message}", pytrace=False)
    allowed = latest_case.latest_any_of or [None]
    assert any(_same_path(got, want) for want in allowed), (
        f"latest_checkpoint of fixture {latest_case.id}: got {got!r}, expected "
        + (repr(allowed[0]) if len(allowed) == 1 else f"one of {allowed!r}"))


def _latest_invalid(check, case, *, with_category: bool) -> None:
    check.require("latest_checkpoint", tags=["state_file", *case.tags])
    note = f" (fixture {case.id}; TensorFlow: {case.tf_behaviour})" if case.tf_behaviour else ""
    what = f"latest_checkpoint of invalid fixture {case.id}"
    try:
        got = check.call(what, check.impl.latest_checkpoint, case.prefix)
    except ImplementationError as exc:
        if with_category and case.error and exc.category != case.error:
            pytest.fail(f"{what}: rejected with category {exc.reported_category}, expected "
                        f"{case.error}{note} (message: {exc.message[:300]})", pytrace=False)
        return
    # null is the state-file API's own way of saying "no checkpoint here" (CONF-12).
    assert got is None, f"{what}: resolved to {got!r}, expected null or a {case.error} rejection{note}"


@pytest.mark.conformance("State.Latest.Invalid", level="Required")
@pytest.mark.spec("CONF-5", "CONF-12", "CONF-21", "CONF-26", "STATE-12", "STATE-13", "STATE-14", "STATE-16")
def test_state_latest_invalid(check, latest_invalid_case):
    """No checkpoint is resolved: null, or a rejection of any category (TensorFlow raises ValueError)."""
    _latest_invalid(check, latest_invalid_case, with_category=False)


@pytest.mark.conformance("State.Latest.InvalidCategory", level="Recommended")
@pytest.mark.spec("CONF-5", "CONF-12", "CONF-21", "CONF-26", "STATE-12", "STATE-13", "STATE-14", "STATE-16")
def test_state_latest_invalid_category(check, latest_invalid_case):
    """A rejection names the manifest's category."""
    _latest_invalid(check, latest_invalid_case, with_category=True)


# -- the other text-format forms TensorFlow's parser accepts (STATE-10), written by the suite -----------

_PATHS = 'all_model_checkpoint_paths: "a"\nall_model_checkpoint_paths: "b"\n'
TEXT_FORMS = {
    # name: (file text, expected fields)
    "adjacent-literals": ('model_checkpoint_path: "ck" "pt-1"\nall_model_checkpoint_paths: "ckpt-" \'1\'\n',
                          CheckpointState("ckpt-1", ["ckpt-1"])),
    "list-form": ('model_checkpoint_path: "b"\nall_model_checkpoint_paths: ["a", "b"]\n',
                  CheckpointState("b", ["a", "b"])),
    "separators": ('model_checkpoint_path: "b";\nall_model_checkpoint_paths: "a",\nall_model_checkpoint_paths: "b";\n',
                   CheckpointState("b", ["a", "b"])),
    "one-line": ('model_checkpoint_path: "b" all_model_checkpoint_paths: "a" all_model_checkpoint_paths: "b"\n',
                 CheckpointState("b", ["a", "b"])),
    "escapes": ('model_checkpoint_path: "a\\u00e9z\\a\\b\\f\\v\\U0001F600"\n'
                'all_model_checkpoint_paths: "a\\u00e9z\\a\\b\\f\\v\\U0001F600"\n',
                CheckpointState("a\u00e9z\x07\x08\x0c\x0b\U0001F600", ["a\u00e9z\x07\x08\x0c\x0b\U0001F600"])),
    "doubles": ('model_checkpoint_path: "b"\n' + _PATHS
                + "all_model_checkpoint_timestamps: 7\nall_model_checkpoint_timestamps: +3.5e1\n"
                + "last_preserved_timestamp: .5\n",
                CheckpointState("b", ["a", "b"], [7.0, 35.0], 0.5)),
    "doubles-suffix-exponent": ('model_checkpoint_path: "b"\n' + _PATHS
                                + "all_model_checkpoint_timestamps: 5.\nall_model_checkpoint_timestamps: 1.5f\n"
                                + "last_preserved_timestamp: 1E3\n",
                                CheckpointState("b", ["a", "b"], [5.0, 1.5], 1000.0)),
    "doubles-special": ('model_checkpoint_path: "b"\n' + _PATHS
                        + "all_model_checkpoint_timestamps: -inf\nall_model_checkpoint_timestamps: Infinity\n"
                        + "last_preserved_timestamp: nan\n",
                        CheckpointState("b", ["a", "b"], [float("-inf"), float("inf")], float("nan"))),
}


@pytest.mark.conformance("State.Read.TextForms", level="Recommended")
@pytest.mark.spec("STATE-10")
@pytest.mark.parametrize("form", sorted(TEXT_FORMS))
def test_state_text_forms(check, state_base, form):
    check.require("read_state", tags=["state_file"])
    text, want = TEXT_FORMS[form]
    with scratch_dir(state_base) as d:
        with open(os.path.join(d, "checkpoint"), "w", encoding="utf-8") as f:
            f.write(text)
        got = check.call_ok(f"read_state of a state file in the {form} form", check.impl.read_state, d)
    problems = _state_problems(want, got)
    assert not problems, f"state file {text!r}:\n  " + "\n  ".join(problems)


@pytest.mark.conformance("State.Write.Replaces", level="Required")
@pytest.mark.spec("STATE-23")
def test_state_write_replaces(check, state_base):
    """A shorter state written over a longer one: the old file is replaced whole, and no temporary file remains."""
    check.require("write_state", tags=["state_file"])
    old = CheckpointState("ckpt-99", [f"ckpt-{i}" for i in range(100)], [], 0.0)
    new = CheckpointState("ckpt-1", ["ckpt-1"], [], 0.0)
    ref = check.run.trusted("reference")
    with scratch_dir(state_base) as d:
        ref.write_state(d, old)
        check.call_ok("write_state over an existing state file", check.impl.write_state, d, new)
        left = sorted(os.listdir(d))
        got = check.trusted_call(ref, "write_state over an existing state file", ref.read_state, d)
    assert left == ["checkpoint"], f"files left in the directory: {left}"
    problems = _state_problems(new, got)
    assert not problems, "reference's read of the replaced state file:\n  " + "\n  ".join(problems)
