"""The programs that run under the old producers' Python (3.6) stay in its grammar.

Strategy
--------
``fixtures/generate_old.py``, ``fixtures/fixturelib.py``, ``fixtures/old_venv.py`` and
``conformance/adapters/tf1/server.py`` run under Python 3.6 (TensorFlow 0.12, 1.4) or
3.7 (1.15), ``conformance/adapters/tcr/server.py`` under 3.8, and
``conformance/adapters/lineproto.py`` under all of them, where no test of this suite runs.  ``ast.parse`` with
``feature_version=(3, 6)`` refuses the later grammar (walrus, positional-only
parameters, parenthesized context managers, ...); the one 3.7 feature it lets
through, ``from __future__ import annotations``, is looked for by hand, and so are
the standard-library names 3.6 lacks that these programs would reach for.
"""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = ["fixtures/generate_old.py", "fixtures/fixturelib.py", "fixtures/old_venv.py", "conformance/adapters/tf1/server.py",
           "conformance/adapters/lineproto.py", "conformance/adapters/tcr/server.py"]


@pytest.mark.parametrize("path", SOURCES)
def test_python36_grammar(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        source = f.read()
    tree = ast.parse(source, filename=path, feature_version=(3, 6))
    futures = [a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "__future__" for a in n.names]
    assert "annotations" not in futures, f"{path}: from __future__ import annotations needs Python 3.7"
    imported = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not imported & {"dataclasses", "contextvars", "importlib.resources", "importlib.metadata"}, path
    calls = {kw.arg for n in ast.walk(tree) if isinstance(n, ast.Call) for kw in n.keywords}
    assert not calls & {"capture_output", "text"}, f"{path}: subprocess.run(capture_output=, text=) needs Python 3.7"
