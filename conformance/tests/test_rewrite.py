"""Rewrites: the implementation rewrites a TensorFlow-written checkpoint; TensorFlow's own save of the result is the golden.

``Required.Rewrite.Bytes.<case>``: for each ``rewrite`` fixture -- a TF1 Saver checkpoint with
Adam and moving averages, a Keras 3 ``tf.train.Checkpoint`` with its optimizer -- the
implementation applies the case's request (spec/rewrite.md) and its ``.index`` and ``.data``
must equal what TensorFlow saved for the rewritten variables: a plain ``Saver`` over the
renamed or averaged variables, or ``tf.train.Checkpoint(model=model)``.
"""

from __future__ import annotations

import os

import pytest

from tfckpt_conformance.checks import scratch_dir

REWRITE_RULES = ("REW-1", "REW-3", "REW-4", "REW-5", "REW-6", "REW-7", "REW-9")


@pytest.fixture(scope="module")
def rewrite_base(tmp_path_factory):
    return str(tmp_path_factory.mktemp("rewrite"))


@pytest.mark.conformance("Rewrite.Bytes", level="Required")
@pytest.mark.spec(*REWRITE_RULES)
def test_rewrite_matches_tensorflows_save(check, rewrite_case, rewrite_base):
    check.require("rewrite")
    request = rewrite_case.expected["rewrite"]
    with scratch_dir(rewrite_base) as d:
        dst = os.path.join(d, "out")
        check.call_ok(f"rewrite of {rewrite_case.id} with {request}", check.impl.rewrite, rewrite_case.prefix, dst, request)
        for golden in rewrite_case.expected["files"]:
            suffix = golden[golden.rindex(".index") if golden.endswith(".index") else golden.rindex(".data-"):]
            with open(os.path.join(rewrite_case.directory, golden), "rb") as a, open(dst + suffix, "rb") as b:
                assert b.read() == a.read(), f"{suffix} differs from TensorFlow's save of the rewritten variables"


@pytest.mark.conformance("Rewrite.Refusals", level="Required")
@pytest.mark.spec("REW-2")
@pytest.mark.parametrize("mistake", ["unknown-selected-key", "rename-collision", "destination-is-source"])
def test_rewrite_refusals_leave_nothing(check, mistake, rewrite_case, rewrite_base):
    check.require("rewrite")
    from tfckpt_conformance.checks import expect_rejection

    with scratch_dir(rewrite_base) as d:
        dst = os.path.join(d, "sub", "out")
        request = {"select": ["no/such/key"]}
        if mistake == "rename-collision":
            request = {"rename": [[".*", "same"]]}
        elif mistake == "destination-is-source":
            dst, request = rewrite_case.prefix, {}
        before = sorted(os.listdir(os.path.dirname(rewrite_case.prefix)))
        expect_rejection(check, f"rewrite with {mistake}", check.impl.rewrite, rewrite_case.prefix, dst, request)
        assert not os.path.exists(os.path.join(d, "sub")), "a refused rewrite left files at its destination"
        assert sorted(os.listdir(os.path.dirname(rewrite_case.prefix))) == before, "a refused rewrite changed the source"
