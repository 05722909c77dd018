"""Kill tests: run a writer in a child process, SIGKILL it at a chosen moment, judge what is left.

Strategy
--------
A writer is killed at ``points`` moments spread evenly over the time one
uninterrupted write takes (measured first), so the kills land in the data
file, the index, the renames and the state-file update alike.  After every
kill the directory must satisfy, whatever the moment (spec/errors.md §5):

* a prefix with an ``.index`` reads completely, checksums verified, as the
  old values or the new -- never a mix, never an error;
* ``latest_checkpoint`` names a complete checkpoint, or nothing;
* every other file is a recognisable leftover (``leftovers()``), and
  ``tfckpt.clean`` removes exactly those, after which the directory holds only
  complete checkpoints and the state file;
* ``check`` (optional) runs more judgement, e.g. TensorFlow reading the directory.

Writers are named by *mode*; each child writes ``NEW`` over a directory that
already holds ``OLD`` under the same prefix, the hardest case (PUB-2).  Two
modes differ: ``rewrite`` streams a ``NEW`` source checkpoint (kept outside the
judged directory) over ``OLD`` with :func:`tfckpt.rewrite`; ``rotate`` is a
:class:`tfckpt.CheckpointManager` with ``max_to_keep=2`` over ``ckpt-1`` and
``ckpt-2`` (``OLD``) saving ``ckpt-3`` (``NEW``), which deletes ``ckpt-1``: there
``ckpt-2`` must always stand, ``ckpt-1`` may be gone only once ``ckpt-3`` is
whole, and the state file names only checkpoints that read (STATE-31).
``TFCKPT_KILL_MB`` sets the size of the checkpoint (default 8; ``tox -e kill``
uses 100).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from typing import Callable, Optional

import numpy as np

import tfckpt
from tfckpt import errors
from tfckpt.bundle.publish import leftovers
from tfckpt.jobs.clean import STATE_TEMP_PATTERN

MODES = ("save", "sharded", "v1", "state", "rewrite", "rotate")

#: The prefixes (basenames) a mode's directory holds, with the version each must read as.
ROTATION = {"ckpt-1": 0, "ckpt-2": 0, "ckpt-3": 1}


def values(version: int, megabytes: int) -> dict:
    """Deterministic tensors of about ``megabytes`` MB; ``version`` 0 is OLD, 1 is NEW."""
    n = max(1, megabytes * (1 << 20) // 4 // 4)
    return {f"t{i}": np.full(n, version * 10 + i, dtype=np.float32) for i in range(4)} | {
        "names": np.array([b"old" if version == 0 else b"new!"] * 3, dtype=object)}


def write(mode: str, prefix: str, tensors: dict) -> None:
    """One complete write of ``tensors`` at ``prefix`` by the writer ``mode``."""
    if mode == "save":
        tfckpt.save(prefix, tensors)
    elif mode == "sharded":
        keys = sorted(tensors)
        tfckpt.save_sharded(prefix, [{k: tensors[k] for k in keys[::2]}, {k: tensors[k] for k in keys[1::2]}])
    elif mode == "v1":
        tfckpt.write_v1(prefix, tensors)
    elif mode == "state":
        tfckpt.save(prefix, tensors)
        tfckpt.update_checkpoint_state(os.path.dirname(prefix), prefix, [prefix])
    elif mode == "rewrite":
        source = rewrite_source(prefix)
        if not os.path.exists(source + ".index"):
            tfckpt.save(source, tensors)
        tfckpt.rewrite(source, prefix)
    elif mode == "rotate":
        tfckpt.CheckpointManager(os.path.dirname(prefix), max_to_keep=2).save(tensors, checkpoint_number=3)
    elif mode == "writer":  # BundleWriter used directly (save goes through it; judged as save)
        with tfckpt.BundleWriter(prefix) as writer:
            for key in sorted(tensors):
                writer.add(key, tensors[key])
    else:
        raise ValueError(mode)


def rewrite_source(prefix: str) -> str:
    """Where the ``rewrite`` mode keeps its source: beside the judged directory, not in it."""
    directory = os.path.dirname(os.path.abspath(prefix))
    return os.path.join(os.path.dirname(directory), "rewrite-source-" + os.path.basename(directory), "src")


def prepare(mode: str, prefix: str, megabytes: int) -> None:
    """The directory before the write: ``OLD`` at ``prefix`` (a two-checkpoint series for ``rotate``)."""
    if mode == "rotate":
        manager = tfckpt.CheckpointManager(os.path.dirname(prefix), max_to_keep=2)
        for number in (1, 2):
            manager.save(values(0, megabytes), checkpoint_number=number)
        return
    write("save" if mode in ("rewrite", "state", "writer") else mode, prefix, values(0, megabytes))
    if mode == "state":
        tfckpt.update_checkpoint_state(os.path.dirname(prefix), prefix, [prefix])
    if mode == "rewrite":
        tfckpt.save(rewrite_source(prefix), values(1, megabytes))


_CHILD = textwrap.dedent("""
    import sys
    import killing
    mode, prefix, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print("ready", flush=True)
    sys.stdin.readline()
    killing.write(mode, prefix, killing.values(1, mb))
    print("finished", flush=True)
