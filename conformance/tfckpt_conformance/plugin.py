"""The pytest plugin behind ``conformance/tests``: options, test ids, levels, expected failures, results.

Strategy
--------
* **Choosing the implementation** (spec/conformance.md CONF-20): ``--impl NAME``
  (an entry point of group ``tfckpt_conformance``) or ``--impl module:Class``
  runs an adapter in-process; ``--impl-cmd "CMD"`` runs a program speaking the
  protocol.  ``--impl-name`` sets the label used for expected failures and
  results (default: the entry point name, else the adapter's ``name``).
* **Test ids** (CONF-22): every test carries ``@pytest.mark.conformance("Read.Golden",
  level="Required")``; the id is ``<level>.<base>.<parameter id>``, e.g.
  ``Required.Read.Golden.dtype-bfloat16-rank2``.  Ids must be unique.
* **Expected failures** (CONF-24..CONF-26): ``conformance/expected-failures/<label>.txt``
  lists ids (``fnmatch`` patterns allowed), one per line, ``#`` comments.  A
  listed test that fails is reported as xfailed; a listed test that passes
  fails; a line matching no test fails the run (checked when the whole suite
  is collected).  ``--no-required-failures`` forbids listing Required tests.
* **Results** (CONF-27): at the end of the session a JSON record of every test
  (id, level, outcome, message, feature tags, producer, consumer) goes to
  ``conformance/reports/last-run/<label>.json``; ``report`` and
  ``update_expected_failures`` read it.

Tests talk to the implementation through the ``check`` fixture (:class:`Check`),
which turns :class:`Unsupported` into a skip and crashes into failures that say so.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import importlib
import json
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from typing import Callable, Iterable, Optional

import pytest
from hypothesis import HealthCheck, settings

from . import fixtures as fixtures_mod
from .adapter import Adapter, AdapterCrash, AdapterTimeout, ImplementationError, Unsupported

__all__ = ["Check", "ConformanceRun", "LEVELS"]

LEVELS = ("Required", "Recommended")
ENTRY_POINT_GROUP = "tfckpt_conformance"
SUITE_DIR_ENV = "TFCKPT_CONFORMANCE_SUITE"

# -- hypothesis profiles (CONF-29) -------------------------------------------------
# "default" keeps the whole suite under a minute on two cores and is
# derandomized, so expected-failure files are stable; "thorough" explores.
settings.register_profile(
    "default",
    max_examples=6,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                           HealthCheck.function_scoped_fixture],
    print_blob=True,
)
settings.register_profile(
    "thorough",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                           HealthCheck.function_scoped_fixture],
    print_blob=True,
)
settings.load_profile(os.environ.get("TFCKPT_CONFORMANCE_PROFILE", "default"))

_RUN_KEY = pytest.StashKey["ConformanceRun"]()
_ID_KEY = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tfckpt-conformance", "tfckpt conformance suite")
    group.addoption("--impl", default=None,
                    help="implementation under test, in-process: an entry point name of group "
                         "'tfckpt_conformance' (e.g. 'reference') or 'package.module:AdapterClass'")
    group.addoption("--impl-cmd", default=None,
                    help="implementation under test, out of process: a command speaking the protocol "
                         "of spec/conformance.md, e.g. \"node adapter.js\"")
    group.addoption("--impl-name", default=None,
                    help="label for expected failures and results (default: entry point or adapter name)")
    group.addoption("--impl-timeout", type=float, default=30.0, help="seconds allowed per protocol request")
    group.addoption("--fixture-dir", default=None,
                    help="fixture directory holding manifest.json (default: <rootdir>/fixtures/tf-2.21.0)")
    group.addoption("--expected-failures", default=None,
                    help="expected-failure file (default: conformance/expected-failures/<label>.txt if present)")
    group.addoption("--results", default=None,
                    help="where to write the JSON results (default: conformance/reports/last-run/<label>.json)")
    group.addoption("--level", choices=("Required", "Recommended", "all"), default="all",
                    help="run only tests of this level")
    group.addoption("--trusted-reader", action="append", default=None,
                    help="consumer that judges written checkpoints: 'reference' (always), 'tensorflow' "
                         "(default when TensorFlow is importable); repeatable")
    group.addoption("--fixtures-via", choices=("local", "http", "memory"), default="local",
                    help="hand the golden fixtures to the implementation as local paths (default), as http:// URLs "
                         "of a local Range-capable server, or as memory:// URLs (fsspec; in-process adapters only)")
    group.addoption("--no-required-failures", action="store_true", default=False,
                    help="refuse expected-failure entries for Required tests (the bar TensorFlow must meet)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "spec(*ids): the spec requirement ids (e.g. IDX-4) a test checks")
    config.addinivalue_line("markers", "conformance(base, level): the test's conformance id base and level")
    config.addinivalue_line("markers", "judged_by(name): the trusted reader that judges the test (\"consumer\": "
                                       "its consumer parameter); not run when the implementation is that reader")
    if config.pluginmanager.hasplugin("xdist") and getattr(config.option, "numprocesses", None):
        raise pytest.UsageError("the conformance suite drives one implementation process; run it without -n")
    run = ConformanceRun(config)
    config.stash[_RUN_KEY] = run


def pytest_report_header(config: pytest.Config) -> list[str]:
    run = config.stash.get(_RUN_KEY, None)
    if run is None:
        return []
    return run.header()


def _run(config: pytest.Config) -> "ConformanceRun":
    return config.stash[_RUN_KEY]


# -- the implementation and the trusted readers -------------------------------------


def _load_in_process(spec: str) -> tuple[Adapter, str]:
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
        cls = getattr(importlib.import_module(module_name), attr)
        adapter = cls()
        return adapter, adapter.name
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == spec:
            return ep.load()(), spec
    builtin = {
        "reference": "tfckpt_conformance.adapters.reference:ReferenceAdapter",
        "tensorflow": "tfckpt_conformance.adapters.tensorflow:TensorFlowAdapter",
    }
    if spec in builtin:  # running from a source tree without installed entry points
        adapter, _ = _load_in_process(builtin[spec])
        return adapter, spec
    raise pytest.UsageError(f"--impl {spec!r}: no entry point of group {ENTRY_POINT_GROUP!r} has that name, "
                            f"and it is not of the form module:Class")


def tensorflow_available() -> bool:
    """Whether TensorFlow is installed (a real package, not a directory named ``tensorflow`` on the path)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("tensorflow")
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin is not None and spec.origin.endswith("__init__.py")


