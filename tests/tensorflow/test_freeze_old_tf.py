"""tfckpt.freeze on .meta files older TensorFlow wrote (fixtures tf-0.12.1, tf-1.4.0, tf-1.15.5).

Three oracles: TensorFlow 2.21's converter on the same .meta and checkpoint
(byte-identical, FREEZE-1..8; for TF 0.12's ``Variable`` op the documented
difference of FREEZE-13); the old release's own converter run in its venv
(the documented differences of FREEZE-14); and TensorFlow 2.21 running the
frozen graph against the unfrozen one restored from the checkpoint.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import tf1_models as m
from tfckpt.graph.freeze import freeze, frozen_graph_bytes
from tfckpt.proto import graph_pb2, meta_graph_pb2

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#: The old releases' environments: the ones tox -e tensorflow-tf115/-tf14/-tf012 build (fixtures/old_venv.py),
#: or a directory named by TFCKPT_VENV_TF115 / _TF14 / _TF012.
VENVS = {version: os.environ.get(f"TFCKPT_VENV_{env.upper()}", os.path.join(ROOT, ".tox", f"tensorflow-{env}", "tf"))
         for version, env in (("tf-1.15.5", "tf115"), ("tf-1.4.0", "tf14"), ("tf-0.12.1", "tf012"))}
#: (case, output node names): the cases whose checkpoints TensorFlow 2.21 restores into their .meta's graph.
CASES = [
    ("saver-v1", ["global_step/read", "dense/kernel/read", "dense/bias/read"]),
    ("saver-v2", ["global_step/read", "dense/kernel/read", "dense/bias/read"]),
    ("saver-partitioned", ["emb/part_0/read", "emb/part_1/read", "emb/part_2/read"]),
    ("saver-v1-partitioned", ["emb/part_0/read", "emb/part_1/read", "emb/part_2/read"]),
    ("saver-ema-adam", ["add", "Sum"]),
]
PARAMS = [(v, c, o) for v in VENVS for c, o in CASES]


def _prefix(version, case):
    directory = os.path.join(ROOT, "fixtures", version, case)
    meta = [f for f in sorted(os.listdir(directory)) if f.endswith(".meta")][0]
    return os.path.join(directory, meta[:-5])


def _tf(prefix, outputs):
    return graph_pb2.GraphDef.FromString(m.freeze_tf_from_meta(prefix, outputs).SerializeToString())


@pytest.mark.parametrize("version,case,outputs", PARAMS)
def test_equals_tensorflow_2_21_freezing_the_old_meta(version, case, outputs):
    prefix = _prefix(version, case)
    ours, theirs = freeze(prefix, None, outputs), _tf(prefix, outputs)
    variables = [n.name for n in theirs.node if n.op == "Variable"]
    assert bool(variables) == (version == "tf-0.12.1")
    if not variables:
        assert frozen_graph_bytes(ours) == theirs.SerializeToString(deterministic=True)
        return
    # FREEZE-13: TensorFlow 2.21 keeps the old Variable op and its readers as they were; we make it the
    # Const VariableV2 would become, and its Identity readers lose _output_shapes (FREEZE-6).
    for a, b in zip(ours.node, theirs.node):
        if b.op == "Variable":
            assert a.op == "Const" and a.attr["dtype"] == b.attr["dtype"] and set(a.attr) == {"dtype", "value"}
            continue
        if b.op == "Identity" and b.input[0] in variables:
            del b.attr["_output_shapes"]
        assert a == b
    assert len(ours.node) == len(theirs.node) and ours.versions == theirs.versions


@pytest.mark.parametrize("version,case,outputs", PARAMS)
def test_frozen_old_graph_computes_what_the_checkpoint_does(version, case, outputs):
    prefix = _prefix(version, case)
    import tensorflow as tf

    frozen = tf.compat.v1.GraphDef.FromString(frozen_graph_bytes(freeze(prefix, None, outputs)))
    for got, want in zip(m.run(frozen, {}, outputs), m.run(None, {}, outputs, prefix=prefix)):
        np.testing.assert_array_equal(got, want)  # variables read back: no arithmetic to round


@pytest.mark.parametrize("version,case,outputs", PARAMS)
def test_differences_from_the_old_releases_own_converter(version, case, outputs, tmp_path):
    python = os.path.join(VENVS[version], "bin", "python")
    if not os.path.exists(python):
        pytest.skip(f"no {version} venv at {VENVS[version]}")  # capability: the old release is not installed here
    prefix = _prefix(version, case)
    out = str(tmp_path / "old.pb")
    subprocess.run([python, os.path.join(os.path.dirname(__file__), "old_tf_freeze.py"), prefix, ",".join(outputs), out],
                   check=True, capture_output=True, timeout=300)
    with open(out, "rb") as handle:
        old = graph_pb2.GraphDef.FromString(handle.read())
    ours = freeze(prefix, None, outputs)
    # FREEZE-14: the old converters do not copy versions and leave the Identity readers of a reference
    # variable as they were; for reference variables those are the only differences.
    assert not old.HasField("versions")
    old.versions.CopyFrom(ours.versions)
    assert old.HasField("library") == (version != "tf-0.12.1")  # 0.12.1: an empty library is not written
    old.library.SetInParent()
    constants = {n.name for n in old.node if n.op == "Const"}
    for node in old.node:
        if node.op == "Identity" and node.input[0] in constants:
            assert "_output_shapes" in node.attr
            del node.attr["_output_shapes"]
    assert old == ours
