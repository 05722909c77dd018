"""``tfckpt savedmodel DIR --all`` against ``saved_model_cli``'s text TensorFlow printed (no TensorFlow here).

The expected text of ``savedmodel-concrete-functions`` is TensorFlow 2.21's own output,
committed by the fixture generator (fixtures/cases/graph.py): its concrete functions
include a tf.function whose loaded names cross a power of ten (GRAPH-14), Python
values, nested structures, a bare concrete function and a function without any.
Both sides run with ``PYTHONHASHSEED=0``: the op list is a Python set.
"""

import json
import os
import subprocess
import sys

import pytest

from tfckpt.graph import concrete_functions as cf
from tfckpt.graph import saved_model_show
from tfckpt.proto import saved_model_pb2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "fixtures")


def _cases_with_cli_text():
    out = []
    for version in sorted(os.listdir(FIXTURES)):
        manifest = os.path.join(FIXTURES, version, "manifest.json")
        if not os.path.isfile(manifest):
            continue
        with open(manifest, encoding="utf-8") as handle:
            for case in json.load(handle)["cases"]:
                if "saved_model_cli" in case["expected"]:
                    out.append(os.path.join(FIXTURES, version, case["id"]))
    return out


CASES = _cases_with_cli_text()


def _case(version, cid):
    return os.path.join(FIXTURES, version, cid, "saved_model")


def _meta(version, cid):
    with open(os.path.join(_case(version, cid), "saved_model.pb"), "rb") as handle:
        return saved_model_pb2.SavedModel.FromString(handle.read()).meta_graphs[0]


def test_a_case_with_tensorflows_text_exists():
    assert any(c.endswith("savedmodel-concrete-functions") for c in CASES)


# "GRAPH-11", "GRAPH-12", "GRAPH-13", "GRAPH-14", "GRAPH-15"
@pytest.mark.parametrize("case", CASES, ids=lambda p: os.path.relpath(p, FIXTURES))
def test_show_all_equals_saved_model_cli_bytes(case):
    with open(os.path.join(case, "saved_model_cli_show_all.txt"), "rb") as handle:
        expected = handle.read()
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=os.path.join(ROOT, "reference"))
    done = subprocess.run([sys.executable, "-m", "tfckpt", "savedmodel", os.path.join(case, "saved_model"), "--all"],
                          env=env, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected


# "GRAPH-14"
def test_loaded_names_cross_a_power_of_ten_in_the_fixture():
    """The fixture exercises the string order: one function's loaded uids have different digit counts."""
    meta = _meta("tf-2.21.0", "savedmodel-concrete-functions")
    loaded = cf.loaded_names(meta)
    crossing = False
    for node in meta.object_graph_def.nodes:
        if node.WhichOneof("kind") == "function" and len(node.function.concrete_functions) > 1:
            digits = {len(loaded[n].rsplit("_", 1)[1]) for n in node.function.concrete_functions}
            crossing |= len(digits) > 1
    assert crossing


# "GRAPH-12"
def test_slot_variables_make_tensorflows_loader_fail():
    # What TensorFlow 2.21 prints for this fixture (tests/tensorflow/test_graph_tf.py compares it live).
    text = saved_model_show.show_all(_case("tf-2.21.0", "savedmodel-object-graph"))
    assert text.endswith("\nConcrete Functions: N/A (could not be listed due to unknown reasons)\n")


# "GRAPH-12"
def test_tf1_builder_has_no_concrete_functions_section():
    text = saved_model_show.show_all(_case("tf-2.21.0", "savedmodel-tf1-builder"))
    assert "Concrete Functions" not in text and text.endswith("}\n")


def _meta_with_signature(value_setter):
    meta = _meta("tf-2.21.0", "savedmodel-concrete-functions")
    graph = meta.object_graph_def
    call = next(r for r in graph.nodes[0].children if r.local_name == "__call__")
    name = graph.nodes[call.node_id].function.concrete_functions[0]
    args = graph.concrete_functions[name].canonicalized_input_signature.tuple_value.values[0]
    value_setter(args.tuple_value.values[0])
    return meta


# "GRAPH-12"
def test_a_value_only_tensorflow_can_print_gives_our_own_na_line():
    meta = _meta_with_signature(lambda v: v.type_spec_value.SetInParent())
    text = cf.concrete_functions_text(meta, saved_model_show.NO_CONCRETE_FUNCTIONS)
    assert text.startswith(saved_model_show.NO_CONCRETE_FUNCTIONS + ": ")
    assert "type_spec_value" in text and text.endswith(")\n")


# "GRAPH-15"
def test_tensor_spec_printing():
    def unknown_rank_unnamed(v):
        v.tensor_spec_value.name = ""
        v.tensor_spec_value.shape.Clear()
        v.tensor_spec_value.shape.unknown_rank = True
        v.tensor_spec_value.dtype = 19  # DT_HALF

    text = cf.concrete_functions_text(_meta_with_signature(unknown_rank_unnamed), "unused")
    assert "          None: TensorSpec(shape=<unknown>, dtype=tf.float16, name=None)\n" in text


# "GRAPH-15"
@pytest.mark.parametrize("value, name", [(1, "float32"), (2, "float64"), (19, "float16"), (14, "bfloat16"),
                                         (7, "string"), (20, "resource"), (101, "float32_ref"), (9, "int64"),
                                         (17, "uint16"), (8, "complex64")])
def test_dtype_names(value, name):
    # TensorFlow's names (framework/dtypes.py _TYPE_TO_STRING); tests/tensorflow checks every enum value.
    assert cf.dtype_name(value) == name


def test_print_args_layout():
    out = cf._Printer()
    cf._print_args(out, ["s", None, 2.5, True, [1, "a"], {"k": "v"}])
    assert out.text() == (
        "        Argument #1\n          s\n"
        "        Argument #2\n          DType: NoneType\n          Value: None\n"
        "        Argument #3\n          DType: float\n          Value: 2.5\n"
        "        Argument #4\n          DType: bool\n          Value: True\n"
        "        Argument #5\n          DType: list\n          Value: [1, 'a', \b\b]\n"
        "        Argument #6\n          DType: dict\n          Value: {'k': 'v', \b\b}\n")
