"""tfckpt.saved_model.build against TensorFlow 2.21's SavedModelBuilder (spec/savedmodel.md §7).

Oracles: TensorFlow's builder on the same .meta + checkpoint (saved_model.pb byte-identical, the
variables bundle byte-identical), TensorFlow's two loaders on what we wrote, and the original graph
restored from the checkpoint (signature outputs equal).
"""

import os

import numpy as np
import pytest

import sm_build_tf as s
import tensorflow as tf
from tfckpt import errors
from tfckpt.graph import saved_model_build as b
from tfckpt.graph.freeze import freeze, frozen_graph_bytes
from tfckpt.proto import saved_model_pb2

MODELS = sorted(s.MODELS)
VARIABLE_FILES = ("variables/variables.index", "variables/variables.data-00000-of-00001")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """{model: (prefix, feeds, outputs)}: each model trained once, saved by a plain TF1 Saver."""
    out = {}
    for name in MODELS:
        out[name] = s.train(name, str(tmp_path_factory.mktemp(name)))
    return out


def _signatures(feeds):
    return {"serving_default": ({k: k + ":0" for k in feeds}, {"y": "y:0"}, "tensorflow/serving/predict")}


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def _frozen(prefix):
    return freeze(prefix, None, ["y"])


def _build_both(tmp_path, prefix, feeds, frozen, **options):
    """(ours, TensorFlow's) export directories for the .meta form or the frozen-graph form."""
    ours, theirs = str(tmp_path / "ours"), str(tmp_path / "theirs")
    if frozen:
        graph = _frozen(prefix)
        b.build(ours, None, graph, _signatures(feeds), **options)
        s.build_tf(theirs, None, _signatures(feeds), graph_def=tf.compat.v1.GraphDef.FromString(frozen_graph_bytes(graph)))
    else:
        b.build(ours, prefix, None, _signatures(feeds), **options)
        s.build_tf(theirs, prefix, _signatures(feeds))
    return ours, theirs


@pytest.mark.spec("SMB-1", "SMB-9")
@pytest.mark.parametrize("frozen", [False, True], ids=["meta", "frozen"])
@pytest.mark.parametrize("name", MODELS)
def test_tensorflow_loads_what_we_build_and_computes_what_the_checkpoint_does(trained, tmp_path, name, frozen):
    prefix, feeds, outputs = trained[name]
    export = str(tmp_path / "export")
    graph = _frozen(prefix) if frozen else None
    assert b.build(export, None if frozen else prefix, graph, _signatures(feeds)) == export
    want = s.run_original(prefix, feeds, outputs)[0]
    for got in (s.run_loaded_v1(export, "serving_default", feeds), s.run_loaded_v2(export, "serving_default", feeds)):
        assert list(got) == ["y"]
        np.testing.assert_allclose(got["y"], want, rtol=1e-6)
    listing = sorted(os.listdir(os.path.join(export, "variables")))
    assert listing == ([] if frozen else ["variables.data-00000-of-00001", "variables.index"])
    assert sorted(os.listdir(export)) == ["saved_model.pb", "variables"]


@pytest.mark.spec("SMB-2", "SMB-3", "SMB-4", "SMB-5", "SMB-6", "SMB-7", "SMB-8")
@pytest.mark.parametrize("frozen", [False, True], ids=["meta", "frozen"])
@pytest.mark.parametrize("name", MODELS)
def test_bytes_equal_savedmodelbuilder(trained, tmp_path, name, frozen):
    prefix, feeds, _ = trained[name]
    ours, theirs = _build_both(tmp_path, prefix, feeds, frozen, tensorflow_git_version=b.TENSORFLOW_GIT_VERSION)
    assert _read(os.path.join(ours, "saved_model.pb")) == _read(os.path.join(theirs, "saved_model.pb"))
    assert sorted(os.listdir(os.path.join(ours, "variables"))) == sorted(os.listdir(os.path.join(theirs, "variables")))
    if not frozen:
        for name in VARIABLE_FILES:
            assert _read(os.path.join(ours, name)) == _read(os.path.join(theirs, name)), name
    # The installed TensorFlow is the release whose builder we reproduce.
    assert (tf.__version__, tf.__git_version__) == (b.TENSORFLOW_VERSION, b.TENSORFLOW_GIT_VERSION)


