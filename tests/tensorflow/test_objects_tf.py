"""tfckpt.save_objects against tf.train.Checkpoint.write: byte identity, then TF restores it.

Expected bytes come from TensorFlow writing the same objects and values; the
restore uses assert_consumed(), so a missing or extra key fails.
"""

import filecmp
import os

import numpy as np
import pytest
import tensorflow as tf

import tfckpt
from tfckpt.objects.writer import SlotOptimizer, Tensors, Variable


def _module_tree():
    class Inner(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(np.arange(4, dtype=np.float32).reshape(2, 2))
            self.b = tf.Variable(np.int64(5))

    class Outer(tf.Module):
        def __init__(self):
            super().__init__()
            self.z = tf.Variable(np.arange(3, dtype=np.float32))
            self.a = Inner()
            self.lst = [tf.Variable(1.5), tf.Module()]
            self.lst[1].v = tf.Variable(np.float64(2.25))

    tf_objects = {"zz": Outer(), "b": tf.Variable(3.0, name="bee")}
    ours = {
        "zz": {
            "z": np.arange(3, dtype=np.float32),
            "a": {"w": np.arange(4, dtype=np.float32).reshape(2, 2), "b": np.int64(5)},
            "lst": {"0": np.float32(1.5), "1": {"v": np.float64(2.25)}},
        },
        "b": Variable(np.float32(3.0), "bee"),
    }
    return tf_objects, ours


def _escaped_names():
    holder = tf.Module()
    setattr(holder, "a.b/c", tf.Variable(np.int32(7)))
    return {"h": holder}, {"h": {"a.b/c": np.int32(7)}}


def _flat():
    return ({"x": tf.Variable(np.zeros((0, 3), np.float32)), "s": tf.Variable(b"text")},
            {"x": np.zeros((0, 3), np.float32), "s": np.array(b"text", dtype=object)})


STRUCTURES = {"module-tree": _module_tree, "escaped-names": _escaped_names, "flat": _flat}


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_byte_identical_and_restores(tmp_path, name):
    tf_objects, ours = STRUCTURES[name]()
    theirs = tf.train.Checkpoint(**tf_objects).write(str(tmp_path / "tf"))
    mine = tfckpt.save_objects(str(tmp_path / "ours"), ours)
    for suffix in (".index", ".data-00000-of-00001"):
        assert filecmp.cmp(theirs + suffix, mine + suffix, shallow=False), suffix

    fresh, _ = STRUCTURES[name]()
    for var in tf.nest.flatten([m.variables if isinstance(m, tf.Module) else [m] for m in fresh.values()]):
        var.assign(tf.zeros_like(var)) if var.dtype != tf.string else var.assign(b"")
    tf.train.Checkpoint(**fresh).read(mine).assert_consumed()
    expected, _ = STRUCTURES[name]()
    got = tf.nest.flatten([m.variables if isinstance(m, tf.Module) else [m] for m in fresh.values()])
    want = tf.nest.flatten([m.variables if isinstance(m, tf.Module) else [m] for m in expected.values()])
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.numpy(), w.numpy())


def test_wrong_path_lists_children(tmp_path):
    prefix = tfckpt.save_objects(str(tmp_path / "ck"), {"model": {"dense": {"kernel": np.ones(2, np.float32)}}})
    with pytest.raises(tfckpt.errors.NotFoundError, match=r"no child 'layers'.*\['dense'\]"):
        tfckpt.keys.key_for_object(prefix, ["model", "layers", "0", "kernel"])


