"""Every ```python block of README.md runs as written (issue 12: the README's examples work).

The extractor is generic: each fenced ```python block is one test, run in a scratch
directory where ``fixtures`` links to this repository's fixtures (so examples use
fixture paths as written and their writes stay out of the repository).  A block
preceded by ``<!-- readme-test: requires tensorflow -->`` (or ``requires NAME`` for
an optional module) is collected here only when NAME imports; TensorFlow blocks run
in ``tests/tensorflow/`` (see ``readme_blocks(requires="tensorflow")``).
"""

import importlib.util
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BLOCK = re.compile(r"(?:<!--\s*readme-test:\s*requires\s+([\w.]+)\s*-->\s*\n)?```python\n(.*?)```", re.S)


def readme_blocks(requires=None):
    """``[(line number, required module or None, code)]`` of README.md's python blocks."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    found = []
    for match in _BLOCK.finditer(text):
        need = match.group(1)
        if (requires is None and need != "tensorflow") or (requires is not None and need == requires):
            found.append((text.count("\n", 0, match.start(2)) + 1, need, match.group(2)))
    return found


def run_block(code: str, workdir) -> None:
    os.symlink(os.path.join(ROOT, "fixtures"), os.path.join(workdir, "fixtures"))
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})
    finally:
        os.chdir(cwd)


BLOCKS = readme_blocks()


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("line, need, code", BLOCKS, ids=[f"line{b[0]}" for b in BLOCKS])
def test_readme_block_runs(line, need, code, tmp_path):
    if need is not None and importlib.util.find_spec(need) is None:
        pytest.skip(f"README block at line {line} needs the optional module {need}")
    run_block(code, str(tmp_path))
