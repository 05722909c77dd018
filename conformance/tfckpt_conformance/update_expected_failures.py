"""Rewrite an implementation's expected-failure file from its last run (spec/conformance.md CONF-27).

    python -m tfckpt_conformance.update_expected_failures LABEL [--results PATH] [--file PATH]

Reads ``conformance/reports/last-run/<LABEL>.json`` (written by the pytest
plugin at the end of every run) and writes ``conformance/expected-failures/<LABEL>.txt``:
one line per test that failed (or failed as expected), sorted, each with the
first line of its failure as a comment.  Comments of lines that survive and
the file's leading comment block are kept, so hand-written findings are not
lost.  The run must have been a full run of the suite: a partial run would
drop the entries of the tests it did not collect.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .report import scrub_paths

FAILING = ("failed", "xfailed", "error")


def _existing(path: str) -> tuple[list[str], dict[str, str]]:
    """The leading comment block, and each entry's comment (``?`` entries keep their ``?``)."""
    header: list[str] = []
    comments: dict[str, str] = {}
    if not os.path.exists(path):
        return header, comments
    in_header = True
    with open(path, encoding="utf-8") as f:
        for line in f:
            stripped = line.rstrip("\n")
            if in_header and (stripped.startswith("#") or not stripped.strip()):
                header.append(stripped)
                continue
            in_header = False
            text, _, comment = stripped.partition("#")
            text = text.strip()
            if text.startswith("?"):
                text = text[1:].strip()
                comments[text] = "?" + comment.strip()
            elif text:
                comments[text] = comment.strip()
    return header, comments


def render(results: dict, header: list[str], comments: dict[str, str]) -> str:
    failing = sorted(t["id"] for t in results["tests"] if t["outcome"] in FAILING)
    by_id = {t["id"]: t for t in results["tests"]}
    lines = list(header) or [
        f"# Expected failures of {results['implementation']} (tfckpt conformance suite).",
        "# One test id per line; '#' starts a comment. A listed test that passes, or a line that",
        "# matches no test, fails the run. Regenerate with:",
        f"#   python -m tfckpt_conformance.update_expected_failures {results['implementation']}",
    ]
    if lines and lines[-1].strip():
        lines.append("")
    may_fail = sorted(k for k, v in comments.items() if v.startswith("?") and k in by_id and k not in failing)
    for test_id in sorted(set(failing) | set(may_fail)):
        note = comments.get(test_id) or scrub_paths(by_id[test_id].get("message", "")).replace("\n", " ")[:160]
        mark = ""
        if note.startswith("?"):
            mark, note = "? ", note[1:]
        lines.append(f"{mark}{test_id}  # {note}" if note else f"{mark}{test_id}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("label", help="implementation label (reference, reference-subprocess, tensorflow, netron, ...)")
    ap.add_argument("--root", default=".", help="repository root (default: current directory)")
    ap.add_argument("--results", default=None, help="results JSON (default: conformance/reports/last-run/LABEL.json)")
    ap.add_argument("--file", default=None, help="expected-failure file (default: conformance/expected-failures/LABEL.txt)")
    args = ap.parse_args(argv)
    results_path = args.results or os.path.join(args.root, "conformance", "reports", "last-run", f"{args.label}.json")
    target = args.file or os.path.join(args.root, "conformance", "expected-failures", f"{args.label}.txt")
    try:
        with open(results_path, encoding="utf-8") as f:
            results = json.load(f)
    except FileNotFoundError:
        print(f"no results at {results_path}: run the suite for {args.label} first", file=sys.stderr)
        return 2
    if not results.get("full_run", False) or results.get("level", "all") != "all":
        print(f"{results_path} is from a partial run; run the whole suite first", file=sys.stderr)
        return 2
    header, comments = _existing(target)
    text = render(results, header, comments)
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    with open(target, "w", encoding="utf-8") as f:
        f.write(text)
    count = sum(1 for t in results["tests"] if t["outcome"] in FAILING)
    print(f"{target}: {count} expected failure(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