def test_keras_sequential_dense_adam_shared_nodes(tmp_path):
    """Keras 3's graph is a DAG: the optimizer's _trainable_variables/N and the layer's _kernel
    are one node, keyed by the breadth-first first path (read off TF 2.21 / Keras 3.15.1)."""
    keras = pytest.importorskip("keras")
    # Explicit names: Keras uniquifies default names per process (a second Adam is "adam_1"),
    # and the variables' names are recorded in the object graph.
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="dense")], name="sequential")
    opt = keras.optimizers.Adam(name="adam")
    opt.build(model.trainable_variables)
    theirs = tf.train.Checkpoint(model=model, optimizer=opt).write(str(tmp_path / "tf"))

    kernel = Variable(model.weights[0].numpy(), "sequential/dense/kernel")
    bias = Variable(model.weights[1].numpy(), "sequential/dense/bias")
    slots = [Variable(np.zeros(v.value.shape, np.float32), f"adam/sequential_dense_{n}_{kind}")
             for v, n in ((kernel, "kernel"), (bias, "bias")) for kind in ("momentum", "velocity")]
    iterations = Variable(np.int64(0), "adam/iteration")
    learning_rate = Variable(np.float32(opt.learning_rate.numpy()), "adam/learning_rate")
    functional = {name: {} for name in ("_tracked", "_inbound_nodes", "_outbound_nodes", "_losses",
                                         "_losses_override", "call_signature_parameters", "_call_has_context_arg")}
    functional["_operations"] = {"0": {}, "1": {"_kernel": kernel, "bias": bias}}
    root = {
        "model": {"_functional": functional},
        "optimizer": {
            "_variables": {"0": iterations, "1": learning_rate, **{str(i + 2): s for i, s in enumerate(slots)}},
            "_trainable_variables": {"0": kernel, "1": bias},
            "_trainable_variables_indices": {},
            "_iterations": iterations,
            "_learning_rate": learning_rate,
            "_momentums": {"0": slots[0], "1": slots[2]},
            "_velocities": {"0": slots[1], "1": slots[3]},
        },
    }
    mine = tfckpt.save_objects(str(tmp_path / "ours"), root)
    for suffix in (".index", ".data-00000-of-00001"):
        assert filecmp.cmp(theirs + suffix, mine + suffix, shallow=False), suffix

    fresh = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    fresh_opt = keras.optimizers.Adam()
    fresh_opt.build(fresh.trainable_variables)
    tf.train.Checkpoint(model=fresh, optimizer=fresh_opt).read(mine).assert_consumed()
    for got, want in zip(fresh.weights, model.weights):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("saves", [1, 3])
def test_save_counter_matches_checkpoint_save(tmp_path, saves):
    """Checkpoint.save adds an int64 ``save_counter`` as the root's last child (after the sorted
    keyword arguments); the N-th save stores N."""
    ck = tf.train.Checkpoint(zz=tf.Variable(np.arange(3, dtype=np.float32)), b=tf.Variable(2.0, name="bee"))
    for _ in range(saves):
        theirs = ck.save(str(tmp_path / "tf" / "ck"))
    assert theirs.endswith(f"-{saves}")
    mine = tfckpt.save_objects(str(tmp_path / "ours"), {"zz": np.arange(3, dtype=np.float32),
                                                       "b": Variable(np.float32(2.0), "bee")}, save_counter=saves)
    for suffix in (".index", ".data-00000-of-00001"):
        assert filecmp.cmp(theirs + suffix, mine + suffix, shallow=False), suffix
    fresh = tf.train.Checkpoint(zz=tf.Variable(np.zeros(3, np.float32)), b=tf.Variable(0.0))
    fresh.restore(mine).assert_consumed()
    assert fresh.save_counter.numpy() == saves
    np.testing.assert_array_equal(fresh.zz.numpy(), np.arange(3, dtype=np.float32))


def test_save_counter_clash_rejected(tmp_path):
    with pytest.raises(tfckpt.errors.InvalidArgumentError, match="save_counter"):
        tfckpt.save_objects(str(tmp_path / "ck"), {"save_counter": np.int64(1)}, save_counter=2)


def _tf1_slots(prefix):
    """A tf.Module and two tf.compat.v1 optimizers with slot variables (Adam m/v, Momentum momentum)."""
    m = tf.Module()
    m.k = tf.Variable(np.arange(4, dtype=np.float32).reshape(2, 2), name="kernel")
    m.b = tf.Variable(np.zeros(2, np.float32), name="bias")
    adam = tf.compat.v1.train.AdamOptimizer(0.1)
    adam.minimize(lambda: tf.reduce_sum(m.k * m.k) + tf.reduce_sum(m.b), var_list=[m.k, m.b])
    mom = tf.compat.v1.train.MomentumOptimizer(0.1, 0.9)
    mom.minimize(lambda: tf.reduce_sum(m.k), var_list=[m.k])
    objects = {"model": m, "opt": adam, "mom": mom}
    return objects, tf.train.Checkpoint(**objects).write(prefix)


