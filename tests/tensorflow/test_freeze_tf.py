"""tfckpt.freeze equals TensorFlow's convert_variables_to_constants on TF1 graphs, and runs the same.

Each model is built with tf.compat.v1 and saved by a Saver; TensorFlow then
freezes it as freeze_graph.py does (the .meta's graph_def, the checkpoint
restored into a session).  tfckpt freezes the same .meta and checkpoint
without a session.  The two GraphDefs must be equal messages with equal
deterministic serialisations, and the frozen graph must compute what the
unfrozen graph computes on recorded inputs.
"""

import numpy as np
import pytest

import tf1_models as m
import tfckpt
from tfckpt.graph.freeze import freeze, frozen_graph_bytes
from tfckpt.proto import graph_pb2

MODELS = {
    "ref_dense_conv_bn": lambda: m.dense_conv_bn(False),
    "resource_dense_conv_bn": lambda: m.dense_conv_bn(True),
    "partitioned_embedding": m.partitioned,
    "ema": m.ema,
    "ref_cond_while": lambda: m.cond_while(False),
    "resource_cond_while": lambda: m.cond_while(True),
    "resource_partitioned_embedding": m.resource_partitioned,
}


#: What each model's frozen graph must show, so that every rewrite rule is exercised (not just passed through).
FROZEN_OPS = {
    "ref_cond_while": {"Switch", "Enter", "Merge"},
    "resource_cond_while": {"Switch", "Enter", "Merge"},
    "resource_partitioned_embedding": {"GatherV2"},
    "resource_dense_conv_bn": {"Identity"},
    "partitioned_embedding": {"GatherV2", "ConcatV2"},
}
#: Which models hold reference variables (VariableV2), and which resource ones (VarHandleOp).
REF_MODELS = {"ref_dense_conv_bn", "partitioned_embedding", "ema", "ref_cond_while"}


@pytest.fixture(scope="module", params=sorted(MODELS))
def model(request, tmp_path_factory):
    graph, feeds, outputs = MODELS[request.param]()
    prefix = str(tmp_path_factory.mktemp(request.param) / "model.ckpt")
    m.freeze_tf(graph, outputs, prefix)
    return prefix, feeds, outputs, request.param


def _tf_frozen(prefix, outputs, **options):
    frozen = m.freeze_tf_from_meta(prefix, outputs, **options)
    return graph_pb2.GraphDef.FromString(frozen.SerializeToString())


@pytest.mark.spec("FREEZE-1", "FREEZE-2", "FREEZE-3", "FREEZE-4", "FREEZE-5", "FREEZE-6", "FREEZE-7", "FREEZE-8")
def test_freeze_is_tensorflows_graph(model):
    prefix, _, outputs, name = model
    with open(prefix + ".meta", "rb") as handle:
        ops = {n.op for n in graph_pb2.GraphDef.FromString(
            __import__("tfckpt").proto.meta_graph_pb2.MetaGraphDef.FromString(handle.read()).graph_def
            .SerializeToString()).node}
    assert ("VariableV2" in ops) == (name in REF_MODELS) and ("VarHandleOp" in ops) != (name in REF_MODELS)
    expected = _tf_frozen(prefix, outputs)
    ours = freeze(prefix, None, outputs)
    ops = {n.op for n in ours.node}
    assert FROZEN_OPS.get(name, set()) <= ops
    assert not ops & {"VariableV2", "VarHandleOp", "ReadVariableOp", "ResourceGather", "Assign", "RestoreV2"}
    assert ours == expected
    assert frozen_graph_bytes(ours) == expected.SerializeToString(deterministic=True)


def test_frozen_graph_computes_what_the_checkpoint_does(model):
    prefix, feeds, outputs, _ = model
    want = m.run(None, feeds, outputs, prefix=prefix)
    frozen = freeze(prefix, prefix + ".meta", outputs)
    import tensorflow as tf

    got = m.run(tf.compat.v1.GraphDef.FromString(frozen_graph_bytes(frozen)), feeds, outputs)
    tf_frozen = m.run(m.freeze_tf_from_meta(prefix, outputs), feeds, outputs)
    for a, b, c in zip(got, want, tf_frozen):
        np.testing.assert_array_equal(a, c)  # the same graph as TensorFlow's frozen one: the same bits
        # Against the variables: grappler folds constants in a frozen graph (and oneDNN picks other
        # kernels), so float rounding may differ in the last bits.
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.spec("FREEZE-3")
def test_whitelist_blacklist_and_clear_devices_match_tensorflow(tmp_path):
    graph, _, outputs = m.dense_conv_bn(False)
    prefix = str(tmp_path / "model.ckpt")
    m.freeze_tf(graph, outputs, prefix)
    for options in ({"variable_names_whitelist": ["model/conv/kernel"]},
                    {"variable_names_blacklist": ["model/dense/bias"]}):
        assert freeze(prefix, None, outputs, **options) == _tf_frozen(prefix, outputs, **options)
    assert freeze(prefix, None, outputs, clear_devices=True) == _tf_frozen(prefix, outputs, clear_devices=True)
