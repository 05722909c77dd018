"""tfckpt.saved_model.build without TensorFlow: bad requests refused by name, nothing left behind
(spec/savedmodel.md §7, SMB-10, SMB-11), and what it writes read back by tfckpt's own readers."""

import os

import numpy as np
import pytest

import tfckpt
from tfckpt import errors
from tfckpt.graph import saved_model_build as b
from tfckpt.graph.saved_model import read_saved_model, variables_prefix

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: A TF1 checkpoint and .meta TensorFlow 1.15 wrote (dense/kernel, dense/bias, ... and global_step).
PREFIX = os.path.join(ROOT, "fixtures", "tf-1.15.5", "saver-v2", "model.ckpt-1000")
SIGNATURES = {"serving_default": ({}, {"kernel": "dense/kernel/read:0"}, "predict")}


def _nothing_but(directory, names):
    assert sorted(os.listdir(directory)) == sorted(names)


# spec: "SMB-1", "SMB-8"
def test_built_savedmodel_reads_back_with_the_checkpoints_values(tmp_path):
    export = str(tmp_path / "export" / "1")
    b.build(export, PREFIX, None, SIGNATURES)
    _nothing_but(export, ["saved_model.pb", "variables"])
    model = read_saved_model(export)
    meta = model.meta_graphs[0]
    assert list(meta.meta_info_def.tags) == ["serve"] and meta.saver_def.sharded
    info = meta.signature_def["serving_default"].outputs["kernel"]
    assert (info.name, info.dtype, [d.size for d in info.tensor_shape.dim]) == ("dense/kernel/read:0", 1, [3, 4])
    assert meta.signature_def["serving_default"].method_name == "tensorflow/serving/predict"
    source, built = tfckpt.load_checkpoint(PREFIX), tfckpt.load_checkpoint(variables_prefix(export))
    assert built.get_variable_to_shape_map() == source.get_variable_to_shape_map()
    for key in source.get_variable_to_shape_map():
        np.testing.assert_array_equal(built.get_tensor(key), source.get_tensor(key))