@dataclass
class ExpectedFailures:
    """An expected-failure file: ``<test id or fnmatch pattern>  # comment`` per line.

    A line starting with ``?`` marks tests that *may* fail: their outcome
    depends on generated examples (hypothesis) and can differ between
    environments. Such a test may pass without failing the run; the line must
    still match some test.
    """

    path: Optional[str]
    entries: list[tuple[int, str, str]] = field(default_factory=list)  # (line number, pattern, comment)
    may_fail: set[int] = field(default_factory=set)  # line numbers of '?' entries

    @classmethod
    def load(cls, path: Optional[str]) -> "ExpectedFailures":
        if path is None or not os.path.exists(path):
            return cls(path)
        entries = []
        may_fail: set[int] = set()
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                text, _, comment = line.partition("#")
                text = text.strip()
                if text.startswith("?"):
                    text = text[1:].strip()
                    may_fail.add(number)
                if text:
                    entries.append((number, text, comment.strip()))
        return cls(path, entries, may_fail)

    def match(self, test_id: str) -> Optional[tuple[int, str, str]]:
        for entry in self.entries:
            if fnmatch.fnmatchcase(test_id, entry[1]):
                return entry
        return None


class ConformanceRun:
    """Session state: the adapter, trusted readers, fixtures, expected failures, results."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.rootdir = str(config.rootpath)
        opt = config.getoption
        self.impl_spec = opt("--impl")
        self.impl_cmd = opt("--impl-cmd")
        if self.impl_spec and self.impl_cmd:
            raise pytest.UsageError("give --impl or --impl-cmd, not both")
        if not self.impl_spec and not self.impl_cmd:
            self.impl_spec = "reference"
        self.timeout = opt("--impl-timeout")
        self._adapter: Optional[Adapter] = None
        self._label = opt("--impl-name")
        if self._label is None and self.impl_spec and ":" not in self.impl_spec:
            self._label = self.impl_spec
        fixtures_dir = opt("--fixture-dir") or os.environ.get("TFCKPT_FIXTURES") or os.path.join(
            self.rootdir, "fixtures", "tf-2.21.0")
        self.fixtures = fixtures_mod.FixtureSet.load(fixtures_dir)
        self.remote = None
        if opt("--fixtures-via") != "local":
            from .remote_fixtures import RemoteFixtures

            self.remote = RemoteFixtures(opt("--fixtures-via"), fixtures_dir)
        self.level = opt("--level")
        wanted = opt("--trusted-reader")
        self.tf_available = tensorflow_available()
        if wanted is None:
            wanted = ["reference"] + (["tensorflow"] if self.tf_available else [])
        self.trusted_names = ["reference"] + [w for w in dict.fromkeys(wanted) if w != "reference"]
        self._trusted: dict[str, Adapter] = {}
        self.no_required_failures = opt("--no-required-failures")
        self.results: dict[str, dict] = {}
        self.unmatched: list[tuple[int, str, str]] = []
        self.full_run = False
        self.started = time.time()
        self.expected: Optional[ExpectedFailures] = None

    # The adapter starts lazily, so `pytest --collect-only` and `--help` need no implementation.
    @property
    def adapter(self) -> Adapter:
        if self._adapter is None:
            if self.impl_cmd:
                from .protocol import SubprocessAdapter

                try:
                    self._adapter = SubprocessAdapter(self.impl_cmd, timeout=self.timeout, cwd=self.rootdir)
                except AdapterCrash as exc:
                    raise pytest.UsageError(f"--impl-cmd {self.impl_cmd!r} did not start: {exc}") from None
            else:
                self._adapter, _ = _load_in_process(self.impl_spec)
        return self._adapter

    @property
    def label(self) -> str:
        if self._label is None:
            self._label = self.adapter.name
        return self._label

    def trusted(self, name: str) -> Adapter:
        """A trusted reader (consumer) by name, started on first use."""
        if name not in self._trusted:
            if name == "reference":
                self._trusted[name] = _load_in_process("tfckpt_conformance.adapters.reference:ReferenceAdapter")[0]
            elif name == "tensorflow":
                # Out of process: TensorFlow's import is slow and its logs noisy; keep both away.
                from .protocol import SubprocessAdapter

                env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
                self._trusted[name] = SubprocessAdapter(
                    [sys.executable, "-m", "tfckpt_conformance.server",
                     "tfckpt_conformance.adapters.tensorflow:TensorFlowAdapter"],
                    timeout=max(self.timeout, 60.0), env=env, cwd=self.rootdir)
            else:
                raise pytest.UsageError(f"unknown trusted reader {name!r} (known: reference, tensorflow)")
        return self._trusted[name]

    def environment_has(self, consumer: str) -> bool:
        if consumer == "reference":
            return True
        if consumer == "tensorflow":
            return "tensorflow" in self.trusted_names and self.tf_available
        return consumer in self.trusted_names

    def expected_failures(self) -> ExpectedFailures:
        if self.expected is None:
            path = self.config.getoption("--expected-failures")
            if path is None:
                path = os.path.join(self.rootdir, "conformance", "expected-failures", f"{self.label}.txt")
            self.expected = ExpectedFailures.load(path)
        return self.expected

    def results_path(self) -> str:
        return self.config.getoption("--results") or os.path.join(
            self.rootdir, "conformance", "reports", "last-run", f"{self.label}.json")

    def header(self) -> list[str]:
        how = f"--impl-cmd {self.impl_cmd!r}" if self.impl_cmd else f"--impl {self.impl_spec}"
        lines = [f"tfckpt conformance: implementation {how}; fixtures {self.fixtures.describe()}"]
        tf_note = "available" if self.tf_available else "NOT installed: tests judged by TensorFlow are skipped"
        lines.append(f"tfckpt conformance: trusted readers {', '.join(self.trusted_names)}; "
                     f"environment capability tensorflow: {tf_note}")
        return lines

    def close(self) -> None:
        for adapter in [self._adapter, *self._trusted.values()]:
            if adapter is not None:
                try:
                    adapter.close()
                except Exception:  # closing must not hide the run's outcome
                    pass


# -- collection: ids, levels, expected-failure matching ----------------------------------


def conformance_id(item: pytest.Item) -> Optional[str]:
    return item.stash.get(_ID_KEY, None)


def _compute_id(item: pytest.Item) -> Optional[str]:
    marker = item.get_closest_marker("conformance")
    if marker is None:
        return None
    base = marker.args[0]
    level = marker.kwargs.get("level", "Required")
    if level not in LEVELS:
        raise pytest.UsageError(f"{item.nodeid}: unknown level {level!r}")
    callspec = getattr(item, "callspec", None)
    parts = []
    if callspec is not None:
        # Fixture cases first (by their manifest id), then other parameters by name.
        params = sorted(callspec.params.items(), key=lambda kv: (not hasattr(kv[1], "kind"), kv[0]))
        for _, value in params:
            parts.append(str(getattr(value, "id", value)))
    return ".".join([level, base, *parts])


def _suite_modules(config: pytest.Config) -> set[str]:
    suite = os.environ.get(SUITE_DIR_ENV) or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests")
    suite = os.path.abspath(suite)
    if not os.path.isdir(suite):
        return set()
    return {os.path.join(suite, n) for n in os.listdir(suite) if n.startswith("test_") and n.endswith(".py")}


@pytest.hookimpl(tryfirst=True)
def _judge(item: pytest.Item) -> Optional[str]:
    """The trusted reader named by ``item``'s ``judged_by`` mark (``"consumer"``: its consumer parameter)."""
    mark = item.get_closest_marker("judged_by")
    if mark is None:
        return None
    if mark.args[0] == "consumer":
        callspec = getattr(item, "callspec", None)
        return callspec.params.get("consumer") if callspec is not None else None
    return mark.args[0]


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    run = _run(config)
    # An implementation judged by itself is RoundTrip.ImplToImpl, not a trusted reader's verdict:
    # such tests are not collected for it (rather than skipped, which would look like a gap).
    judged = [item for item in items if _judge(item) is not None]
    if judged:
        own = [item for item in judged if _judge(item) == run.label]
        if own:
            config.hook.pytest_deselected(items=own)
            items[:] = [item for item in items if item not in own]
    seen: dict[str, str] = {}
    for item in items:
        cid = _compute_id(item)
        if cid is None:
            continue
        if cid in seen:
            raise pytest.UsageError(f"duplicate conformance id {cid!r}: {seen[cid]} and {item.nodeid}")
        seen[cid] = item.nodeid
        item.stash[_ID_KEY] = cid
        item.user_properties.append(("conformance_id", cid))
    collected_modules = {os.path.abspath(str(item.path)) for item in items}
    run.full_run = bool(collected_modules) and _suite_modules(config) <= collected_modules
    expected = run.expected_failures()
    matched = set()
    for cid in seen:
        entry = expected.match(cid)
        if entry is not None:
            matched.add(entry[0])
            if run.no_required_failures and cid.startswith("Required."):
                raise pytest.UsageError(
                    f"{expected.path}:{entry[0]}: {cid} is a Required test; this run "
                    f"(--no-required-failures) must pass every Required test")
    run.unmatched = [e for e in expected.entries if e[0] not in matched]
    if run.unmatched and run.full_run:
        lines = "\n".join(f"  {expected.path}:{n}: {p}" for n, p, _ in run.unmatched)
        raise pytest.UsageError(
            "expected-failure entries match no test (fix or remove them; "
            f"python -m tfckpt_conformance.update_expected_failures {run.label} rewrites the file):\n{lines}")
    if run.level != "all":
        keep, drop = [], []
        for item in items:
            cid = conformance_id(item)
            (keep if cid is None or cid.startswith(run.level + ".") else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep


# -- running: expected failures and result records ----------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    outcome = yield
    rep = outcome.get_result()
    cid = conformance_id(item)
    if cid is None or rep.when != "call":
        return
    run = _run(item.config)
    entry = run.expected_failures().match(cid)
    if entry is None:
        return
    where = f"{run.expected.path}:{entry[0]}"
    if rep.failed:
        rep.outcome = "skipped"
        rep.wasxfail = f"expected failure ({where})" + (f": {entry[2]}" if entry[2] else "")
    elif rep.passed and entry[0] not in run.expected.may_fail:
        rep.tfckpt_unexpected_pass = True
        rep.outcome = "failed"
        rep.longrepr = (f"{cid} passed but is listed as an expected failure at {where}; remove the line "
                        f"(python -m tfckpt_conformance.update_expected_failures {run.label})")


def _first_line(rep) -> str:
    if rep.passed:
        return ""
    if hasattr(rep, "wasxfail") and rep.outcome == "skipped" and rep.longrepr is None:
        return ""
    longrepr = rep.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # skip: (path, line, reason)
        return str(longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        return _head(crash.message)
    text = str(longrepr).strip()
    return text.splitlines()[-1] if text else ""


def _head(message: str, lines: int = 3) -> str:
    """The first lines of a failure message, joined (hypothesis' trailers dropped)."""
    kept = [ln.strip() for ln in message.strip().splitlines() if ln.strip()][:lines]
    return " | ".join(kept)


def pytest_runtest_logreport(report) -> None:
    props = dict(report.user_properties)
    cid = props.get("conformance_id")
    if cid is None:
        return
    record = None
    if report.when == "setup" and not report.passed:
        record = "skipped" if report.skipped else "error"
    elif report.when == "call":
        if report.passed:
            record = "passed"
        elif report.skipped:
            record = "xfailed" if hasattr(report, "wasxfail") else "skipped"
        elif getattr(report, "tfckpt_unexpected_pass", False):
            record = "xpassed"  # the test passed; the run fails because the list is stale
        else:
            record = "failed"
    if record is None:
        return
    results = _current_run.results if _current_run is not None else None
    if results is None:
        return
    message = _first_line(report)
    if record == "xfailed":
        longrepr = report.longrepr
        crash = getattr(longrepr, "reprcrash", None)
        message = _head(crash.message) if crash is not None else message
    results[cid] = {
        "id": cid,
        "level": cid.split(".", 1)[0],
        "outcome": record,
        "message": message[:500],
        "tags": sorted(props.get("tags", [])),
        "producer": props.get("producer"),
        "consumer": props.get("consumer"),
        "nodeid": report.nodeid,
    }


_current_run: Optional[ConformanceRun] = None


def pytest_sessionstart(session: pytest.Session) -> None:
    global _current_run
    _current_run = _run(session.config)


def pytest_sessionfinish(session: pytest.Session, exitstatus) -> None:
    global _current_run
    run = _run(session.config)
    _current_run = None
    try:
        if run.results and run._adapter is not None:
            path = run.results_path()
            os.makedirs(os.path.dirname(path), exist_ok=True)
            record = {
                "format": "tfckpt-conformance-results/1",
                "implementation": run.label,
                "adapter": run.adapter.describe(),
                "how": ("out-of-process: " + run.impl_cmd) if run.impl_cmd else ("in-process: " + run.impl_spec),
                "fixtures": run.fixtures.describe(),
                "trusted_readers": [n for n in run.trusted_names if run.environment_has(n)],
                "hypothesis_profile": settings._current_profile,
                "full_run": run.full_run,
                "level": run.level,
                "seconds": round(time.time() - run.started, 1),
                "tests": [run.results[k] for k in sorted(run.results)],
            }
            with open(path, "w", encoding="utf-8") as f:
                json.dump(record, f, indent=1, ensure_ascii=False)
                f.write("\n")
    finally:
        run.close()


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    run = config.stash.get(_RUN_KEY, None)
    if run is None or not run.results:
        return
    counts: dict[tuple[str, str], int] = {}
    for r in run.results.values():
        counts[(r["level"], r["outcome"])] = counts.get((r["level"], r["outcome"]), 0) + 1
    tr = terminalreporter
    tr.section(f"tfckpt conformance: {run.label}")
    for level in LEVELS:
        parts = [f"{counts.get((level, o), 0)} {o}" for o in ("passed", "failed", "xfailed", "skipped", "error")
                 if counts.get((level, o))]
        if parts:
            tr.write_line(f"{level}: " + ", ".join(parts))
    if run.unmatched and not run.full_run:
        tr.write_line(f"note: {len(run.unmatched)} expected-failure entries matched no collected test "
                      f"(not an error because only part of the suite was collected)")
    tr.write_line(f"results: {os.path.relpath(run.results_path(), run.rootdir)}")


# -- the per-test helper ---------------------------------------------------------------------------


class Check:
    """What a conformance test uses to call the implementation and record what it tested."""

    def __init__(self, request: pytest.FixtureRequest, run: ConformanceRun) -> None:
        self.request = request
        self.run = run
        self._props = request.node.user_properties

    @property
    def impl(self) -> Adapter:
        return self.run.adapter

    def _set(self, name: str, value) -> None:
        self._props[:] = [p for p in self._props if p[0] != name]
        self._props.append((name, value))

    def tags(self, tags: Iterable[str]) -> None:
        """Record the feature tags this test exercises (for the matrix report)."""
        current = dict(self._props).get("tags", [])
        self._set("tags", sorted(set(current) | set(tags)))

    def roles(self, *, producer: Optional[str] = None, consumer: Optional[str] = None) -> None:
        if producer is not None:
            self._set("producer", producer)
        if consumer is not None:
            self._set("consumer", consumer)

    def require(self, *operations: str, tags: Iterable[str] = (), adapter: Optional[Adapter] = None) -> None:
        """Skip unless the adapter offers ``operations`` and declares every gating tag in ``tags``."""
        tags = list(tags)
        self.tags(tags)
        adapter = adapter or self.impl
        missing_ops = [op for op in operations if not adapter.supports(op)]
        if missing_ops:
            pytest.skip(f"{adapter.name} does not offer {', '.join(missing_ops)}")
        missing = adapter.missing_features(tags)
        if missing:
            pytest.skip(f"{adapter.name} does not declare {', '.join(missing)}")

    def require_consumer(self, consumer: str) -> Adapter:
        """The trusted reader ``consumer``; a declared skip when the environment lacks it."""
        if not self.run.environment_has(consumer):
            pytest.skip(f"environment capability {consumer!r} absent (TensorFlow not installed "
                        f"or not chosen with --trusted-reader)")
        return self.run.trusted(consumer)

    def call(self, what: str, fn: Callable, *args, **kwargs):
        """Call the implementation: ``Unsupported`` -> skip, crash/timeout -> failure naming it."""
        try:
            return fn(*args, **kwargs)
        except Unsupported as exc:
            pytest.skip(f"implementation answered 'unsupported' to {what}: {exc}")
        except AdapterTimeout as exc:
            pytest.fail(f"TIMEOUT during {what}: {exc}", pytrace=False)
        except AdapterCrash as exc:
            pytest.fail(f"CRASH during {what}: {exc}", pytrace=False)
        except ImplementationError:
            raise
        except Exception as exc:  # an in-process adapter let an unexpected exception escape
            pytest.fail(f"CRASH during {what}: uncaught {type(exc).__name__}: {exc}", pytrace=False)

    def call_ok(self, what: str, fn: Callable, *args, **kwargs):
        """Like :meth:`call`, but a rejection is a failure too."""
        try:
            return self.call(what, fn, *args, **kwargs)
        except ImplementationError as exc:
            pytest.fail(f"{what} was rejected with {exc.reported_category}: {exc.message}", pytrace=False)

    def trusted_call(self, consumer: Adapter, what: str, fn: Callable, *args, **kwargs):
        """Call a trusted reader: its rejection of the implementation's output is the implementation's failure."""
        try:
            return fn(*args, **kwargs)
        except ImplementationError as exc:
            pytest.fail(f"trusted reader {consumer.name} rejected the output of {what}: "
                        f"{exc.reported_category}: {exc.message}", pytrace=False)
        except AdapterCrash as exc:
            pytest.fail(f"trusted reader {consumer.name} crashed on the output of {what}: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def conformance_run(pytestconfig: pytest.Config) -> ConformanceRun:
    return _run(pytestconfig)


@pytest.fixture
def check(request: pytest.FixtureRequest, conformance_run: ConformanceRun) -> Check:
    return Check(request, conformance_run)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize tests that ask for fixture cases (``golden_case``, ``invalid_case``, ...)."""
    run = metafunc.config.stash.get(_RUN_KEY, None)
    if run is None:
        return
    for argname, selector in fixtures_mod.CASE_ARGUMENTS.items():
        if argname in metafunc.fixturenames:
            cases = selector(run.fixtures)
            if run.remote is not None and argname == "golden_case":  # --fixtures-via http|memory
                cases = [dataclasses.replace(c, prefix=run.remote.url(c.prefix)) for c in cases]
            metafunc.parametrize(argname, cases, ids=[c.id for c in cases])


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(_RUN_KEY, None)
    if run is not None and run.remote is not None:
        run.remote.close()
