"""TensorFlow 1.15 loads the SavedModels tfckpt builds (spec/savedmodel.md §7).

Built from checkpoints and .meta files TensorFlow 1.15 itself wrote (fixtures/tf-1.15.5) and from
TF1-style models trained by TensorFlow 2.21; the old release's ``saved_model.loader.load`` runs the
signature in its own venv (TFCKPT_VENV_TF115 or the one ``tox -e tensorflow-tf115`` builds), and the
outputs must equal TensorFlow 2.21 running the original graph restored from the checkpoint.
"""

import os
import subprocess

import numpy as np
import pytest

import sm_build_tf as s
from test_freeze_old_tf import VENVS, _prefix
from tfckpt.graph import saved_model_build as b
from tfckpt.graph.freeze import freeze

PYTHON = os.path.join(VENVS["tf-1.15.5"], "bin", "python")
SCRIPT = os.path.join(os.path.dirname(__file__), "old_tf_load_saved_model.py")
#: (fixture case, output tensor) of checkpoints TensorFlow 1.15 wrote.
OLD_CASES = [("saver-v1", "dense/kernel/read:0"), ("saver-v2", "dense/kernel/read:0"),
             ("saver-partitioned", "emb/part_0/read:0"), ("saver-v1-partitioned", "emb/part_1/read:0"),
             ("saver-ema-adam", "add:0")]


def _run_tf115(tmp_path, export, feeds):
    if not os.path.exists(PYTHON):
        pytest.skip(f"no TensorFlow 1.15 venv at {VENVS['tf-1.15.5']}")  # capability: the old release is not installed
    np.savez(str(tmp_path / "feeds.npz"), **feeds)
    out = str(tmp_path / "out.npz")
    done = subprocess.run([PYTHON, SCRIPT, export, "serving_default", str(tmp_path / "feeds.npz"), out],
                          capture_output=True, timeout=300)
    return done, out


def _load_with_tf115(tmp_path, export, feeds):
    done, out = _run_tf115(tmp_path, export, feeds)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return dict(np.load(out))


@pytest.mark.spec("SMB-1")
@pytest.mark.parametrize("case,output", OLD_CASES)
def test_tf115_loads_what_we_build_from_its_own_checkpoints(tmp_path, case, output):
    prefix = _prefix("tf-1.15.5", case)
    export = str(tmp_path / "export")
    b.build(export, prefix, None, {"serving_default": ({}, {"y": output}, "predict")})
    got = _load_with_tf115(tmp_path, export, {})
    np.testing.assert_array_equal(got["y"], s.run_original(prefix, {}, [output[:-2]])[0])


@pytest.mark.spec("SMB-1")
@pytest.mark.parametrize("frozen", [False, True], ids=["meta", "frozen"])
@pytest.mark.parametrize("name", ["ref", "partitioned"])
def test_tf115_loads_what_we_build_from_tf2_21_checkpoints(tmp_path, name, frozen):
    prefix, feeds, outputs = s.train(name, str(tmp_path))
    export = str(tmp_path / "export")
    signatures = {"serving_default": ({k: k + ":0" for k in feeds}, {"y": "y:0"}, "predict")}
    if frozen:
        b.build(export, None, freeze(prefix, None, outputs), signatures)
    else:
        b.build(export, prefix, None, signatures)
    got = _load_with_tf115(tmp_path, export, feeds)
    np.testing.assert_allclose(got["y"], s.run_original(prefix, feeds, outputs)[0], rtol=1e-6)


@pytest.mark.parametrize("name", ["resource", "resource_partitioned"])
def test_tf115_refuses_tf2_21_resource_variables_from_either_builder(tmp_path, name):
    """TensorFlow 2.21 gives VarHandleOp a ``debug_name`` attr 1.15 does not know: its own builder's
    SavedModel and ours are refused alike (a limit of the graph, not of the writer)."""
    prefix, feeds, _ = s.train(name, str(tmp_path))
    signatures = {"serving_default": ({k: k + ":0" for k in feeds}, {"y": "y:0"}, "tensorflow/serving/predict")}
    ours, theirs = str(tmp_path / "ours"), str(tmp_path / "theirs")
    b.build(ours, prefix, None, signatures)
    s.build_tf(theirs, prefix, signatures)
    for export in (ours, theirs):
        done, _ = _run_tf115(tmp_path, export, feeds)
        assert done.returncode != 0 and b"NodeDef mentions attr 'debug_name' not in Op<name=VarHandleOp" in done.stderr


def _contexts_as_messages(collections):
    """Collections as a dict, control-flow contexts parsed (TF re-serialises their maps in its own order, SMB-9)."""
    from tensorflow.core.protobuf import control_flow_pb2

    out = {}
    for key, value in collections.items():
        proto = {"cond_context": control_flow_pb2.CondContextDef,
                 "while_context": control_flow_pb2.WhileContextDef}.get(key)
        out[key] = [proto.FromString(v) for v in value.bytes_list.value] if proto else value.SerializeToString()
    return out


@pytest.mark.parametrize("case,output", OLD_CASES)
def test_tf115s_own_builder_writes_the_same_variables_and_an_older_saver(tmp_path, case, output):
    """TensorFlow 1.15's SavedModelBuilder as a second oracle (spec/savedmodel.md §7, after SMB-11): the
    same variables bundle, source nodes, saver_def, collections and signatures; its saver differs from
    2.21's in the documented ways."""
    from tfckpt.graph.saved_model import read_saved_model

    if not os.path.exists(PYTHON):
        pytest.skip(f"no TensorFlow 1.15 venv at {VENVS['tf-1.15.5']}")  # capability: the old release is not installed
    prefix = _prefix("tf-1.15.5", case)
    ours, theirs = str(tmp_path / "ours"), str(tmp_path / "theirs")
    b.build(ours, prefix, None, {"serving_default": ({}, {"y": output}, "predict")})
    subprocess.run([PYTHON, os.path.join(os.path.dirname(__file__), "old_tf_build_saved_model.py"), prefix, theirs,
                    f"y={output}"], check=True, capture_output=True, timeout=300)
    for name in ("variables/variables.index", "variables/variables.data-00000-of-00001"):
        with open(os.path.join(ours, name), "rb") as x, open(os.path.join(theirs, name), "rb") as y:
            assert x.read() == y.read(), name
    a, t = read_saved_model(ours).meta_graphs[0], read_saved_model(theirs).meta_graphs[0]
    assert (a.saver_def, a.signature_def) == (t.saver_def, t.signature_def)
    assert _contexts_as_messages(a.collection_def) == _contexts_as_messages(t.collection_def)
    assert t.meta_info_def.tensorflow_version == "1.15.5"
    first_new = [n.name for n in a.graph_def.node].index(a.saver_def.filename_tensor_name.split("/")[0] + "/filename_1/input")
    assert list(a.graph_def.node)[:first_new] == list(t.graph_def.node)[:first_new]
    # 1.15's saver: the temporary suffix a Const with a random uuid instead of the s3:// regex and Select,
    # no _has_manual_control_dependencies, MergeV2Checkpoints without allow_missing_files.
    new = {n.name: n for n in list(t.graph_def.node)[first_new:]}
    suffix = new["save/StringJoin/inputs_1"].attr["value"].tensor.string_val[0]
    assert suffix.startswith(b"_temp_") and suffix.endswith(b"/part") and len(suffix) == len(b"_temp_/part") + 32
    assert not any("_has_manual_control_dependencies" in n.attr for n in new.values())
    assert "allow_missing_files" not in new["save/MergeV2Checkpoints"].attr
    assert not {"save/StaticRegexFullMatch", "save/Select"} & set(new)