# spec: "SMB-10"
def test_an_existing_empty_directory_is_used(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    b.build(str(export), PREFIX, None, SIGNATURES)
    _nothing_but(export, ["saved_model.pb", "variables"])
    _nothing_but(tmp_path, ["export"])


# spec: "SMB-10"
def test_a_non_empty_export_dir_is_refused_and_left_alone(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "keep.txt").write_bytes(b"mine")
    with pytest.raises(errors.AlreadyExistsError, match="isn't empty") as info:
        b.build(str(export), PREFIX, None, SIGNATURES)
    assert info.value.file == str(export)
    _nothing_but(export, ["keep.txt"])
    assert (export / "keep.txt").read_bytes() == b"mine"
    _nothing_but(tmp_path, ["export"])


# spec: "SMB-11"
@pytest.mark.parametrize("tensor,named", [("dense/kernal/read:0", "dense/kernal/read"), ("dense/kernel/read:1", "1 output"),
                                          ("nosuchnode", "nosuchnode")])
def test_a_signature_tensor_not_in_the_graph_is_refused(tmp_path, tensor, named):
    export = tmp_path / "export"
    with pytest.raises(errors.NotFoundError, match=named) as info:
        b.build(str(export), PREFIX, None, {"serving_default": ({"x": tensor}, {}, "predict")})
    assert info.value.key == tensor and "signature 'serving_default' input 'x'" in str(info.value)
    if tensor.startswith("dense/kernal"):
        assert "near names: dense/kernel/read" in str(info.value)
    _nothing_but(tmp_path, [])


# spec: "SMB-11"
def test_a_checkpoint_missing_a_variable_is_refused(tmp_path):
    partial = str(tmp_path / "partial" / "ckpt")
    source = tfckpt.load_checkpoint(PREFIX)
    tfckpt.save(partial, {k: source.get_tensor(k) for k in source.get_variable_to_shape_map() if k != "dense/bias"})
    with pytest.raises(errors.NotFoundError, match="'dense/bias'") as info:
        b.build(str(tmp_path / "export"), partial, PREFIX + ".meta", SIGNATURES)
    assert info.value.key == "dense/bias" and info.value.file == partial
    _nothing_but(tmp_path, ["partial"])


# spec: "SMB-11"
def test_a_checkpoint_with_another_dtype_is_refused(tmp_path):
    other = str(tmp_path / "other" / "ckpt")
    source = tfckpt.load_checkpoint(PREFIX)
    values = {k: source.get_tensor(k) for k in source.get_variable_to_shape_map()}
    values["dense/bias"] = values["dense/bias"].astype(np.float64)
    tfckpt.save(other, values)
    with pytest.raises(errors.InvalidArgumentError, match="float32 in the graph but float64") as info:
        b.build(str(tmp_path / "export"), other, PREFIX + ".meta", SIGNATURES)
    assert info.value.key == "dense/bias"
    _nothing_but(tmp_path, ["other"])


# spec: "SMB-11"
def test_a_graphdef_with_variables_needs_its_meta_graph(tmp_path):
    meta = tfckpt.meta_graph.read_meta_graph(PREFIX)
    with pytest.raises(errors.InvalidArgumentError, match="give the .meta"):
        b.build(str(tmp_path / "export"), PREFIX, meta.graph_def, SIGNATURES)
    _nothing_but(tmp_path, [])


# spec: "SMB-10"
def test_a_failure_while_writing_leaves_nothing(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise errors.ResourceExhaustedError("disk full (simulated)")

    monkeypatch.setattr(b, "_write_variables", fail)
    with pytest.raises(errors.ResourceExhaustedError):
        b.build(str(tmp_path / "export"), PREFIX, None, SIGNATURES)
    _nothing_but(tmp_path, [])


# spec: "SMB-5"
def test_names_continue_the_graphs_counters():
    """Graph.unique_name over imported names: counters per lower-cased name, a taken ``_N`` skipped."""
    from tfckpt.proto import graph_pb2

    graph = graph_pb2.GraphDef()
    for name in ("save/Const", "save/Identity", "save/identity_1", "save/Identity_3"):
        graph.node.add(name=name)
    names = b._Names(graph.node)
    got = [names.unique(n) for n in ("save", "save/Const", "save/Const", "save/Identity", "save/Identity",
                                     "save/Identity", "save/IDENTITY_2")]
    assert got == ["save", "save/Const_1", "save/Const_2", "save/Identity_2", "save/Identity_4", "save/Identity_5",
                   "save/IDENTITY_2_1"]


def test_command_line_builds_grouped_signatures(tmp_path, capsys):
    from tfckpt.cli.main import main

    export = str(tmp_path / "export" / "1")
    assert main(["savedmodel-build", PREFIX, "--output", "k=dense/kernel/read:0", "--signature", "other",
                 "--output", "b=dense/bias/read", "--method", "regress", "-o", export]) == 0
    # SMB-5: 30 saver nodes for 7 ref variables -- 3 filename, 5 suffix, num_shards, 2 ShardedFilename,
    # 3 SaveV2, control_dependency, 2 merge, the save Identity, 3 RestoreV2, 7 Assigns, 2 NoOps.
    source = len(tfckpt.meta_graph.read_meta_graph(PREFIX).graph_def.node)
    assert capsys.readouterr().out == \
        f"wrote {export}: {source + 30} nodes, 7 variables, signatures other, serving_default\n"
    signatures = read_saved_model(export).meta_graphs[0].signature_def
    assert signatures["other"].method_name == "tensorflow/serving/regress"
    assert signatures["other"].outputs["b"].name == "dense/bias/read:0"
    assert signatures["serving_default"].outputs["k"].name == "dense/kernel/read:0"
    assert main(["savedmodel-build", PREFIX, "--output", "k=dense/kernel/read:0", "-o", export]) == 1
    assert "AlreadyExistsError [ALREADY_EXISTS]: the export directory exists and isn't empty" in capsys.readouterr().err


def test_command_line_names_a_missing_tensor(tmp_path, capsys):
    from tfckpt.cli.main import main

    export = tmp_path / "export"
    assert main(["savedmodel-build", PREFIX, "--input", "x=x:0", "-o", str(export)]) == 1
    assert "NotFoundError [NOT_FOUND]: signature 'serving_default' input 'x': tensor 'x:0' is not in the graph" in \
        capsys.readouterr().err
    assert not export.exists()
    with pytest.raises(SystemExit):
        main(["savedmodel-build", PREFIX, "--input", "x", "-o", str(export)])
    assert "--input wants NAME=TENSOR" in capsys.readouterr().err


def test_a_directory_with_a_state_file_stands_for_its_latest_checkpoint(tmp_path):
    import shutil

    directory = tmp_path / "train"
    shutil.copytree(os.path.dirname(PREFIX), directory)
    export = str(tmp_path / "export")
    b.build(export, str(directory), None, SIGNATURES)
    assert read_saved_model(export).meta_graphs[0].signature_def["serving_default"].outputs["kernel"].name == \
        "dense/kernel/read:0"
