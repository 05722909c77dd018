"""Traceability between the spec's requirement ids and the tests that check them.

Strategy
--------
Requirement ids are marked in ``spec/*.md`` as ``**[IDX-4]**`` and found with
the regex below.  Tests cite them with ``@pytest.mark.spec("IDX-4", ...)`` (on a
function, or as a module's ``pytestmark``); citations are read from the test
sources with :mod:`ast`, without importing or collecting anything, in
``conformance/tests`` and ``tests/conformance_meta`` (the suite's own tests cite
the ids about its machinery).

``python -m tfckpt_conformance.traceability`` writes ``spec/traceability.md``
(one row per id: document, citing tests); ``--check`` exits 1 when a cited id
does not exist or when an id is uncited and not listed in
``conformance/uncited.txt`` (the known gaps, strict both ways, like an
expected-failure file).
"""

from __future__ import annotations

import argparse
import ast
import glob
import os
import re
import sys
from collections import defaultdict
from typing import Optional

ID_PATTERN = re.compile(r"\*\*\[([A-Z0-9]+-[0-9]+)\]\*\*")
#: A withdrawn id keeps its mark, followed by ``*(withdrawn`` (spec/index.md, "Requirement ids").
WITHDRAWN_PATTERN = re.compile(r"\*\*\[([A-Z0-9]+-[0-9]+)\]\*\* \*\(withdrawn")
TEST_DIRS = ("conformance/tests", "tests/conformance_meta")


def _marks(root: str, pattern: re.Pattern) -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted(glob.glob(os.path.join(root, "spec", "*.md"))):
        if os.path.basename(path) == "traceability.md":
            continue
        with open(path, encoding="utf-8") as f:
            for match in pattern.finditer(f.read()):
                found.setdefault(match.group(1), os.path.relpath(path, root))
    return found


def withdrawn_ids(root: str) -> dict[str, str]:
    """id -> the spec file that marks it withdrawn (its number stays taken; it is no requirement)."""
    return _marks(root, WITHDRAWN_PATTERN)


def spec_ids(root: str) -> dict[str, str]:
    """id -> the spec file (relative) that defines it, for every requirement in force."""
    withdrawn = withdrawn_ids(root)
    return {i: f for i, f in _marks(root, ID_PATTERN).items() if i not in withdrawn}


def _module_constants(tree: ast.Module) -> dict[str, list[str]]:
    """Module-level ``NAME = ("ID-1", "ID-2", ...)`` tuples or lists of string literals."""
    out: dict[str, list[str]] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, (ast.Tuple, ast.List)):
            values = [e.value for e in stmt.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if len(values) == len(stmt.value.elts):
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        out[target.id] = values
    return out


def _spec_args(node: ast.AST, constants: Optional[dict] = None) -> list[str]:
    """The ids a ``pytest.mark.spec(...)`` call cites, else []: string arguments, and ``*NAME`` of a
    module-level tuple of strings (so that a long list shared by several tests is written once)."""
    constants = constants or {}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "spec":
        inner = node.func.value
        if isinstance(inner, ast.Attribute) and inner.attr == "mark":
            out = []
            for a in node.args:
                if isinstance(a, ast.Constant) and isinstance(a.value, str):
                    out.append(a.value)
                elif isinstance(a, ast.Starred) and isinstance(a.value, ast.Name):
                    out += constants.get(a.value.id, [])
            return out
    return []


def citations(root: str) -> dict[str, list[str]]:
    """id -> ["file::test", ...] for every ``pytest.mark.spec`` citation."""
    cited: dict[str, list[str]] = defaultdict(list)
    for directory in TEST_DIRS:
        for path in sorted(glob.glob(os.path.join(root, directory, "test_*.py"))):
            rel = os.path.relpath(path, root)
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read(), filename=path)
            constants = _module_constants(tree)
            module_ids: list[str] = []
            for stmt in tree.body:
                if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in stmt.targets):
                    values = stmt.value.elts if isinstance(stmt.value, (ast.List, ast.Tuple)) else [stmt.value]
                    for v in values:
                        module_ids += _spec_args(v, constants)
            for ident in module_ids:
                cited[ident].append(rel)
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                    for deco in node.decorator_list:
                        for ident in _spec_args(deco, constants):
                            cited[ident].append(f"{rel}::{node.name}")
    return cited