""")


def _child(mode: str, prefix: str, megabytes: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.abspath(__file__)), *sys.path]))
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, mode, prefix, str(megabytes)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "ready"  # imports done: the clock starts at the write
    return proc


def kill_at_step(kill_at: int, names=("replace", "rename", "remove", "unlink")) -> list:
    """Make this process SIGKILL itself right after its ``kill_at``-th call of ``os.<name>``
    (``kill_at`` 0: at the first call, before it acts); returns the list counting the calls."""
    calls = [0]

    def killing_after(real):
        def call(*args, **kwargs):
            if kill_at == 0:
                os.kill(os.getpid(), signal.SIGKILL)
            result = real(*args, **kwargs)
            calls[0] += 1
            if calls[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return result
        return call

    for name in names:
        setattr(os, name, killing_after(getattr(os, name)))
    return calls


def timed_write(mode: str, directory: str, megabytes: int) -> float:
    """Seconds one uninterrupted write takes in a child, over an existing OLD checkpoint."""
    os.makedirs(directory, exist_ok=True)
    prefix = os.path.join(directory, "ckpt")
    prepare(mode, prefix, megabytes)
    proc = _child(mode, prefix, megabytes)
    start = time.monotonic()
    proc.stdin.write("go\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "finished"
    elapsed = time.monotonic() - start
    _end(proc)
    return elapsed


def _end(proc: subprocess.Popen) -> None:
    proc.wait()
    for stream in (proc.stdin, proc.stdout):
        try:
            stream.close()
        except OSError:  # the pipe to a killed child
            pass


def read_checkpoint(prefix: str):
    """Every tensor of the checkpoint at ``prefix``, read with checksums verified; None when there is none."""
    try:
        with tfckpt.load_checkpoint(prefix) as reader:
            return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()}
    except errors.NotFoundError:
        return None


def same_values(got, expected) -> bool:
    return got is not None and sorted(got) == sorted(expected) and all(np.array_equal(got[k], expected[k]) for k in expected)


def _judge_prefix(mode: str, prefix: str, megabytes: int):
    """What ``prefix`` reads as: "old", "new" or "none" -- never anything else."""
    got = read_checkpoint(prefix)
    if got is None:
        assert mode != "v1", "a V1 file is replaced by one rename: the old or the new must stand"
        return "none", None
    if same_values(got, values(0, megabytes)):
        return "old", got
    assert same_values(got, values(1, megabytes)), f"{mode}: the checkpoint at {prefix} is neither the old nor the new one"
    return "new", got


def _judge_rotation(directory: str, megabytes: int) -> str:
    seen = {}
    for name, version in ROTATION.items():
        seen[name], _ = _judge_prefix("rotate", os.path.join(directory, name), megabytes)
        assert seen[name] in ("none", ("old", "new")[version]), f"{name} reads as {seen[name]}"
    assert seen["ckpt-2"] == "old", "rotation must never touch the checkpoint it keeps"
    assert seen["ckpt-1"] == "old" or seen["ckpt-3"] == "new", "ckpt-1 went before ckpt-3 was whole"
    state = tfckpt.get_checkpoint_state(directory)
    named = [state.model_checkpoint_path, *state.all_model_checkpoint_paths] if state else []
    for path in named:
        path = path if os.path.isabs(path) else os.path.join(directory, path)
        assert read_checkpoint(path) is not None, f"the state file names {path}, which does not read (STATE-31)"
    return "new" if seen["ckpt-3"] == "new" else "old"


def judge(mode: str, directory: str, megabytes: int, check: Optional[Callable[[str], None]] = None) -> str:
    """The invariants above; returns which checkpoint readers see: "old", "new" or "none"."""
    mode = "save" if mode == "writer" else mode
    prefix = os.path.join(directory, "ckpt")
    if mode == "rotate":
        seen, names = _judge_rotation(directory, megabytes), list(ROTATION)
    else:
        seen, names = _judge_prefix(mode, prefix, megabytes)[0], ["ckpt"]
    latest = tfckpt.latest_checkpoint(directory)
    if latest is not None:
        assert read_checkpoint(latest) is not None, f"latest_checkpoint names {latest}, which does not read"
    if check is not None:
        check(directory)
    final = {"checkpoint"} | {n for n in os.listdir(directory) for p in names
                              if n in (p, p + ".index") or n.startswith(p + ".data-")}
    rest = sorted(os.path.join(directory, n) for n in set(os.listdir(directory)) - final)
    expected_left = leftovers(directory, extra_patterns=[STATE_TEMP_PATTERN])
    for path in rest:
        assert path in expected_left or os.path.isdir(path), f"unrecognisable file {path} after a kill"
    before = {p: read_checkpoint(os.path.join(directory, p)) for p in names}
    tfckpt.clean(directory)
    assert leftovers(directory, extra_patterns=[STATE_TEMP_PATTERN]) == []
    for p, was in before.items():
        after = read_checkpoint(os.path.join(directory, p))
        assert (after is None) == (was is None) and (after is None or same_values(after, was)), f"clean changed {p}"
    return seen


def kill_campaign(mode: str, base: str, *, points: int = 50, megabytes: Optional[int] = None,
                  check: Optional[Callable[[str], None]] = None) -> dict:
    """Kill ``mode``'s write at ``points`` moments; returns how often readers saw old/new/none."""
    megabytes = megabytes or int(os.environ.get("TFCKPT_KILL_MB", "8"))
    # The fastest of three uninterrupted writes: a single timing taken during a load spike would
    # spread the kills past the end of the (faster) writes, and none would land inside them.
    duration = min(timed_write(mode, os.path.join(base, f"timing-{k}"), megabytes) for k in range(3))
    seen = {"old": 0, "new": 0, "none": 0}
    for i in range(points):
        directory = os.path.join(base, f"kill-{i:03d}")
        os.makedirs(directory)
        prefix = os.path.join(directory, "ckpt")
        prepare(mode, prefix, megabytes)
        proc = _child(mode, prefix, megabytes)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        time.sleep(duration * (i + 0.5) / points)
        proc.send_signal(signal.SIGKILL)
        _end(proc)
        seen[judge(mode, directory, megabytes, check)] += 1
        for folder in (directory, os.path.dirname(rewrite_source(prefix))):  # free the disk as we go
            for name in os.listdir(folder) if os.path.isdir(folder) else ():
                path = os.path.join(folder, name)
                if os.path.isfile(path):
                    os.remove(path)
    return seen


