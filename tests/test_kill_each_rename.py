"""A kill right after each rename (and each removal) every writer does, judged as the kill tests judge.

The issue that asked for the publish order (issue 16) found its failures by pausing a
writer right after it renamed the data file into place and killing it there; random
kills (test_kill.py) almost never land in that window.  Here each writer runs in a
child whose ``os.replace``, ``os.rename``, ``os.remove`` and ``os.unlink`` SIGKILL the
process right after their N-th call (N = 0: at the first call, before it acts), for
N = 0, 1, 2, ... until the writer finishes -- so every state between two file-system
steps is visited, deterministically.  Each is judged by :func:`killing.judge`: the
prefix reads whole as the old values or the new (never an index beside another save's
data), ``latest_checkpoint`` names a checkpoint that reads, the state file names no
checkpoint that is gone (STATE-31), every other file is a recognisable leftover that
``tfckpt.clean`` removes.  Every writer runs over an existing checkpoint of the same
prefix (the state-file mode: one the state file names), the hardest case (PUB-2).
"""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

import killing

#: killing's writers, plus BundleWriter used directly (save goes through it, but it is public).
MODES = (*killing.MODES, "writer")
MB = 1

_CHILD = textwrap.dedent("""
    import sys
    kill_at, mode, prefix, mb = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    import killing, tfckpt
    calls = killing.kill_at_step(kill_at)
    new = killing.values(1, mb)
    if mode == "writer":
        with tfckpt.BundleWriter(prefix) as writer:
            for key in sorted(new):
                writer.add(key, new[key])
    else:
        killing.write(mode, prefix, new)
    print("finished", calls[0])
""")


def _run(kill_at: int, mode: str, prefix: str):
    """The writer killed at its ``kill_at``-th step; the number of steps if it finished, else None."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.abspath(__file__)), *sys.path]))
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(kill_at), mode, prefix, str(MB)],
                          capture_output=True, text=True, env=env, timeout=300)
    if proc.returncode == 0:
        return int(proc.stdout.split()[-1])
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    return None


@pytest.mark.parametrize("mode", MODES)
def test_a_kill_right_after_each_rename_leaves_old_new_or_nothing(tmp_path, mode):
    seen = []
    for kill_at in range(0, 40):
        directory = tmp_path / f"k{kill_at:02d}"
        directory.mkdir()
        prefix = str(directory / "ckpt")
        killing.prepare("save" if mode == "writer" else mode, prefix, MB)
        steps = _run(kill_at, mode, prefix)
        judged = killing.judge("save" if mode == "writer" else mode, str(directory), MB)
        if steps is not None:
            assert judged == "new", f"{mode} finished, yet readers see {judged}"
            break
        seen.append(judged)
    else:
        pytest.fail(f"{mode} did not finish within 40 file-system steps")
    assert kill_at == steps + 1 and steps >= 1  # every step was visited, then the write finished
    assert seen[0] == "old", f"{mode}: a kill before the first rename must leave the old checkpoint ({seen})"
