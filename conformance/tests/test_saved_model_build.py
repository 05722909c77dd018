"""Building a SavedModel: the implementation builds a TF1 checkpoint and its graph into a SavedModel;
what TensorFlow's ``SavedModelBuilder`` wrote is the golden.

``Required.SavedModelBuild.Bytes.<case>``: for each ``savedmodel_build`` fixture -- ref and resource
variables, partitioned embeddings (ref and resource), a frozen graph (no variables), devices cleared
-- the implementation builds the case's ``.meta`` (or frozen ``.pb``) with its checkpoint and the
case's signatures, tags, ``clear_devices`` and ``tensorflow_git_version`` (spec/savedmodel.md §7), and
the directory must hold exactly TensorFlow's files: ``saved_model.pb`` (deterministic serialisation)
and the variables bundle byte for byte, an empty ``variables/`` for the frozen graph.
``Required.SavedModelBuild.Refusals``: a signature tensor the graph lacks, an export directory that
exists and is not empty, and a checkpoint without the graph's variables are refused cleanly, naming
what is wrong, and leave the export directory as it was (absent, or with only its own files).
"""

from __future__ import annotations

import os

import pytest

from tfckpt_conformance.checks import expect_rejection, first_difference, fixture_case, scratch_dir

BUILD_RULES = ("SMB-1", "SMB-2", "SMB-3", "SMB-4", "SMB-5", "SMB-6", "SMB-7", "SMB-8", "SMB-9")


@pytest.fixture(scope="module")
def build_base(tmp_path_factory):
    return str(tmp_path_factory.mktemp("savedmodel_build"))


def _inputs(case):
    graph = os.path.join(case.directory, case.expected["graph"])
    checkpoint = None if case.expected.get("build_without_checkpoint") else case.prefix
    return graph, checkpoint, case.expected["build_saved_model"]


def _listing(directory):
    return sorted(os.path.relpath(os.path.join(d, f), directory).replace(os.sep, "/")
                  for d, _, fs in os.walk(directory) for f in fs)


@pytest.mark.conformance("SavedModelBuild.Bytes", level="Required")
@pytest.mark.spec(*BUILD_RULES)
def test_build_matches_tensorflows_savedmodel(check, savedmodel_build_case, build_base):
    check.require("build_saved_model")
    case = savedmodel_build_case
    graph, checkpoint, request = _inputs(case)
    golden = os.path.join(case.directory, case.expected["built"])
    with scratch_dir(build_base) as d:
        dst = os.path.join(d, "export", "1")
        check.call_ok(f"build_saved_model of {case.id}", check.impl.build_saved_model, graph, checkpoint, dst, request)
        assert _listing(dst) == case.expected["built_files"], f"the SavedModel's files differ from TensorFlow's"
        assert os.path.isdir(os.path.join(dst, "variables")), "no variables/ directory (SMB-1)"
        for name in case.expected["built_files"]:
            with open(os.path.join(golden, name), "rb") as a, open(os.path.join(dst, name), "rb") as b:
                want, got = a.read(), b.read()
            assert got == want, f"{name} differs from TensorFlow's: {first_difference(want, got)}"


def _case(conformance_run, cid):
    return fixture_case(conformance_run, cid, "savedmodel_build")


@pytest.mark.conformance("SavedModelBuild.Refusals", level="Required")
@pytest.mark.spec("SMB-10", "SMB-11")
@pytest.mark.parametrize("mistake", ["missing-tensor", "non-empty-export-dir", "variable-not-in-checkpoint"])
def test_build_refusals_name_what_is_wrong_and_leave_nothing(check, mistake, conformance_run, build_base):
    check.require("build_saved_model")
    case = _case(conformance_run, "savedmodel-build-tf1-ref")
    graph, checkpoint, request = _inputs(case)
    named, existing = None, []
    if mistake == "missing-tensor":
        request = dict(request, signatures={"serving_default": {"inputs": {"x": "no_such_input:0"}, "outputs": {},
                                                                "method_name": "tensorflow/serving/predict"}})
        named = "no_such_input"
    elif mistake == "non-empty-export-dir":
        existing = ["keep.txt"]
    else:
        # The ref model's graph (w, b) against the partitioned embedding's checkpoint (emb only).
        checkpoint = _case(conformance_run, "savedmodel-build-tf1-partitioned-embedding").prefix
    with scratch_dir(build_base) as d:
        dst = os.path.join(d, "export")
        for name in existing:
            os.makedirs(dst, exist_ok=True)
            with open(os.path.join(dst, name), "wb") as handle:
                handle.write(b"mine")
        exc = expect_rejection(check, f"build_saved_model of {case.id} with {mistake}", check.impl.build_saved_model,
                               graph, checkpoint, dst, request,
                               category="NOT_FOUND" if mistake == "variable-not-in-checkpoint" else None)
        if named:
            assert named in exc.message, f"the refusal does not name {named!r}: {exc.message[:300]}"
        if existing:
            assert _listing(dst) == existing, "a refused build changed the non-empty export directory"
            with open(os.path.join(dst, "keep.txt"), "rb") as handle:
                assert handle.read() == b"mine"
        else:
            assert not os.path.exists(dst), "a refused build left the export directory behind"
        assert os.listdir(d) == (["export"] if existing else []), f"a refused build left {os.listdir(d)} behind"
