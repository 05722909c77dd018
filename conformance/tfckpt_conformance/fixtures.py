"""The golden fixtures, as the suite sees them: ``fixtures/<producer>/manifest.json`` (schema: ``fixtures/manifest.schema.json``).

Strategy
--------
The manifest lists *cases*, Wycheproof style: a stable ``id``, a ``kind``, the
``files`` and checkpoint ``prefix`` (relative to the manifest), feature
``tags``, a ``result`` (``valid``, ``invalid`` or ``acceptable``), and what is
expected -- a description for a valid case, an error category for an invalid
one.  This module only loads and classifies; it does not judge.  Paths become
absolute here so that adapters get paths they can open from any directory.

The test families take their parameters from the selectors in
:data:`CASE_ARGUMENTS`, one per pytest argument name.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from typing import Callable, Optional

from . import description as desc_mod
from .adapter import CheckpointState
from .description import Description

__all__ = ["Case", "FixtureSet", "CASE_ARGUMENTS"]


@dataclass
class Case:
    id: str
    kind: str
    result: str
    tags: list[str]
    prefix: Optional[str]
    files: list[str]
    directory: str
    description_path: Optional[str] = None
    error: Optional[str] = None
    spec: list[str] = field(default_factory=list)
    tf_behaviour: str = ""
    state: Optional[dict] = None
    #: acceptable cases: further categories a rejection may name.
    categories_any_of: list[str] = field(default_factory=list)
    #: state-file cases: the accepted resolutions of the directory (absolute paths, None for "none").
    latest_any_of: Optional[list[Optional[str]]] = None
    #: keys the description cannot express (ignored when comparing), and the categories reading them may raise.
    undescribed_keys: list[str] = field(default_factory=list)
    undescribed_key_categories: list[str] = field(default_factory=list)
    raw: dict = field(default_factory=dict, repr=False)
    _description: Optional[Description] = field(default=None, repr=False)

    def description(self) -> Description:
        """The expected description (loaded once)."""
        if self._description is None:
            if self.description_path is None:
                raise ValueError(f"case {self.id} has no expected description")
            path = self.description_path
            self._description = desc_mod.load(path if os.path.isdir(path) else os.path.dirname(path))
        return self._description

    def expected_state(self) -> Optional[CheckpointState]:
        return CheckpointState.from_json(self.state) if self.state is not None else None

    def state_file(self) -> Optional[str]:
        """The TensorFlow-written state file of this case, if any."""
        return self.state.get("file") if self.state else None

    def file_with_suffix(self, suffix: str) -> Optional[str]:
        for f in self.files:
            if f.endswith(suffix):
                return f
        return None

    def data_files(self) -> list[str]:
        return sorted(f for f in self.files if ".data-" in os.path.basename(f))

    @property
    def expected(self) -> dict:
        """The manifest's ``expected`` object, as written (fields beyond the common ones)."""
        expected = self.raw.get("expected")
        return expected if isinstance(expected, dict) else {}

    def saved_model_directory(self) -> Optional[str]:
        """The SavedModel directory of a case with ``expected.saved_model`` (where its ``saved_model.pb`` is)."""
        facts = self.expected.get("saved_model")
        if not isinstance(facts, dict) or not facts.get("file"):
            return None
        return os.path.dirname(os.path.normpath(os.path.join(self.directory, facts["file"])))


def _first(obj: dict, *names, default=None):
    for n in names:
        if n in obj and obj[n] is not None:
            return obj[n]
    return default