def known_gaps(root: str) -> list[str]:
    path = os.path.join(root, "conformance", "uncited.txt")
    if not os.path.exists(path):
        return []
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            text = line.split("#", 1)[0].strip()
            if text:
                out.append(text)
    return out


def problems(root: str) -> list[str]:
    ids = spec_ids(root)
    cited = citations(root)
    gaps = set(known_gaps(root))
    withdrawn = withdrawn_ids(root)
    out = []
    for ident in sorted(set(cited) & set(withdrawn)):
        out.append(f"{ident} is withdrawn ({withdrawn[ident]}) but cited by {', '.join(cited[ident])}")
    for ident in sorted(set(cited) - set(ids) - set(withdrawn)):
        out.append(f"{ident} is cited by {', '.join(cited[ident])} but defined in no spec/*.md")
    for ident in sorted(set(ids) - set(cited) - gaps):
        out.append(f"{ident} ({ids[ident]}) is cited by no test (cite it, or list it in conformance/uncited.txt)")
    for ident in sorted(gaps & set(cited)):
        out.append(f"{ident} is listed in conformance/uncited.txt but is cited by {', '.join(cited[ident])}: remove the line")
    for ident in sorted(gaps - set(ids)):
        out.append(f"{ident} is listed in conformance/uncited.txt but defined in no spec/*.md")
    return out


def _order(ident: str):
    prefix, _, number = ident.rpartition("-")
    return (prefix, int(number))


def render(root: str) -> str:
    ids = spec_ids(root)
    cited = citations(root)
    lines = ["# Traceability: requirements and the tests that check them", "",
             "Generated by `python -m tfckpt_conformance.traceability`; do not edit. Requirement ids are the "
             "`**[ID]**` marks in `spec/*.md`; tests cite them with `@pytest.mark.spec(...)`.", ""]
    covered = sum(1 for i in ids if i in cited)
    lines += [f"{covered} of {len(ids)} requirements are cited by at least one test.", "",
              "| requirement | defined in | cited by |", "|---|---|---|"]
    withdrawn = withdrawn_ids(root)
    for ident in sorted({**ids, **withdrawn}, key=_order):
        where = ids.get(ident) or withdrawn[ident]
        tests = sorted(set(cited.get(ident, [])))
        shown = "<br>".join(f"`{t}`" for t in tests) if tests else "**not cited**"
        if ident in withdrawn:
            shown = "withdrawn (no longer a requirement; the id is not reused)"
        lines.append(f"| {ident} | [{os.path.basename(where)}]({os.path.basename(where)}) | {shown} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=".", help="repository root")
    ap.add_argument("--check", action="store_true", help="only check; exit 1 on problems")
    ap.add_argument("--write-gaps", action="store_true",
                    help="rewrite conformance/uncited.txt with every id no test cites yet")
    args = ap.parse_args(argv)
    if args.write_gaps:
        ids, cited = spec_ids(args.root), citations(args.root)
        gaps = sorted((i for i in ids if i not in cited), key=_order)
        path = os.path.join(args.root, "conformance", "uncited.txt")
        kept: dict[str, str] = {}  # the lines of ids still uncited, with their reasons
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                for line in f:
                    ident = line.split("#", 1)[0].strip()
                    if ident:
                        kept[ident] = line.rstrip("\n")
        with open(path, "w", encoding="utf-8") as f:
            f.write("# Requirement ids of spec/*.md that no test cites yet (known gaps; strict both ways).\n"
                    "# Regenerate: python -m tfckpt_conformance.traceability --write-gaps (keeps the reasons)\n"
                    "# Every line says why no conformance test can cite the id honestly today.\n")
            for ident in gaps:
                f.write((kept.get(ident) or f"{ident}  # {ids[ident]} -- reason: ?") + "\n")
        print(f"conformance/uncited.txt: {len(gaps)} id(s)")
        return 0
    if args.check:
        found = problems(args.root)
        for p in found:
            print(p)
        return 1 if found else 0
    out = os.path.join(args.root, "spec", "traceability.md")
    with open(out, "w", encoding="utf-8") as f:
        f.write(render(args.root))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