def test_slot_variables_byte_identical_and_restore(tmp_path):
    """OBJ-11, OBJ-23: slot variables numbered after every reachable node, optimizer by optimizer,
    slot name by slot name, variable by variable; keys .OPTIMIZER_SLOT; TF restores them."""
    objects, theirs = _tf1_slots(str(tmp_path / "tf"))
    m, adam, mom = objects["model"], objects["opt"], objects["mom"]
    k = Variable(m.k.numpy(), "kernel")
    b = Variable(m.b.numpy(), "bias")
    beta1, beta2 = adam._get_beta_accumulators()
    ours = {
        "model": {"k": k, "b": b},
        # slot names in the order the optimizer lists them (sorted); variables in any order
        "opt": SlotOptimizer({"beta1_power": Variable(beta1.numpy(), "beta1_power"),
                              "beta2_power": Variable(beta2.numpy(), "beta2_power")},
                             {"m": [(b, Variable(adam.get_slot(m.b, "m").numpy(), "bias/Adam")),
                                    (k, Variable(adam.get_slot(m.k, "m").numpy(), "kernel/Adam"))],
                              "v": [(k, Variable(adam.get_slot(m.k, "v").numpy(), "kernel/Adam_1")),
                                    (b, Variable(adam.get_slot(m.b, "v").numpy(), "bias/Adam_1"))]}),
        "mom": SlotOptimizer({}, {"momentum": [(k, Variable(mom.get_slot(m.k, "momentum").numpy(), "kernel/Momentum"))]}),
    }
    mine = tfckpt.save_objects(str(tmp_path / "ours"), ours)
    for suffix in (".index", ".data-00000-of-00001"):
        assert filecmp.cmp(theirs + suffix, mine + suffix, shallow=False), suffix

    fresh, _ = _tf1_slots(str(tmp_path / "scratch"))
    for v in fresh["model"].variables:
        v.assign(tf.zeros_like(v))
    tf.train.Checkpoint(**fresh).read(mine).assert_consumed()
    np.testing.assert_array_equal(fresh["model"].k.numpy(), m.k.numpy())
    for name in ("m", "v"):
        np.testing.assert_array_equal(fresh["opt"].get_slot(fresh["model"].k, name).numpy(), adam.get_slot(m.k, name).numpy())
    np.testing.assert_array_equal(fresh["mom"].get_slot(fresh["model"].k, "momentum").numpy(),
                                  mom.get_slot(m.k, "momentum").numpy())


def test_slot_for_a_variable_outside_the_tree_rejected(tmp_path):
    stray = Variable(np.ones(2, np.float32))
    with pytest.raises(tfckpt.errors.InvalidArgumentError, match="not in the object tree"):
        tfckpt.save_objects(str(tmp_path / "ck"), {"opt": SlotOptimizer({}, {"m": [(stray, np.ones(2, np.float32))]})})
    assert not list(tmp_path.iterdir())


class _Custom(tf.Module):
    """An object that saves its own tensors under names with '.' and '/' (OBJ-10)."""

    def __init__(self, scale=1.0):
        super().__init__()
        self.values = {"x.y": np.float32(1.5) * scale, "p/q": np.arange(2, dtype=np.int32) * int(scale), "plain": b"s"}

    def _serialize_to_tensors(self):
        return {name: tf.constant(value) for name, value in self.values.items()}

    def _restore_from_tensors(self, restored):
        self.restored = {name: t.numpy() for name, t in restored.items()}
        return tf.no_op()