_STEP_CHILD = textwrap.dedent("""
    import sys
    kill_at, mode, prefix, mb = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    import killing
    calls = killing.kill_at_step(kill_at)
    killing.write(mode, prefix, killing.values(1, mb))
    print("finished", calls[0])
""")


def kill_each_step(mode: str, base: str, *, megabytes: int = 1, most: int = 40,
                   check: Optional[Callable[[str], None]] = None) -> list:
    """Kill ``mode``'s write right after each of its renames and removals in turn (first at the
    first one, before it acts), judging each directory, until the write finishes; returns what
    readers saw after each kill.  Fails if the write takes more than ``most`` steps."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.abspath(__file__)), *sys.path]))
    seen = []
    for kill_at in range(most + 1):
        directory = os.path.join(base, f"step-{kill_at:02d}")
        os.makedirs(directory)
        prefix = os.path.join(directory, "ckpt")
        prepare(mode, prefix, megabytes)
        proc = subprocess.run([sys.executable, "-c", _STEP_CHILD, str(kill_at), mode, prefix, str(megabytes)],
                              capture_output=True, text=True, env=env, timeout=300)
        judged = judge(mode, directory, megabytes, check)
        if proc.returncode == 0:
            steps = int(proc.stdout.split()[-1])
            assert judged == "new", f"{mode} finished, yet readers see {judged}"
            assert kill_at == steps + 1 and steps >= 1, (kill_at, steps)  # every step was visited
            return seen
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        seen.append(judged)
    raise AssertionError(f"{mode} did not finish within {most} file-system steps")
