"""The publish order (spec/errors.md §5, PUB-1..PUB-7): what a kill at each step leaves behind.

Each writer runs in a child process whose ``os.replace``/``os.remove`` SIGKILL the
process right after their N-th call, so every moment between two renames is
visited, deterministically.  After each kill the directory must read as the old
checkpoint whole, the new one whole, or (for a new prefix) no checkpoint at all;
never an index beside another save's data.  The expected values are the arrays
the test itself saved, not anything read back from the writer under test.
"""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tfckpt
from tfckpt import errors
from tfckpt.bundle.publish import leftovers

from killing import read_checkpoint, same_values

OLD = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([b"old"], dtype=object)}
NEW = {"a": -np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([b"new!"], dtype=object)}

_CHILD = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    import tfckpt
    import killing
    kill_after, mode, prefix = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    killing.kill_at_step(kill_after, ("replace", "remove"))
    new = {"a": -np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([b"new!"], dtype=object)}
    if mode == "save":
        tfckpt.save(prefix, new)
    elif mode == "sharded":
        tfckpt.save_sharded(prefix, [{"a": new["a"]}, {"b": new["b"]}])
    elif mode == "state":
        tfckpt.save(prefix, new)
        tfckpt.update_checkpoint_state(os.path.dirname(prefix), prefix)
    print("finished")
""")


def _run_child(kill_after: int, mode: str, prefix: str) -> bool:
    """Run the writer, killed after its ``kill_after``-th rename or removal; True if it finished."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                       *sys.path]))
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(kill_after), mode, prefix],
                          capture_output=True, text=True, env=env, timeout=120)
    if proc.returncode == 0:
        assert "finished" in proc.stdout
        return True
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    return False


@pytest.mark.parametrize("mode", ["save", "sharded"])
@pytest.mark.parametrize("overwrite", [False, True], ids=["new-prefix", "overwrite"])
def test_a_kill_after_any_rename_leaves_old_new_or_nothing(tmp_path, mode, overwrite):
    """PUB-1..PUB-5: visit every kill point of one save; a reader never meets a mix (ERR-1)."""
    for kill_after in range(1, 20):
        directory = tmp_path / f"k{kill_after}"
        prefix = str(directory / "ckpt")
        if overwrite:
            (tfckpt.save if mode == "save" else lambda p, t: tfckpt.save_sharded(p, [{"a": t["a"]}, {"b": t["b"]}]))(prefix, OLD)
        finished = _run_child(kill_after, mode, prefix)
        seen = read_checkpoint(prefix)
        if finished:
            assert same_values(seen, NEW)
            assert leftovers(str(directory)) == []
            break
        if seen is None:
            # between retiring the old index and publishing the new: only recognisable leftovers
            names = set(os.listdir(directory))
            assert "ckpt.index" not in names
        else:
            assert same_values(seen, OLD if overwrite else NEW) or same_values(seen, NEW)
        # whatever the kill left that is not a complete checkpoint, clean recognises and removes
        tfckpt.clean(str(directory))
        assert leftovers(str(directory)) == []
        after = read_checkpoint(prefix)
        assert (after is None and seen is None) or same_values(after, seen)
    else:
        pytest.fail("the writer never finished in 19 steps")
    assert kill_after >= 3  # the data file(s) and the index were each renamed under a kill


def test_state_file_never_names_a_checkpoint_a_kill_left_incomplete(tmp_path):
    """PUB-1 with the state file: latest_checkpoint is a complete checkpoint or None."""
    for kill_after in range(1, 12):
        directory = tmp_path / f"k{kill_after}"
        finished = _run_child(kill_after, "state", str(directory / "ckpt-1"))
        latest = tfckpt.latest_checkpoint(str(directory))
        if latest is not None:
            assert same_values(read_checkpoint(latest), NEW)
        if finished:
            assert latest is not None
            break


def test_index_slot_taken_by_a_directory_leaves_no_data_under_a_final_name(tmp_path):
    """PUB-2: the save fails before any data file takes its final name (it used to stay behind)."""
    prefix = str(tmp_path / "ckpt")
    os.mkdir(prefix + ".index")
    with pytest.raises(errors.FailedPreconditionError):
        tfckpt.save(prefix, NEW)
    assert sorted(os.listdir(tmp_path)) == ["ckpt.index"]


def test_overwriting_with_fewer_shards_removes_the_old_shards(tmp_path):
    """PUB-5: after publishing, data files of the prefix with another shard count are gone."""
    prefix = str(tmp_path / "ckpt")
    tfckpt.save_sharded(prefix, [{"a": OLD["a"]}, {"b": OLD["b"]}])
    tfckpt.save(prefix, NEW)
    assert sorted(os.listdir(tmp_path)) == ["ckpt.data-00000-of-00001", "ckpt.index"]
    assert same_values(read_checkpoint(prefix), NEW)


def test_a_reader_never_mixes_an_old_index_with_new_data(tmp_path):
    """PUB-7: a reader that opened the old index and meets the new data says ABORTED."""
    prefix = str(tmp_path / "ckpt")
    tfckpt.save(prefix, OLD)
    reader = tfckpt.load_checkpoint(prefix, verify_checksums=False)  # no checksum to catch a mix
    tfckpt.save(prefix, NEW)
    with pytest.raises(errors.AbortedError, match="replaced") as caught:
        reader.get_tensor("a")
    assert caught.value.file.endswith("ckpt.index")
    reader.close()
    with tfckpt.load_checkpoint(prefix) as reader:  # opened again: the new checkpoint
        assert np.array_equal(reader.get_tensor("a"), NEW["a"])


