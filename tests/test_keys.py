"""Key lookups of the reference (tfckpt.keys, tfckpt.saved_model, tfckpt.meta_graph §6) -- the error paths.

The successful lookups are judged against TensorFlow's own answers by the conformance
suite (conformance/tests/test_resolve.py); here: what must be refused, and how.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tfckpt import errors
from tfckpt.graph import meta_graph, saved_model
from tfckpt.objects import keys
from tfckpt.proto import saved_model_pb2, variable_pb2

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "tf-2.21.0")
SAVED_MODEL = os.path.join(FIXTURES, "savedmodel-object-graph", "saved_model")
TF1 = os.path.join(FIXTURES, "tf1-saver-partitioned-meta", "model.ckpt")


def test_tf2_saved_model_paths_go_through_the_saved_object_graph():
    # Spec savedmodel.md §3 worked example: node 9 is the variable d["a.b"], created as "ab".
    assert keys.key_for_object(SAVED_MODEL, ["d", "a.b"]) == "d/a..b/.ATTRIBUTES/VARIABLE_VALUE"
    assert keys.key_for_slot(SAVED_MODEL, ["layer", "kernel"], ["opt"], "m") == \
        "layer/kernel/.OPTIMIZER_SLOT/opt/m/.ATTRIBUTES/VARIABLE_VALUE"


def test_a_function_is_not_a_variable():
    with pytest.raises(errors.NotFoundError, match="not a variable"):
        keys.key_for_object(SAVED_MODEL, ["__call__"])


def test_missing_child_names_the_route():
    with pytest.raises(errors.NotFoundError, match="has no child 'nope'") as info:
        keys.key_for_object(SAVED_MODEL, ["layer", "nope"])
    assert info.value.file == SAVED_MODEL


def test_name_based_checkpoint_has_no_object_graph():
    with pytest.raises(errors.NotFoundError, match="name-based"):
        keys.key_for_object(TF1, ["emb"])


def test_tf1_partitioned_piece_maps_to_a_slice_of_the_full_variable():
    assert keys.key_for_variable(TF1, "emb/part_0:0") == ("emb", "10 4 0,5:0,4")
    assert keys.key_for_variable(TF1, "emb/part_1") == ("emb", "10 4 5,5:0,4")  # a node name works too
    with pytest.raises(errors.NotFoundError):
        keys.key_for_variable(TF1, "emb/part_2:0")


def _copy_saved_model(tmp_path, change):
    target = tmp_path / "sm"
    shutil.copytree(SAVED_MODEL, target)
    message = saved_model.read_saved_model(target)
    change(message)
    (target / "saved_model.pb").write_bytes(message.SerializeToString())
    return str(target)


def test_graphs_that_disagree_are_data_loss(tmp_path):
    def rename_first_child(message):
        message.meta_graphs[0].object_graph_def.nodes[0].children[0].local_name = "renamed"

    location = _copy_saved_model(tmp_path, rename_first_child)
    with pytest.raises(errors.DataLossError, match="differ"):
        keys.key_for_object(location, ["d", "a.b"])


def test_not_a_saved_model_message_is_data_loss(tmp_path):
    (tmp_path / "saved_model.pb").write_bytes(b"\xff\xff\xff")
    assert saved_model.is_saved_model(tmp_path)
    with pytest.raises(errors.DataLossError):
        saved_model.read_saved_model(tmp_path)


def test_text_and_chunked_saved_models_are_recognised_but_not_decoded(tmp_path):
    (tmp_path / "saved_model.pbtxt").write_text("saved_model_schema_version: 1\n")
    assert saved_model.is_saved_model(tmp_path)
    with pytest.raises(errors.UnimplementedError):
        saved_model.read_saved_model(tmp_path)


def test_meta_graph_choice_by_tags():
    message = saved_model_pb2.SavedModel()
    for tags in (["serve"], ["train", "gpu"]):
        message.meta_graphs.add().meta_info_def.tags.extend(tags)
    assert list(saved_model.select_meta_graph(message, ["gpu", "train"]).meta_info_def.tags) == ["train", "gpu"]
    with pytest.raises(errors.NotFoundError, match="no meta graph tagged"):
        saved_model.select_meta_graph(message, ["eval"])


@pytest.mark.parametrize("name, node", [("dense/kernel:0", "dense/kernel"), ("a:b:12", "a:b"), ("plain", "plain")])
def test_node_name_splits_at_the_last_colon(name, node):
    assert meta_graph.node_name(name) == node


@pytest.mark.parametrize("name", ["x:", "x:a", ":0", "x:\u0661"])
def test_node_name_refuses_a_bad_output_index(name):
    with pytest.raises(errors.DataLossError):
        meta_graph.node_name(name)


def test_inconsistent_save_slice_info_is_data_loss():
    definition = variable_pb2.VariableDef(variable_name="emb/part_0:0")
    definition.save_slice_info_def.full_name = "emb"
    definition.save_slice_info_def.full_shape.extend([10, 4])
    definition.save_slice_info_def.var_offset.extend([0])
    definition.save_slice_info_def.var_shape.extend([5, 4])
    with pytest.raises(errors.DataLossError, match="2 dims, 1 offsets"):
        meta_graph.variable_key(definition)