class FixtureSet:
    """Every case of one manifest (empty when the manifest does not exist)."""

    def __init__(self, directory: str, cases: list[Case], meta: dict, problem: Optional[str] = None) -> None:
        self.directory = directory
        self.cases = cases
        self.meta = meta
        self.problem = problem

    @classmethod
    def load(cls, directory: str) -> "FixtureSet":
        directory = os.path.abspath(directory)
        path = os.path.join(directory, "manifest.json")
        if not os.path.exists(path):
            return cls(directory, [], {}, problem=f"no manifest at {path}")
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
        cases = [cls._case(directory, c) for c in _first(meta, "cases", "testCases", default=[])]
        return cls(directory, cases, meta)

    @staticmethod
    def _case(directory: str, c: dict) -> Case:
        # Paths in a case are relative to its own directory, <manifest dir>/<id>/.
        case_dir = os.path.join(directory, str(c["id"]))

        def here(p):
            return os.path.normpath(os.path.join(case_dir, p)) if p is not None else None

        expected = c.get("expected") or {}
        if not isinstance(expected, dict):
            expected = {"error": expected} if isinstance(expected, str) else {}
        desc = _first(expected, "description")
        error = _first(expected, "error", "category")
        if isinstance(error, dict):
            error = _first(error, "category", "code")
        state = expected.get("state") if isinstance(expected.get("state"), dict) else None
        files = [here(f) for f in c.get("files", [])]
        latest = None
        if "latest_checkpoint" in expected:
            latest = [expected["latest_checkpoint"]]
        elif "latest_checkpoint_any_of" in expected:
            latest = list(expected["latest_checkpoint_any_of"])
        if latest is not None:
            latest = [here(p) if p is not None else None for p in latest]
        if state is not None and state.get("file"):
            state = dict(state, file=here(state["file"]))  # relative to the case directory, like every path
        return Case(
            id=str(c["id"]),
            kind=str(c.get("kind", "checkpoint")),
            result=str(c.get("result", "valid")),
            tags=list(c.get("tags", [])),
            prefix=here(c.get("prefix")),
            files=files,
            directory=case_dir,
            description_path=here(desc) if isinstance(desc, str) else None,
            error=error,
            spec=list(_first(c, "spec", "requirements", default=[])),
            tf_behaviour=_behaviour_text(_first(c, "tf_behaviour", "tf_behavior", default="")),
            state=state,
            categories_any_of=list(expected.get("categories_any_of", [])),
            latest_any_of=latest,
            undescribed_keys=list(expected.get("undescribed_keys", [])),
            undescribed_key_categories=list(expected.get("undescribed_key_categories", [])),
            raw=c,
        )

    def describe(self) -> str:
        if self.problem:
            return self.problem
        producer = self.meta.get("producer") or {}
        tf_version = producer.get("tensorflow") if isinstance(producer, dict) else None
        by = f", written by TensorFlow {tf_version}" if tf_version else ""
        return f"{os.path.basename(self.directory)} ({len(self.cases)} cases{by})"

    # -- selections used by the test families --------------------------------------------

    def golden(self) -> list[Case]:
        """Valid checkpoints to read, with the description a reader must return."""
        return [c for c in self.cases if c.result == "valid" and c.description_path and c.prefix
                and c.kind in CHECKPOINT_KINDS]

    def invalid(self) -> list[Case]:
        return [c for c in self.cases if c.result == "invalid" and c.prefix and c.kind == "checkpoint"]

    def invalid_tf_rejects(self) -> list[Case]:
        """Invalid checkpoints TensorFlow itself rejects with an error: rejecting them is Required."""
        return [c for c in self.invalid() if tf_outcome(c) == "error"]

    def invalid_tf_lax(self) -> list[Case]:
        """Invalid checkpoints TensorFlow aborts on, accepts, or misreads: rejecting them is Recommended.

        The Required level states what TensorFlow 2.21 does, so that TensorFlow
        passes it; these cases are where the spec asks for more (spec/errors.md).
        """
        return [c for c in self.invalid() if tf_outcome(c) != "error"]

    def golden_tagged(self, tag: str) -> list[Case]:
        """Valid checkpoints carrying the manifest tag ``tag`` (the feature families select by tag)."""
        return [c for c in self.golden() if tag in c.tags]

    def object_graphs(self) -> list[Case]:
        """Valid object-based checkpoints: golden ones and those of ``tf.train.Checkpoint.save`` state-file cases."""
        saved = [c for c in self.cases if c.kind == "state_file" and c.result == "valid" and "object_graph" in c.tags
                 and c.description_path and c.latest_any_of and c.latest_any_of[0]]
        # A state-file case's prefix is its directory; its description is that of the checkpoint it resolves to.
        return self.golden_tagged("object_graph") + [replace(c, prefix=c.latest_any_of[0]) for c in saved]

    def golden_v2_multi_shard(self) -> list[Case]:
        """Valid V2 checkpoints with more than one data file."""
        return [c for c in self.golden_tagged("multi_shard") if "v1" not in c.tags and len(c.data_files()) > 1]

    def golden_with_meta(self) -> list[Case]:
        """Valid checkpoints that come with the ``.meta`` file a TF1 ``Saver`` wrote."""
        return [c for c in self.golden_tagged("meta_graph") if c.file_with_suffix(".meta")]

    def golden_in_state_directory(self) -> list[Case]:
        """Valid checkpoints whose directory's ``checkpoint`` file names them by a relative path."""
        out = []
        for c in self.golden():
            named = _state_model_path(os.path.join(os.path.dirname(c.prefix), "checkpoint"))
            if named and not os.path.isabs(named) and \
                    os.path.normpath(os.path.join(os.path.dirname(c.prefix), named)) == c.prefix:
                out.append(c)
        return out

    def golden_sliceable(self) -> list[Case]:
        """Valid checkpoints with a tensor whose first dimension has at least 2 rows (a slice to take)."""
        return [c for c in self.golden() if any(t.shape and t.shape[0] >= 2 for t in c.description().tensors)]

    def golden_several_tensors(self) -> list[Case]:
        """Valid checkpoints with at least two tensors (an order to check)."""
        return [c for c in self.golden() if len(c.description().tensors) >= 2]

    def variants(self) -> list[Case]:
        """Checkpoints holding variant tensors written by TensorFlow, with the description of the rest."""
        return [c for c in self.cases if c.result in ("valid", "acceptable") and "dtype:variant" in c.tags
                and c.description_path and c.prefix and c.kind in CHECKPOINT_KINDS]

    def invalid_object_graphs(self) -> list[Case]:
        """Valid bundles whose object graph is broken: a reader that interprets it must refuse."""
        return [c for c in self.golden() if c.expected.get("object_graph_category")]

    def golden_v1_files(self) -> list[Case]:
        """Single-file V1 checkpoints of whole tensors: what ``write_v1`` is asked to reproduce.

        Not those whose meta lists the tensors in the Save op's input order (tag ``v1_unsorted_meta``,
        TensorFlow before 1.15): a description is in key order, so no writer can know that order.
        Nor the ``mutated`` ones (fixtures/mutate.py): their bytes are not TensorFlow's.
        """
        return [c for c in self.golden_tagged("v1") if "sliced" not in c.tags and "multi_shard" not in c.tags
                and "v1_unsorted_meta" not in c.tags and "mutated" not in c.tags and c.prefix
                and os.path.isfile(c.prefix)]

    def golden_with_object_keys(self) -> list[Case]:
        """Object-based checkpoints whose manifest gives TensorFlow's key for object paths."""
        return [c for c in self.golden() if c.expected.get("objects")]

    def golden_with_slot_keys(self) -> list[Case]:
        """Object-based checkpoints whose manifest gives TensorFlow's key for optimizer slots."""
        return [c for c in self.golden() if c.expected.get("slots")]

    def golden_tf1_without_meta(self) -> list[Case]:
        """Checkpoints of a TF1 ``Saver`` that wrote no ``.meta`` file."""
        return [c for c in self.golden_tagged("tf1_saver") if not c.file_with_suffix(".meta")]

    def golden_saved_models(self) -> list[Case]:
        """SavedModels whose ``saved_model.pb`` is committed, with TensorFlow's facts about it."""
        return [c for c in self.golden() if c.saved_model_directory()]

    def golden_tf2_saved_models(self) -> list[Case]:
        """SavedModels exported by TF2 (``tf.saved_model.save``): with a ``SavedObjectGraph``."""
        return [c for c in self.golden_saved_models() if c.expected["saved_model"].get("object_graph_def") is not False]

    def golden_with_meta_variables(self) -> list[Case]:
        """TF1 checkpoints whose ``.meta`` variables the manifest maps to keys (as TensorFlow's Saver names them)."""
        return [c for c in self.golden_with_meta() if (c.expected.get("meta_graph") or {}).get("variables")]

    def acceptable(self) -> list[Case]:
        return [c for c in self.cases if c.result == "acceptable" and c.prefix and c.kind in CHECKPOINT_KINDS]

    def writer(self) -> list[Case]:
        """Descriptions whose TensorFlow-written bytes are known (for the byte-exact check)."""
        return [c for c in self.cases if c.kind == "writer" and c.description_path and c.prefix]

    def write_inputs(self) -> list[Case]:
        """Every description a writer can be asked to write: writer cases and valid read cases."""
        return [c for c in self.cases if c.description_path and c.result == "valid" and c.kind in CHECKPOINT_KINDS]

    def state(self) -> list[Case]:
        """Cases that come with a TensorFlow-written ``checkpoint`` state file and its expected fields."""
        return [c for c in self.cases if c.state is not None and c.result == "valid"]

    def latest(self) -> list[Case]:
        """State-file cases: which checkpoint a directory resolves to (valid or acceptable)."""
        return [c for c in self.cases if c.kind == "state_file" and c.result != "invalid" and c.prefix]

    def latest_invalid(self) -> list[Case]:
        """State-file cases a strict resolver must refuse, with a category."""
        return [c for c in self.cases if c.kind == "state_file" and c.result == "invalid" and c.prefix]


