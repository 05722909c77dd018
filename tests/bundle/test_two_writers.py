"""Two writers saving one prefix at once (PUB-8): the last publish wins whole, never a mix.

The failure the issue describes: writer A renames its data file into place and, before its
index follows, writer B saves the same prefix; A's index then lands beside B's data.  Here
A is paused deterministically right after its data rename (it waits for a line on stdin);
B is started and the test waits until B either finished (no serialisation: the mix follows)
or is blocked waiting for the directory's lock (``/proc/locks`` lists the waiter) -- no
clock decides anything.  Then A goes on.  The prefix must read, checksums verified, as B's
checkpoint: A published first, B after it.
"""

import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import tfckpt

from killing import read_checkpoint, same_values

A = {"w": np.full(1000, 1.0, np.float32), "s": np.array([b"writer A"], dtype=object)}
B = {"w": np.full(1000, 2.0, np.float32), "s": np.array([b"writer B, longer"], dtype=object)}

_CHILD = textwrap.dedent("""
    import os, sys
    import numpy as np
    import tfckpt
    which, prefix = sys.argv[1], sys.argv[2]
    real_replace = os.replace
    def pausing_replace(source, target, *args, **kwargs):
        real_replace(source, target, *args, **kwargs)
        if which == "A" and str(target).endswith(".data-00000-of-00001"):
            print("paused", flush=True)
            sys.stdin.readline()
    os.replace = pausing_replace
    value = 1.0 if which == "A" else 2.0
    text = b"writer A" if which == "A" else b"writer B, longer"
    tfckpt.save(prefix, {"w": np.full(1000, value, np.float32), "s": np.array([text], dtype=object)})
    print("finished", flush=True)
""")


def _start(which: str, prefix: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.Popen([sys.executable, "-c", _CHILD, which, prefix], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)


def _waiting_for_a_lock(pid: int) -> bool:
    with open("/proc/locks") as handle:
        return any(" -> " in line and f" {pid} " in line for line in handle)


@pytest.mark.skipif(not os.path.exists("/proc/locks"), reason="needs Linux's /proc/locks to see a lock waiter")
def test_a_second_writer_of_one_prefix_waits_and_wins_whole(tmp_path):
    prefix = str(tmp_path / "ckpt")
    tfckpt.save(prefix, {"w": np.zeros(1000, np.float32), "s": np.array([b"old"], dtype=object)})
    a = _start("A", prefix)
    assert a.stdout.readline().strip() == "paused"  # A's data file is in place; its index is not
    b = _start("B", prefix)
    while b.poll() is None and not _waiting_for_a_lock(b.pid):
        time.sleep(0.01)  # polling a state, not timing anything
    a.stdin.write("go\n")
    a.stdin.flush()
    for proc in (a, b):
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0 and out.strip().endswith("finished")
    assert same_values(read_checkpoint(prefix), B)
    assert sorted(os.listdir(tmp_path)) == ["ckpt.data-00000-of-00001", "ckpt.index"]