@pytest.mark.spec("SMB-7")
def test_by_default_only_the_git_version_names_tfckpt(trained, tmp_path):
    prefix, feeds, _ = trained["resource"]
    ours, theirs = _build_both(tmp_path, prefix, feeds, False)
    a = saved_model_pb2.SavedModel.FromString(_read(os.path.join(ours, "saved_model.pb")))
    t = saved_model_pb2.SavedModel.FromString(_read(os.path.join(theirs, "saved_model.pb")))
    assert a.meta_graphs[0].meta_info_def.tensorflow_git_version == b.TFCKPT_GIT_VERSION
    assert t.meta_graphs[0].meta_info_def.tensorflow_git_version == b.TENSORFLOW_GIT_VERSION
    a.meta_graphs[0].meta_info_def.tensorflow_git_version = b.TENSORFLOW_GIT_VERSION
    assert a == t


@pytest.mark.spec("SMB-9")
def test_simple_save_equals_tensorflows(trained, tmp_path):
    prefix, feeds, _ = trained["ref"]
    ours, theirs = str(tmp_path / "ours"), str(tmp_path / "theirs")
    b.simple_save(ours, prefix, None, {"x": "x:0"}, {"y": "y:0"}, tensorflow_git_version=b.TENSORFLOW_GIT_VERSION)
    s.simple_save_tf(theirs, prefix, {"x": "x:0"}, {"y": "y:0"})
    assert _read(os.path.join(ours, "saved_model.pb")) == _read(os.path.join(theirs, "saved_model.pb"))
    for name in VARIABLE_FILES:
        assert _read(os.path.join(ours, name)) == _read(os.path.join(theirs, name))


@pytest.mark.spec("SMB-9")
def test_assets_and_main_op_as_tensorflow_writes_them(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_bytes(b"a\nb\nc\n")
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.string, [None], name="x")
        path = tf.constant(str(vocab), name="vocab_path")
        tf.compat.v1.add_to_collection(tf.compat.v1.GraphKeys.ASSET_FILEPATHS, path)
        table = tf.compat.v1.lookup.StaticHashTable(
            tf.compat.v1.lookup.TextFileInitializer(path, tf.string, -2, tf.int64, -1), -1)
        tf.identity(table.lookup(x), name="y")
        w = tf.compat.v1.get_variable("w", [2], use_resource=False)
        init = tf.compat.v1.tables_initializer(name="init_tables")
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=g) as sess:
            sess.run(w.initializer)
            prefix = saver.save(sess, str(tmp_path / "ckpt" / "model"))
    ours, theirs = str(tmp_path / "ours"), str(tmp_path / "theirs")
    b.simple_save(ours, prefix, None, {"x": "x:0"}, {"y": "y:0"}, legacy_init_op="init_tables",
                  tensorflow_git_version=b.TENSORFLOW_GIT_VERSION)
    s.simple_save_tf(theirs, prefix, {"x": "x:0"}, {"y": "y:0"}, legacy_init_op="init_tables")
    assert _read(os.path.join(ours, "saved_model.pb")) == _read(os.path.join(theirs, "saved_model.pb"))
    assert _read(os.path.join(ours, "assets", "vocab.txt")) == vocab.read_bytes()
    assert sorted(os.listdir(ours)) == sorted(os.listdir(theirs)) == ["assets", "saved_model.pb", "variables"]
    vocab.unlink()  # the loader reads the copy in assets/
    got = s.run_loaded_v1(ours, "serving_default", {"x": np.array([b"b", b"z"], object)})
    np.testing.assert_array_equal(got["y"], [1, -1])


