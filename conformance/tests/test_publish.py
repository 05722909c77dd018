"""Publishing: what a writer leaves on disk when a save replaces, fails or needs a directory (spec/errors.md §5).

``Recommended.Write.Publish.index-blocked``: a directory stands where the index
must go; the write fails and no data file takes its final name (PUB-2).
TensorFlow 2.21 renames its data file into place first and fails on the index.
``Recommended.Write.Publish.fewer-shards``: a checkpoint of two data files is
overwritten by one of one; the old shards are gone (PUB-5).
``Recommended.Write.Publish.missing-parent.<op>``: every writer creates a
missing parent directory (ERR-7); TensorFlow's V1 ``Save`` and
``update_checkpoint_state`` fail with ``NOT_FOUND``.

The kill-at-every-rename rules (PUB-1, PUB-3, PUB-4, PUB-7) need a writer
stopped between two system calls, which no adapter operation offers; the
reference proves them in ``tests/bundle/test_publish.py`` (conformance/uncited.txt).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from tfckpt_conformance.checks import expect_rejection, scratch_dir
from tfckpt_conformance.description import Description, tensor_from_array


def _floats(key, values):
    return tensor_from_array(key, "float32", np.asarray(values, dtype=np.float32))


@pytest.fixture(scope="module")
def publish_base(tmp_path_factory):
    return str(tmp_path_factory.mktemp("publish"))


@pytest.mark.conformance("Write.Publish.index-blocked", level="Recommended")
@pytest.mark.spec("PUB-2")
def test_blocked_index_leaves_no_data_under_a_final_name(check, publish_base):
    check.require("write")
    with scratch_dir(publish_base) as d:
        prefix = os.path.join(d, "ckpt")
        os.mkdir(prefix + ".index")
        expect_rejection(check, "write whose index name is taken by a directory", check.impl.write,
                         Description([_floats("a", [1, 2])]), prefix)
        left = sorted(n for n in os.listdir(d) if n != "ckpt.index")
    assert not left, f"a write that could not publish its index left {left} (PUB-2: data files must not be renamed first)"


@pytest.mark.conformance("Write.Publish.fewer-shards", level="Recommended")
@pytest.mark.spec("PUB-5")
def test_overwrite_with_fewer_shards_removes_the_old_ones(check, publish_base):
    check.require("write", "merge", tags=["multi_shard"])
    with scratch_dir(publish_base) as d:
        parts = []
        for i, name in enumerate("ab"):
            part = os.path.join(d, "tmp", f"part-{i}")
            check.call_ok("write of one part", check.impl.write, Description([_floats(name, [i])]), part)
            parts.append(part)
        prefix = os.path.join(d, "ckpt")
        check.call_ok("merge of two parts", check.impl.merge, parts, prefix)
        check.call_ok("overwrite with one data file", check.impl.write, Description([_floats("c", [3])]), prefix)
        left = sorted(n for n in os.listdir(d) if n.startswith("ckpt."))
    assert left == ["ckpt.data-00000-of-00001", "ckpt.index"], f"after the overwrite the directory holds {left}"


MISSING_PARENT_WRITERS = ["write", "write_v1", "update_state"]


@pytest.mark.conformance("Write.Publish.missing-parent", level="Recommended")
@pytest.mark.spec("ERR-7")
@pytest.mark.parametrize("op", MISSING_PARENT_WRITERS)
def test_every_writer_creates_a_missing_parent(check, op, publish_base):
    check.require(op)
    with scratch_dir(publish_base) as d:
        target = os.path.join(d, "not", "yet")
        if op == "write":
            check.call_ok("write into a missing directory", check.impl.write,
                          Description([_floats("a", [1])]), os.path.join(target, "ckpt"))
            made = "ckpt.index"
        elif op == "write_v1":
            check.call_ok("V1 write into a missing directory", check.impl.write_v1,
                          Description([_floats("a", [1])]), os.path.join(target, "ckpt"))
            made = "ckpt"
        else:
            check.call_ok("update_state of a missing directory", check.impl.update_state,
                          target, os.path.join(target, "ckpt-1"), [os.path.join(target, "ckpt-1")])
            made = "checkpoint"
        assert os.path.exists(os.path.join(target, made)), f"{op} did not create {made} under the missing parent"
