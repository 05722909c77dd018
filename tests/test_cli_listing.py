"""``tfckpt ls --objects / --exclude`` and ``tfckpt show`` of the object graph (issue 12, point 2).

Expected lines are built from the fixture's description (what TensorFlow saved) and from
TensorFlow's key convention ``<object path>/.ATTRIBUTES/<attribute>``, not from our output.
"""

import json
import math
import os

from tfckpt.cli.main import main

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "tf-2.21.0")
NESTED = os.path.join(FIXTURES, "tf2-checkpoint-nested")
SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def _described():
    with open(os.path.join(NESTED, "description.json")) as f:
        return {t["key"]: t for t in json.load(f)["tensors"]}


def test_ls_objects_lists_each_path_with_its_key(capsys):
    assert main(["ls", "--objects", os.path.join(NESTED, "ckpt")]) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = sorted(
        f"{key[: -len(SUFFIX)]}  VARIABLE_VALUE -> {key} ({t['dtype']}) {t['shape']}"
        for key, t in _described().items() if key.endswith(SUFFIX)
    )
    assert sorted(line.split("  [")[0] for line in lines if not line.startswith("#")) == expected
    assert lines[-1].endswith(f"{len(expected)} saved attributes")


def test_ls_objects_on_a_name_based_checkpoint_says_so(capsys):
    assert main(["ls", "--objects", os.path.join(FIXTURES, "dtype-float32-rank2", "ckpt")]) == 0
    assert "no object graph" in capsys.readouterr().out


def test_ls_exclude_leaves_matches_out_of_the_count(capsys):
    described = _described()
    kept = {k: t for k, t in described.items() if not k.startswith("table/")}
    assert main(["ls", "--exclude", "^table/", os.path.join(NESTED, "ckpt")]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    params = sum(math.prod(t["shape"]) for t in kept.values())
    skipped = sum(math.prod(t["shape"]) for k, t in described.items() if k not in kept)
    assert last.startswith(f"# {len(kept)} tensors, {params} parameters in all (not counting "
                           f"{len(described) - len(kept)} tensors, {skipped} parameters, matching ^table/)")


def test_show_object_graph_is_decoded(capsys):
    assert main(["show", os.path.join(NESTED, "ckpt"), "_CHECKPOINTABLE_OBJECT_GRAPH"]) == 0
    out = capsys.readouterr().out
    assert "TrackableObjectGraph" in out and "b'\\n" not in out
    for key in _described():
        if key.endswith(SUFFIX):
            assert f'checkpoint_key: "{key}"' in out