#: Kinds whose prefix is a checkpoint (V2 prefix or V1 file) to read.
CHECKPOINT_KINDS = ("checkpoint", "writer")


def _state_model_path(path: str) -> Optional[str]:
    """The ``model_checkpoint_path`` of a TensorFlow-written state file (its plain one-line form), or None."""
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                name, _, value = line.partition(":")
                if name.strip() == "model_checkpoint_path":
                    return json.loads(value.strip())
    except (OSError, ValueError):
        return None
    return None


def _behaviour_text(value) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


#: pytest argument name -> selector; ``plugin.pytest_generate_tests`` parametrizes with them.
def tf_outcome(case: Case) -> str:
    """What TensorFlow 2.21 did with an invalid fixture: ``error``, ``abort``, ``accepts``, ``wrong_data``."""
    behaviour = case.raw.get("tf_behaviour")
    if isinstance(behaviour, dict):
        return str(behaviour.get("outcome", "error"))
    return "error"


CASE_ARGUMENTS: dict[str, Callable[[FixtureSet], list[Case]]] = {
    "golden_case": FixtureSet.golden,
    "sliceable_case": FixtureSet.golden_sliceable,
    "several_tensors_case": FixtureSet.golden_several_tensors,
    "invalid_case": FixtureSet.invalid,
    "tf_rejected_case": FixtureSet.invalid_tf_rejects,
    "tf_lax_case": FixtureSet.invalid_tf_lax,
    "acceptable_case": FixtureSet.acceptable,
    "sliced_case": lambda fs: fs.golden_tagged("sliced"),
    "string_case": lambda fs: fs.golden_tagged("string"),
    "v1_case": lambda fs: fs.golden_tagged("v1"),
    "object_graph_case": FixtureSet.object_graphs,
    "savedmodel_case": lambda fs: fs.golden_tagged("savedmodel"),
    "multi_shard_case": FixtureSet.golden_v2_multi_shard,
    "meta_case": FixtureSet.golden_with_meta,
    "meta_variables_case": FixtureSet.golden_with_meta_variables,
    "object_keys_case": FixtureSet.golden_with_object_keys,
    "v1_file_case": FixtureSet.golden_v1_files,
    "variant_case": FixtureSet.variants,
    "broken_object_graph_case": FixtureSet.invalid_object_graphs,
    "slot_keys_case": FixtureSet.golden_with_slot_keys,
    "no_meta_case": FixtureSet.golden_tf1_without_meta,
    "saved_model_case": FixtureSet.golden_saved_models,
    "tf2_saved_model_case": FixtureSet.golden_tf2_saved_models,
    "directory_case": FixtureSet.golden_in_state_directory,
    "writer_case": FixtureSet.writer,
    "write_input_case": FixtureSet.write_inputs,
    "state_case": FixtureSet.state,
    "latest_case": FixtureSet.latest,
    "latest_invalid_case": FixtureSet.latest_invalid,
    "series_case": lambda fs: [c for c in fs.cases if c.kind == "series" and c.result == "valid"],
    "rewrite_case": lambda fs: [c for c in fs.cases if c.kind == "rewrite" and c.result == "valid"],
    "freeze_case": lambda fs: [c for c in fs.cases if c.kind == "freeze" and c.result == "valid"],
    "objects_case": lambda fs: [c for c in fs.cases if c.kind == "objects" and c.result == "valid"],
    "savedmodel_build_case": lambda fs: [c for c in fs.cases if c.kind == "savedmodel_build" and c.result == "valid"],
    "graph_case": lambda fs: [c for c in fs.cases if c.kind == "graph" and c.result == "valid"],
}
