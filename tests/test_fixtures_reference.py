"""The reference against every golden fixture TensorFlow wrote (fixtures/tf-*/manifest.json).

This is the ordinary-run check that tfckpt reads each valid fixture to exactly
the manifest's description, rejects each invalid one with the expected error
category, and writes each writer case's input to TensorFlow's exact bytes.
It calls tfckpt directly; the conformance suite (conformance/) checks the same
fixtures again through the adapter interface, for any implementation.
"""

import glob
import os

import numpy as np
import pytest

import tfckpt
from tfckpt import errors
from tfckpt.bundle.slices import TensorSlice
from tfckpt_conformance import description as D
from tfckpt_conformance.fixtures import FixtureSet

ROOT = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures")
SETS = [FixtureSet.load(d) for d in sorted(glob.glob(os.path.join(ROOT, "tf-*"))) if os.path.isdir(d)]
CASES = [case for fixture_set in SETS for case in fixture_set.cases]


def _ids(cases):
    return [case.id for case in cases]


def test_there_are_fixtures():
    assert SETS and all(not s.problem for s in SETS)
    assert any(c.result == "valid" for c in CASES) and any(c.result == "invalid" for c in CASES)


def _describe(reader, keys):
    dtypes = reader.get_variable_to_dtype_map()
    return D.Description([D.tensor_from_array(k, dtypes[k].name, reader.get_tensor(k)) for k in keys])


GOLDEN = [c for s in SETS for c in s.golden()]


@pytest.mark.parametrize("case", GOLDEN, ids=_ids(GOLDEN))
def test_reads_valid_fixture_exactly(case):
    expected = case.description()
    with tfckpt.load_checkpoint(case.prefix) as reader:
        listed = set(reader.get_variable_to_shape_map())
        assert listed - set(case.undescribed_keys) == set(expected.keys())
        actual = _describe(reader, expected.keys())
    problems = D.compare(expected, actual, check_partitions=False)
    assert not problems, "\n".join(problems)


ACCEPTABLE = [c for s in SETS for c in s.acceptable()]


#: Implementation-defined inputs the reference refuses, by its own stricter rule: restart offsets must be
#: increasing entry boundaries (reference/tfckpt/table/block.py; TBL-6 leaves this to the reader).
REFUSED_BY_REFERENCE = {
    "acceptable-index-block-restart-inside-entry": "falls inside an entry",
    "acceptable-index-block-restart-duplicate": "out of order",
}


@pytest.mark.parametrize("case", ACCEPTABLE, ids=_ids(ACCEPTABLE))
def test_acceptable_fixture_reads_or_fails_as_allowed(case):
    if case.id in REFUSED_BY_REFERENCE:
        with pytest.raises(errors.DataLossError, match=REFUSED_BY_REFERENCE[case.id]) as info:
            with tfckpt.load_checkpoint(case.prefix) as reader:
                for key in reader.get_variable_to_shape_map():
                    reader.get_tensor(key)
        assert info.value.file.endswith("ckpt.index"), info.value
        return
    with tfckpt.load_checkpoint(case.prefix) as reader:
        expected = case.description()
        assert not D.compare(expected, _describe(reader, expected.keys()), check_partitions=False)
        for key in case.undescribed_keys:  # values a description cannot express: read, or refused as allowed
            try:
                reader.get_tensor(key)
            except errors.CheckpointError as exc:
                assert exc.category in case.undescribed_key_categories, f"{type(exc).__name__}: {exc}"


INVALID = [c for s in SETS for c in s.invalid()]


@pytest.mark.parametrize("case", INVALID, ids=_ids(INVALID))
def test_rejects_invalid_fixture_with_expected_category(case):
    with pytest.raises(errors.CheckpointError) as info:
        with tfckpt.load_checkpoint(case.prefix) as reader:
            for key in reader.get_variable_to_shape_map():
                reader.get_tensor(key)
    allowed = {case.error, *case.categories_any_of}
    assert info.value.category in allowed, f"{type(info.value).__name__}: {info.value}"


WRITER = [c for s in SETS for c in s.writer()]


@pytest.mark.parametrize("case", WRITER, ids=_ids(WRITER))
def test_writer_output_is_byte_identical_to_tensorflow(case, tmp_path):
    prefix = str(tmp_path / os.path.basename(case.prefix))
    with tfckpt.BundleWriter(prefix) as writer:
        for tensor in case.description().tensors:
            if tensor.dtype == "string":
                value = np.array(tensor.strings, dtype=object).reshape(tensor.shape)
            else:
                value = tensor.data.reshape(tensor.shape)
            for spec in tensor.partitions or [None]:
                if spec is None:
                    writer.add(tensor.key, value, dtype=tensor.dtype)
                else:
                    part = TensorSlice.parse(spec)
                    window = tuple(slice(lo, hi) for lo, hi in part.bounds(tensor.shape))
                    writer.add_slice(tensor.key, tensor.shape, part, value[window], dtype=tensor.dtype)
    for name in case.raw["expected"]["files"]:
        with open(os.path.join(case.directory, name), "rb") as handle:
            theirs = handle.read()
        with open(os.path.join(tmp_path, name), "rb") as handle:
            ours = handle.read()
        assert ours == theirs, name


STATE = [c for s in SETS for c in s.latest()]


@pytest.mark.parametrize("case", STATE, ids=_ids(STATE))
def test_state_file_resolution(case):
    latest = tfckpt.latest_checkpoint(case.prefix)
    assert latest in case.latest_any_of
    if case.state is not None:
        state = tfckpt.get_checkpoint_state(case.prefix)
        recorded = case.state
        assert os.path.basename(state.model_checkpoint_path) == os.path.basename(recorded["model_checkpoint_path"])
        def bits(values):  # NaN and -0.0 compare by bit pattern; the manifest spells them as strings
            return [float(v).hex() for v in values]

        assert bits(state.all_model_checkpoint_timestamps) == bits(recorded.get("all_model_checkpoint_timestamps", []))