def test_a_reader_that_opened_its_data_before_the_replace_keeps_the_old_values(tmp_path):
    prefix = str(tmp_path / "ckpt")
    tfckpt.save(prefix, OLD)
    with tfckpt.load_checkpoint(prefix, verify_checksums=False) as reader:
        assert np.array_equal(reader.get_tensor("a"), OLD["a"])
        tfckpt.save(prefix, NEW)
        assert reader.get_tensor("b")[0] == b"old"


def test_clean_removes_only_what_is_recognisable(tmp_path):
    """PUB-6: temporaries, orphan data and unfinished sharded saves go; checkpoints stay."""
    keep = str(tmp_path / "keep")
    tfckpt.save(keep, OLD)
    junk = {
        "keep.index.tempstate123": b"x",
        "ckpt-9.data-00000-of-00001": b"orphan",
        "checkpoint.tmp" + "ab" * 16: b"state",
        os.path.join("ckpt-3_temp", "part-00000-of-00002.data-00000-of-00001"): b"part",
        os.path.join("ckpt-3_temp", "part-00000-of-00002.index"): b"part",
    }
    not_junk = ["notes.txt", "checkpoint.tmp", "ckpt-9.index.bak"]
    for name, body in junk.items():
        os.makedirs(os.path.dirname(tmp_path / name), exist_ok=True)
        (tmp_path / name).write_bytes(body)
    for name in not_junk:
        (tmp_path / name).write_bytes(b"mine")
    assert sorted(tfckpt.clean(str(tmp_path), dry_run=True)) == sorted(str(tmp_path / n) for n in junk)
    removed = tfckpt.clean(str(tmp_path))
    assert len(removed) == len(junk)
    assert sorted(os.listdir(tmp_path)) == sorted(["keep.index", "keep.data-00000-of-00001", *not_junk])
    assert same_values(read_checkpoint(keep), OLD)


def test_the_next_save_sweeps_old_temporary_files_only(tmp_path):
    """PUB-6: temporaries silent for an hour go with the next save; fresh ones (a live writer) stay."""
    stale = tmp_path / "x.data-00000-of-00001.tempstate42"
    fresh = tmp_path / "y.index.tempstate43"
    stale.write_bytes(b"s")
    fresh.write_bytes(b"f")
    an_hour_ago = os.stat(stale).st_mtime - 3700
    os.utime(stale, (an_hour_ago, an_hour_ago))
    tfckpt.save(str(tmp_path / "ckpt"), NEW)
    assert not stale.exists() and fresh.exists()


def test_every_writer_creates_a_missing_parent(tmp_path):
    """ERR-7: save, BundleWriter, save_sharded, write_v1 and update_checkpoint_state alike."""
    tfckpt.save(str(tmp_path / "a" / "x" / "ckpt"), NEW)
    tfckpt.save_sharded(str(tmp_path / "b" / "x" / "ckpt"), [{"a": NEW["a"]}])
    tfckpt.write_v1(str(tmp_path / "c" / "x" / "ckpt"), {"a": NEW["a"]})
    tfckpt.update_checkpoint_state(str(tmp_path / "d" / "x"), "ckpt-1")
    assert os.path.exists(tmp_path / "d" / "x" / "checkpoint")
    for sub in "abc":
        assert same_values(read_checkpoint(str(tmp_path / sub / "x" / "ckpt")), {"a": NEW["a"]} if sub != "a" else NEW)


def test_permission_denied_is_its_own_category(tmp_path, monkeypatch):
    """ERR-6: EACCES/EROFS are PERMISSION_DENIED (a PermissionError), nothing is left behind.

    The test injects the failure: it runs as root here, and root writes into read-only directories.
    """
    import errno as errno_module

    real_open = open

    def refusing_open(path, *args, **kwargs):
        if "tempstate" in os.fspath(path):
            raise PermissionError(errno_module.EACCES, "Permission denied", os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", refusing_open)
    with pytest.raises(errors.PermissionDeniedError) as caught:
        tfckpt.save(str(tmp_path / "ckpt"), NEW)
    assert isinstance(caught.value, PermissionError) and caught.value.category == "PERMISSION_DENIED"
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


@pytest.fixture
def tiny_filesystem(tmp_path):
    """A 1 MiB tmpfs mounted for the test (needs root and mount rights; skipped, saying why, without)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill: {proc.stderr.strip() or proc.returncode}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


def test_a_full_disk_is_resource_exhausted_and_leaves_nothing(tiny_filesystem):
    """ERR-6: ENOSPC on a real full file system; no file under a final name, no temporary left."""
    prefix = str(tiny_filesystem / "ckpt")
    tfckpt.save(prefix, OLD)
    big = {"a": np.ones(600_000, dtype=np.float32)}  # 2.4 MB into 1 MiB
    with pytest.raises(errors.ResourceExhaustedError) as caught:
        tfckpt.save(prefix, big)
    assert "ckpt" in str(caught.value)
    assert sorted(os.listdir(tiny_filesystem)) == ["ckpt.data-00000-of-00001", "ckpt.index"]
    assert same_values(read_checkpoint(prefix), OLD)  # the old checkpoint is whole
    with pytest.raises(errors.ResourceExhaustedError):
        tfckpt.write_v1(str(tiny_filesystem / "v1"), big)
    assert "v1" not in os.listdir(tiny_filesystem)