@pytest.mark.spec("SMB-11")
def test_missing_checkpoint_key_refused_before_anything_is_written(trained, tmp_path):
    prefix, feeds, _ = trained["ref"]
    import tfckpt

    partial = str(tmp_path / "partial" / "ckpt")
    reader = tfckpt.load_checkpoint(prefix)
    tfckpt.save(partial, {"w": reader.get_tensor("w")})
    export = tmp_path / "export"
    with pytest.raises(errors.NotFoundError, match="'b'") as info:
        b.build(str(export), partial, prefix + ".meta", _signatures(feeds))
    assert info.value.key == "b"
    assert not export.exists() and os.listdir(tmp_path) == ["partial"]


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#: (case, signature output): checkpoints and .meta files old TensorFlow releases wrote (fixtures/).
OLD_CASES = [("saver-v1", "dense/kernel/read:0"), ("saver-v2", "dense/kernel/read:0"),
             ("saver-partitioned", "emb/part_0/read:0"), ("saver-v1-partitioned", "emb/part_0/read:0"),
             ("saver-ema-adam", "add:0")]
#: Where TensorFlow 2.21 writes what the old .meta does not say (spec/savedmodel.md SMB-3): shapes its
#: own inference finds that the old file recorded as unknown, and control-flow contexts re-serialised
#: with their maps in another order.
NOT_BYTE_IDENTICAL = {("tf-1.15.5", "saver-ema-adam"), ("tf-1.4.0", "saver-ema-adam"),
                      ("tf-0.12.1", "saver-partitioned"), ("tf-0.12.1", "saver-v1-partitioned"),
                      ("tf-0.12.1", "saver-ema-adam")}


def _old_prefix(version, case):
    directory = os.path.join(ROOT, "fixtures", version, case)
    meta = [f for f in sorted(os.listdir(directory)) if f.endswith(".meta")][0]
    return os.path.join(directory, meta[:-5])


def _compatible(ours, theirs):
    """Our recorded shape is TensorFlow's or less specific."""
    if ours.unknown_rank:
        return True
    return len(ours.dim) == len(theirs.dim) and all(a.size in (-1, b.size) for a, b in zip(ours.dim, theirs.dim))


def _normalised(model):
    """The SavedModel with _output_shapes dropped and control-flow contexts re-serialised deterministically."""
    from tensorflow.core.protobuf import control_flow_pb2

    meta = model.meta_graphs[0]
    for node in meta.graph_def.node:
        node.attr.pop("_output_shapes", None)
    for key, proto in (("cond_context", control_flow_pb2.CondContextDef),
                       ("while_context", control_flow_pb2.WhileContextDef)):
        if key in meta.collection_def:
            values = meta.collection_def[key].bytes_list.value
            for i, raw in enumerate(values):
                values[i] = proto.FromString(raw).SerializeToString(deterministic=True)
    return model


@pytest.mark.spec("SMB-3", "SMB-8")
@pytest.mark.parametrize("version", ["tf-1.15.5", "tf-1.4.0", "tf-0.12.1"])
@pytest.mark.parametrize("case,output", OLD_CASES)
def test_equals_savedmodelbuilder_on_old_releases_meta_files(tmp_path, version, case, output):
    prefix = _old_prefix(version, case)
    ours, theirs = str(tmp_path / "ours"), str(tmp_path / "theirs")
    signatures = {"serving_default": ({}, {"y": output}, "tensorflow/serving/predict")}
    b.build(ours, prefix, None, signatures, tensorflow_git_version=b.TENSORFLOW_GIT_VERSION)
    s.build_tf(theirs, prefix, signatures)
    for name in VARIABLE_FILES:
        assert _read(os.path.join(ours, name)) == _read(os.path.join(theirs, name)), name
    a, t = (_read(os.path.join(d, "saved_model.pb")) for d in (ours, theirs))
    assert (a == t) == ((version, case) not in NOT_BYTE_IDENTICAL)
    a, t = (saved_model_pb2.SavedModel.FromString(x) for x in (a, t))
    for x, y in zip(a.meta_graphs[0].graph_def.node, t.meta_graphs[0].graph_def.node):
        for mine, tfs in zip(x.attr["_output_shapes"].list.shape, y.attr["_output_shapes"].list.shape):
            assert _compatible(mine, tfs), x.name
    assert _normalised(a) == _normalised(t)
    want = s.run_original(prefix, {}, [output[:-2]])[0]
    np.testing.assert_array_equal(s.run_loaded_v1(ours, "serving_default", {})["y"], want)