def test_non_variable_attributes_byte_identical_and_restore(tmp_path):
    """OBJ-10, OBJ-24: an object's own tensors: names escaped once, keys twice, no full_name."""
    m = tf.Module()
    m.v = tf.Variable(np.ones(2, np.float32))
    m.c = _Custom()
    theirs = tf.train.Checkpoint(m=m).write(str(tmp_path / "tf"))
    ours = {"m": {"v": np.ones(2, np.float32),
                  "c": Tensors({"x.y": np.float32(1.5), "p/q": np.arange(2, dtype=np.int32),
                                "plain": np.array(b"s", dtype=object)},
                               children={"values": {}})}}  # tf.Module tracks the dict it keeps
    mine = tfckpt.save_objects(str(tmp_path / "ours"), ours)
    for suffix in (".index", ".data-00000-of-00001"):
        assert filecmp.cmp(theirs + suffix, mine + suffix, shallow=False), suffix
    # TF 2.21 cannot read either file back: its restore looks the names up escaped once (OBJ-24).
    for prefix in (theirs, mine):
        with pytest.raises(tf.errors.NotFoundError, match=r"m/c/\.ATTRIBUTES/(x\.\.y|p\.Sq) not found"):
            tf.train.Checkpoint(m=_fresh_custom()).read(prefix)


def test_non_variable_attributes_restore(tmp_path):
    """OBJ-24: names that need no escaping restore, with assert_consumed()."""
    theirs = tf.train.Checkpoint(m=_fresh_custom(1.0, names=("plain", "n2"))).write(str(tmp_path / "tf"))
    ours = {"m": {"v": np.ones(2, np.float32),
                  "c": Tensors({"plain": np.array(b"s", dtype=object), "n2": np.float32(1.5)}, children={"values": {}})}}
    mine = tfckpt.save_objects(str(tmp_path / "ours"), ours)
    for suffix in (".index", ".data-00000-of-00001"):
        assert filecmp.cmp(theirs + suffix, mine + suffix, shallow=False), suffix
    fresh = _fresh_custom(0.0, names=("plain", "n2"))
    tf.train.Checkpoint(m=fresh).read(mine).assert_consumed()
    assert fresh.c.restored == {"plain": b"s", "n2": np.float32(1.5)}
    np.testing.assert_array_equal(fresh.v.numpy(), np.ones(2, np.float32))


def _fresh_custom(scale=0.0, names=None):
    m = tf.Module()
    m.v = tf.Variable(np.ones(2, np.float32) * scale)
    m.c = _Custom(scale)
    if names:
        m.c.values = {"plain": b"s" if scale else b"", "n2": np.float32(1.5) * scale}
    return m


@pytest.mark.parametrize("saves", [1, 2])
def test_save_checkpoint_matches_checkpoint_save(tmp_path, saves):
    """OBJ-19, OBJ-28: Checkpoint.save writes <prefix>-N and a state file naming that checkpoint only."""
    ck = tf.train.Checkpoint(v=tf.Variable(np.arange(3, dtype=np.float32)))
    ours_dir = tmp_path / "ours"
    ours_dir.mkdir()
    for n in range(1, saves + 1):
        theirs = ck.save(str(tmp_path / "tf" / "ck"))
        mine = tfckpt.save_checkpoint(str(ours_dir / "ck"), {"v": np.arange(3, dtype=np.float32)}, save_counter=n)
    assert os.path.basename(mine) == os.path.basename(theirs) == f"ck-{saves}"
    assert sorted(os.listdir(ours_dir)) == sorted(os.listdir(tmp_path / "tf"))
    for name in os.listdir(ours_dir):
        assert filecmp.cmp(tmp_path / "tf" / name, ours_dir / name, shallow=False), name
    assert tf.train.latest_checkpoint(str(ours_dir)) == mine
    fresh = tf.train.Checkpoint(v=tf.Variable(np.zeros(3, np.float32)))
    fresh.restore(tf.train.latest_checkpoint(str(ours_dir))).assert_consumed()
    assert fresh.save_counter.numpy() == saves


def test_save_checkpoint_needs_a_positive_counter(tmp_path):
    with pytest.raises(tfckpt.errors.InvalidArgumentError, match="save_counter"):
        tfckpt.save_checkpoint(str(tmp_path / "ck"), {"v": np.ones(1)}, save_counter=0)
