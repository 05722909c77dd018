"""Progress bars of the long commands (issue 12, point 5): on a terminal, a tqdm bar counting
bytes; with ``--quiet`` or without a terminal, nothing on stderr."""

import io
import os
import sys

import pytest

from tfckpt.cli.main import main

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "tf-2.21.0")
PREFIX = os.path.join(FIXTURES, "writer-mixed-dtypes", "ckpt")
#: A TF1 graph and checkpoint TensorFlow froze with outputs ["y"] (fixtures/cases/freeze.py).
FREEZE = os.path.join(FIXTURES, "freeze-tf1-ref-dense-conv-bn", "model.ckpt")


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _commands(tmp_path):
    return {
        "verify": ["verify", PREFIX],
        "diff": ["diff", PREFIX, PREFIX],
        "convert": ["convert", PREFIX, str(tmp_path / "out.npz")],
        "rewrite": ["rewrite", PREFIX, str(tmp_path / "re" / "ckpt")],
        "freeze": ["freeze", FREEZE, "--outputs", "y", "-o", str(tmp_path / "frozen.pb")],
    }


@pytest.mark.parametrize("command", ["verify", "diff", "convert", "rewrite", "freeze"])
def test_a_terminal_gets_a_bar(tmp_path, monkeypatch, command):
    pytest.importorskip("tqdm")  # the optional extra tfckpt[progress]; tox's test env installs it
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(_commands(tmp_path)[command]) == 0
    shown = terminal.getvalue()
    assert command in shown and ("B/s" in shown or "100%" in shown), shown


@pytest.mark.parametrize("command", ["verify", "convert", "rewrite", "freeze"])
def test_quiet_or_no_terminal_is_silent(tmp_path, monkeypatch, capsys, command):
    argv = _commands(tmp_path)[command]
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert main([argv[0], "--quiet", *argv[1:]]) == 0
    assert sys.stderr.getvalue() == ""
    monkeypatch.undo()
    assert main([argv[0], *argv[1:-1], argv[-1] + "2"] if command != "verify" else argv) == 0
    assert capsys.readouterr().err == ""
