"""tfckpt.graph.load on TF-written graph files: variables joined to keys, bad input named.

Expected keys and slices are those the TF 0.12.1/1.4.0 partitioned Saver wrote into its
checkpoint's index (listed by the checkpoint reader), an independent TF-written record.
"""

import os

import pytest

import tfckpt
from tfckpt import errors
from tfckpt.graph import load

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("version", ["0.12.1", "1.4.0", "1.15.5"])
def test_partitioned_variables_join_checkpoint_keys(version):
    directory = os.path.join(ROOT, "fixtures", f"tf-{version}", "saver-partitioned")
    graph = load(os.path.join(directory, "model.ckpt-2.meta"))
    keys = {v["checkpoint_key"] for v in graph.variables()}
    with tfckpt.load_checkpoint(os.path.join(directory, "model.ckpt-2")) as reader:
        assert keys == set(reader.get_variable_to_shape_map())
    assert all(v["slice"] for v in graph.variables() if v["checkpoint_key"] == "emb")
    assert sum(v["checkpoint_key"] == "emb" for v in graph.variables()) >= 2
    assert graph.tensor("emb/part_0:0").dtype == "DT_FLOAT_REF"


def test_savedmodel_and_pbtxt_load():
    sm = load(os.path.join(ROOT, "fixtures", "tf-2.21.0", "savedmodel-tf1-builder", "saved_model"))
    assert sm.signatures["serving_default"]["inputs"]["x"] == {"name": "x:0", "dtype": "DT_FLOAT", "shape": [None, 2]}
    txt = load(os.path.join(ROOT, "fixtures", "tf-1.15.5", "estimator-linear-regressor", "model", "graph.pbtxt"))
    assert txt.meta_graph is None and txt.tensor("global_step:0").shape == []


def test_unknown_names_are_not_found_with_near_names():
    graph = load(os.path.join(ROOT, "fixtures", "tf-1.4.0", "saver-partitioned", "model.ckpt-2.meta"))
    with pytest.raises(errors.NotFoundError, match="near names: emb/part_"):
        graph.tensor("emb/part_9:0")
    with pytest.raises(errors.InvalidArgumentError):
        graph.tensor("emb/part_0")


@pytest.mark.parametrize("name,data", [("bad.pb", b"\xff\xff\xff\xff"), ("bad.meta", b"\x0a\x05ab"),
                                       ("bad.pbtxt", b"node { name: ")])
def test_malformed_files_name_the_file(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(errors.DataLossError) as caught:
        load(path)
    assert str(path) in str(caught.value)


def test_graph_command_prints_tensors_and_text(capsys):
    from tfckpt.cli.main import main

    path = os.path.join(ROOT, "fixtures", "tf-1.4.0", "saver-partitioned", "model.ckpt-2.meta")
    assert main(["graph", path, "--tensors"]) == 0
    assert "emb/part_0:0 DT_FLOAT_REF [3, 6]\n" in capsys.readouterr().out
    assert main(["graph", path, "--as-text"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("meta_info_def {\n") and 'tensorflow_version: "1.4.0"' in out
    assert main(["graph", path, "--collections", "--json"]) == 0
    assert '"kind": "bytes_list"' in capsys.readouterr().out
