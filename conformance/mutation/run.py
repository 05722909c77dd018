"""Mutation testing of the reference's file-format layers, judged by the conformance suite.

``tox -e mutation`` (or ``python conformance/mutation/run.py``) stages a copy of
``reference/tfckpt`` as ``src/tfckpt`` and of ``conformance/tests`` as ``tests/`` under
``build/mutation/`` -- mutmut 3 derives module names from paths, stripping a leading
``src/``, so the staged layout gives ``tfckpt.table.block`` -- runs ``mutmut run`` there
with the in-process conformance suite (``--impl reference``, the default hypothesis
profile) as the test command, and writes ``conformance/reports/mutation.md`` and
``mutation.json``: per module the mutants, killed, equivalent (listed with their
reasons in ``conformance/mutation/equivalent.txt``), survived and the score
killed / (total - equivalent).

mutmut keeps its results in ``build/mutation/mutants/``: a second run only tests the
mutants of functions that changed. When the suite changed since the last run, the
mutants that survived are run again (``--rerun-survivors`` forces it).

Only the modules the conformance suite is the judge of are mutated (``SCOPE``): the
SSTable, bundle and V1 layers, the state file, the encodings, checksums and dtypes.
The CLI, jobs, graph and SavedModel code are judged by ``tests/``, not by this suite.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAGE = ROOT / "build" / "mutation"
EQUIVALENT = Path(__file__).resolve().parent / "equivalent.txt"
REPORTS = ROOT / "conformance" / "reports"

# Paths under reference/ (globs in mutmut's only_mutate form, relative to the staged src/).
SCOPE = [
    "tfckpt/table/*.py",
    "tfckpt/bundle/*.py",
    "tfckpt/v1/*.py",
    "tfckpt/state_file.py",
    "tfckpt/encoding.py",
    "tfckpt/checksums.py",
    "tfckpt/dtypes.py",
]

# mutmut's status names (mutmut.stats.status_by_exit_code) grouped for the report.
KILLED = {"killed", "timeout", "caught by type check"}
# equivalent.txt reasons that start with one of these are counted apart: code no adapter operation
# reaches, and code mutmut cannot switch a mutant on in (it runs once per process, before the fork).
APART = ("unreachable", "untestable")
COLUMNS = ("mutants", "killed", "equivalent", *APART, "survived", "not_checked")


def _digest(paths: list[Path], base: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(str(p.relative_to(base)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _sync(src: Path, dst: Path) -> None:
    """Mirror src into dst, copying only files whose bytes differ (mutmut's cache goes by mtime)."""
    wanted = set()
    for path in src.rglob("*"):
        if "__pycache__" in path.parts or path.suffix in (".pyc", ".so"):
            continue  # .so: an in-place build of the C accelerator; the mutants are in the Python code
        rel = path.relative_to(src)
        wanted.add(rel)
        target = dst / rel
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif not target.exists() or target.read_bytes() != path.read_bytes():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    if dst.exists():
        for path in sorted(dst.rglob("*"), reverse=True):
            if "__pycache__" in path.parts:
                continue
            if path.relative_to(dst) not in wanted:
                path.unlink() if path.is_file() else shutil.rmtree(path)


def _pytest_args() -> list[str]:
    fixtures = ROOT / "fixtures" / "tf-2.21.0"
    return [
        "--impl", "tfckpt_conformance.adapters.reference:ReferenceAdapter",
        "--impl-name", "reference",
        # The reference itself (mutated) is the only trusted reader: TensorFlow would cost
        # minutes per mutant; Write.Bytes compares with TensorFlow's own bytes anyway.
        "--trusted-reader", "reference",
        "--fixture-dir", str(fixtures),
        "--expected-failures", str(ROOT / "conformance" / "expected-failures" / "reference.txt"),
        "--results", str(STAGE / "last-run.json"),
        "-p", "no:cacheprovider",
        "-p", "no:randomly",
        "-x", "-q",
    ]


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def stage(timeout_multiplier: float, timeout_constant: float) -> bool:
    """Stage sources, tests and mutmut's configuration; True when the suite changed."""
    STAGE.mkdir(parents=True, exist_ok=True)
    _sync(ROOT / "reference" / "tfckpt", STAGE / "src" / "tfckpt")
    _sync(ROOT / "conformance" / "tests", STAGE / "tests")
    # mutmut runs pytest inside mutants/ with --rootdir=.: pytest must not find the repository's
    # configuration (its testpaths and addopts are for tests/).
    (STAGE / "pyproject.toml").write_text(
        "[tool.mutmut]\n"
        'source_paths = ["src"]\n'
        f"only_mutate = {_toml_list(['src/' + s for s in SCOPE])}\n"
        'pytest_add_cli_args_test_selection = ["tests"]\n'
        f"pytest_add_cli_args = {_toml_list(_pytest_args())}\n"
        f"timeout_multiplier = {timeout_multiplier}\n"
        f"timeout_constant = {timeout_constant}\n"
        "use_git_change_detection = false\n"
        "\n[tool.pytest.ini_options]\n"
        'addopts = "-ra --strict-markers"\n')
    suite = [p for p in (ROOT / "conformance").rglob("*.py") if "__pycache__" not in p.parts
             and "mutation" not in p.relative_to(ROOT / "conformance").parts]
    digest = _digest(suite + [ROOT / "conformance" / "expected-failures" / "reference.txt"], ROOT)
    mark = STAGE / "suite.sha256"
    # No mark: the first run here, whose results are all new.
    changed = mark.exists() and mark.read_text() != digest
    mark.write_text(digest)
    return changed


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # tfckpt_conformance from the repository; tfckpt only from mutants/src (mutmut puts it first).
    env["PYTHONPATH"] = str(ROOT / "conformance")
    env["TFCKPT_FIXTURES"] = str(ROOT / "fixtures" / "tf-2.21.0")
    env.setdefault("TFCKPT_CONFORMANCE_PROFILE", "default")
    env["PYTHONHASHSEED"] = "0"
    return env


def mutmut(*args: str) -> int:
    cmd = [sys.executable, "-m", "mutmut", *args]
    print("+", " ".join(cmd[:8]) + (" ..." if len(cmd) > 8 else ""), flush=True)
    return subprocess.call(cmd, cwd=STAGE, env=_env())


def load_results() -> dict[str, str]:
    """Every mutant's status, from mutmut's .meta files."""
    sys.path.insert(0, str(STAGE))
    from mutmut.stats import status_by_exit_code

    out = {}
    for meta in sorted((STAGE / "mutants" / "src").rglob("*.py.meta")):
        data = json.loads(meta.read_text())
        for key, code in data["exit_code_by_key"].items():
            out[key] = status_by_exit_code[code]
    return out


def estimated_seconds(names, workers: int = 2) -> float:
    """mutmut's estimate of the test time of ``names`` (each mutant's selected tests), over ``workers``."""
    stats = json.loads((STAGE / "mutants" / "mutmut-stats.json").read_text())
    tests, duration = stats["tests_by_mangled_function_name"], stats["duration_by_test"]
    total = 0.0
    for name in names:
        total += sum(duration.get(t, 0.0) for t in tests.get(name.partition("__mutmut_")[0], ()))
    return total / workers


def load_equivalent() -> list[tuple[str, str]]:
    rules = []
    for line in EQUIVALENT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        pattern, _, reason = line.partition(" ")
        if not reason.strip():
            raise SystemExit(f"{EQUIVALENT.name}: {pattern}: no reason given")
        rules.append((pattern, reason.strip()))
    return rules


def module_of(key: str) -> str:
    from mutmut.utils.format_utils import get_module_from_key

    return get_module_from_key(key.partition("__mutmut_")[0])


def diffs(names: list[str]) -> dict[str, str]:
    """The changed lines of each mutant (mutmut show), read in the staging directory."""
    if not names:
        return {}
    code = (
        "import json, sys\n"
        "from mutmut.mutation.diff_apply import get_diff_for_mutant\n"
        "out = {}\n"
        "for n in json.load(sys.stdin):\n"
        "    try:\n"
        "        d = get_diff_for_mutant(n)\n"
        "    except Exception as e:\n"
        "        d = f'(no diff: {e})'\n"
        "    out[n] = [l for l in d.splitlines() if l[:1] in '+-' and l[:3] not in ('+++', '---')]\n"
        "print(json.dumps(out))\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=STAGE, env=_env(), input=json.dumps(names),
                         capture_output=True, text=True, check=True)
    return {k: "\n".join(v) for k, v in json.loads(res.stdout).items()}


def report(seconds: float | None) -> float:
    statuses = load_results()
    rules = load_equivalent()
    used = set()
    per_module: dict[str, dict] = {}
    survivors, equivalents = [], []
    for key, status in sorted(statuses.items()):
        mod = module_of(key)
        row = per_module.setdefault(mod, dict.fromkeys(COLUMNS, 0))
        row["mutants"] += 1
        reason = next((r for p, r in rules if fnmatch.fnmatchcase(key, p)), None)
        if reason is not None:
            used.update(p for p, r in rules if fnmatch.fnmatchcase(key, p))
        if status in KILLED:
            row["killed"] += 1
        elif status == "not checked":
            row["not_checked"] += 1
        elif reason is not None:
            row[next((a for a in APART if reason.startswith(a + ":")), "equivalent")] += 1
            equivalents.append((key, reason))
        else:
            row["survived"] += 1
            survivors.append((key, status))
    stale = [p for p, _ in rules if p not in used]
    total = {k: sum(r[k] for r in per_module.values()) for k in COLUMNS}

    def score(r):
        judged = r["mutants"] - r["equivalent"] - sum(r[a] for a in APART) - r["not_checked"]
        return r["killed"] / judged if judged else 1.0

    shown = diffs([k for k, _ in survivors])
    lines = [
        "# Mutation testing report",
        "",
        "Written by `conformance/mutation/run.py` (`tox -e mutation`); do not edit by hand.",
        "",
        "mutmut 3.8.1 mutates the reference's file-format layers; each mutant is judged by the",
        "conformance suite run in process against the reference (`--impl reference`, default",
        "hypothesis profile, only the tests that reach the mutated function). A mutant is *killed*",
        "when a test fails or it times out; *equivalent* mutants (no input can observe them through",
        "the adapter interface) are listed with their reasons in `conformance/mutation/equivalent.txt`;",
        "*unreachable* ones are equivalent because no adapter operation calls their function at all",
        "(library API judged by `tests/`); *untestable* ones are in code that runs once per process",
        "(at import, or filling a cache) before mutmut switches a mutant on, so mutmut cannot judge them.",
        "*Survived* includes mutants of functions no test reached (mutmut's \"no tests\"), listed below",
        "with the others; *not checked* ones were not run (an interrupted run). Score = killed /",
        "(mutants - equivalent - unreachable - untestable - not checked).",
        "",
        "Scope: " + ", ".join(f"`reference/{s}`" for s in SCOPE) + ". The CLI, jobs, graph,",
        "SavedModel and object-graph code are judged by `tests/`, not by the conformance suite.",
        "",
    ]
    if seconds is not None:
        lines += [f"Last whole run: {seconds / 60:.0f} min wall clock (two workers on a machine of 2 shared cores)."]
        if total["not_checked"]:
            left = estimated_seconds(k for k, s in statuses.items() if s == "not checked")
            lines += [f"It was interrupted with {total['not_checked']} mutants not checked; running all their "
                      f"selected tests would take up to {left / 60:.0f} min more (the suite's test times as mutmut "
                      f"measured them, over two workers; a killed mutant stops at its first failing test), so a "
                      f"whole run takes up to about {(seconds + left) / 60:.0f} min here."]
        lines.append("")
    lines += ["| module | mutants | killed | equivalent | unreachable | untestable | survived | not checked | score |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for mod, r in sorted(per_module.items()):
        lines.append(f"| `{mod}` | " + " | ".join(str(r[c]) for c in COLUMNS) + f" | {score(r):.1%} |")
    lines.append("| **total** | " + " | ".join(str(total[c]) for c in COLUMNS) + f" | **{score(total):.1%}** |")
    lines += ["", f"## Surviving mutants ({len(survivors)})", ""]
    if not survivors:
        lines.append("None.")
    for key, status in survivors:
        lines += [f"- `{key}` ({status})", "", "  ```diff"]
        lines += ["  " + l for l in shown.get(key, "").splitlines()] + ["  ```", ""]
    lines += ["", f"## Equivalent mutants ({len(equivalents)})", "",
              "| mutant | reason |", "|---|---|"]
    lines += [f"| `{k}` | {r} |" for k, r in equivalents]
    if stale:
        lines += ["", "## Stale lines of equivalent.txt (match no surviving mutant)", ""]
        lines += [f"- `{p}`" for p in stale]
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "mutation.md").write_text("\n".join(lines) + "\n")
    (REPORTS / "mutation.json").write_text(json.dumps({
        "tool": "mutmut 3.8.1",
        "scope": SCOPE,
        "seconds": seconds,
        "modules": {m: dict(r, score=round(score(r), 4)) for m, r in sorted(per_module.items())},
        "total": dict(total, score=round(score(total), 4)),
        "survived": [{"mutant": k, "status": s, "diff": shown.get(k, "")} for k, s in survivors],
        "equivalent": [{"mutant": k, "reason": r} for k, r in equivalents],
        "stale_equivalent_lines": stale,
    }, indent=1) + "\n")
    print(f"score {score(total):.1%}: {total['killed']} killed, {total['equivalent']} equivalent, "
          f"{total['unreachable']} unreachable, {total['untestable']} untestable, {total['survived']} survived, "
          f"{total['not_checked']} not checked "
          f"of {total['mutants']}")
    return score(total)


def main(argv: list[str] | None = None) -> int:
    os.environ["TFCKPT_PURE_PYTHON"] = "1"  # the Python code is what is mutated; mutmut's workers inherit this
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--max-children", type=int, default=2, help="parallel mutant workers (default 2)")
    ap.add_argument("--timeout-multiplier", type=float, default=4.0,
                    help="per-mutant CPU-time limit: 2 x multiplier x (the tests' own time + constant)")
    ap.add_argument("--timeout-constant", type=float, default=2.0)
    ap.add_argument("--rerun-survivors", action="store_true", help="run the surviving mutants again")
    ap.add_argument("--report-only", action="store_true", help="rewrite the report from the last results")
    ap.add_argument("--fresh", action="store_true", help="forget mutmut's cached results")
    ap.add_argument("--min-score", type=float, default=None, help="exit 1 below this score (0..1)")
    ap.add_argument("mutants", nargs="*", help="mutant names or patterns to (re)run, e.g. 'tfckpt.encoding.*'")
    args = ap.parse_args(argv)
    seconds = None
    if not args.report_only:
        if args.fresh and STAGE.exists():
            shutil.rmtree(STAGE)
        suite_changed = stage(args.timeout_multiplier, args.timeout_constant)
        start = time.monotonic()
        code = mutmut("run", "--max-children", str(args.max_children), *args.mutants)
        if code:
            return code
        if (suite_changed or args.rerun_survivors) and not args.mutants:
            again = [k for k, s in load_results().items() if s not in KILLED and s != "not checked"]
            if again:
                print(f"the suite changed: running the {len(again)} surviving mutants again", flush=True)
                code = mutmut("run", "--max-children", str(args.max_children), *again)
                if code:
                    return code
        if not args.mutants:  # the time of a whole run, not of a few mutants run again
            (STAGE / "seconds").write_text(f"{time.monotonic() - start:.0f}")
    if (STAGE / "seconds").exists():
        seconds = float((STAGE / "seconds").read_text())
    s = report(seconds)
    return 1 if args.min_score is not None and s < args.min_score else 0


if __name__ == "__main__":
    sys.exit(main())
