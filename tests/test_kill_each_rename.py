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

import pytest

import killing

#: killing's writers, plus BundleWriter used directly (save goes through it, but it is public).
MODES = (*killing.MODES, "writer")


@pytest.mark.parametrize("mode", MODES)
def test_a_kill_right_after_each_rename_leaves_old_new_or_nothing(tmp_path, mode):
    seen = killing.kill_each_step(mode, str(tmp_path))
    assert seen[0] == "old", f"{mode}: a kill before the first rename must leave the old checkpoint ({seen})"
