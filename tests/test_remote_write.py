"""Writing to fsspec URLs and filesystem objects (tfckpt/storage.py; spec/storage.md STORE-5..7).

What is checked, and against what:

* bytes: a checkpoint, a V1 file, a state file and a converted file written to a URL are
  byte-for-byte the files the same call writes locally (the local writers are checked
  against TensorFlow's bytes elsewhere; the upload must not change a byte);
* order: the storage operations an upload performs are recorded; every file is complete
  under a temporary name before the old index goes, data files move before the index;
* failure: an upload that fails at its k-th storage operation, for every k, leaves the old
  checkpoint readable with its old values, or no index at all -- never an index beside
  another save's data -- and no temporary file, and raises a tfckpt error;
* refusals: HTTP (no write, move or delete) and the writers that stay local, before
  anything is created;
* filesystem objects: ``filesystem=`` and ``storage.fs_url`` reach the same files, and the
  graph readers (``.meta``, SavedModel) read through URLs as the checkpoint readers do.
"""

import os

import numpy as np
import pytest

import tfckpt
from tfckpt import errors, storage
from tfckpt.jobs.convert import convert

fsspec = pytest.importorskip("fsspec", reason="optional extra tfckpt[remote]")
from fsspec.implementations.memory import MemoryFileSystem  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "tf-2.21.0")

OLD = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "s": np.array([b"old"], dtype=object)}
NEW = {"w": -np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(4, np.int64)}


class RecordingFS(MemoryFileSystem):
    """A memory file system of its own (not the shared store) that logs writes and can fail."""

    protocol = ("recmem",)
    store: dict = {}
    pseudo_dirs = [""]
    log: list = []
    fail_at = None

    @classmethod
    def _strip_protocol(cls, path):
        if path.startswith("recmem://"):
            path = path[len("recmem://"):]
        return super()._strip_protocol(path)

    def _step(self, op, *paths):
        RecordingFS.log.append((op, *paths))
        if RecordingFS.fail_at is not None and len(RecordingFS.log) == RecordingFS.fail_at:
            raise OSError(f"injected failure at {op}")

    def put_file(self, lpath, rpath, **kwargs):
        self._step("put", self._strip_protocol(rpath))
        return super().put_file(lpath, rpath, **kwargs)

    def mv(self, path1, path2, **kwargs):
        self._step("mv", self._strip_protocol(path1), self._strip_protocol(path2))
        return super().mv(path1, path2, **kwargs)

    def rm_file(self, path):
        self._step("rm", self._strip_protocol(path))
        return super().rm_file(path)


@pytest.fixture
def recfs():
    RecordingFS.store.clear()
    RecordingFS.pseudo_dirs[:] = [""]
    RecordingFS.log.clear()
    RecordingFS.fail_at = None
    fsspec.register_implementation("recmem", RecordingFS, clobber=True)
    fs = RecordingFS()
    yield fs
    RecordingFS.fail_at = None


def _files(fs, directory):
    return {os.path.basename(p): fs.cat_file(p) for p in fs.ls(directory, detail=False)}


def _local_files(directory):
    files = {}
    for name in os.listdir(directory):
        with open(os.path.join(directory, name), "rb") as handle:
            files[name] = handle.read()
    return files


def test_a_checkpoint_written_to_a_url_is_the_local_bytes(recfs, tmp_path):
    """STORE-5: save, save_sharded, BundleWriter (with a slice) and write_v1 to a URL."""
    local = tmp_path / "local"
    tfckpt.save(str(local / "ckpt"), NEW)
    tfckpt.save("recmem://out/ckpt", NEW)
    tfckpt.save_sharded(str(local / "sh"), [NEW, {"s": OLD["s"]}])
    tfckpt.save_sharded("recmem://out/sh", [NEW, {"s": OLD["s"]}])
    for prefix in (str(local / "bw"), "recmem://out/bw"):
        with tfckpt.BundleWriter(prefix) as writer:
            writer.add_slice("emb", [4, 2], "0,2:-", np.ones((2, 2), np.float32))
            writer.add_slice("emb", [4, 2], "2,2:-", np.zeros((2, 2), np.float32))
    tfckpt.write_v1(str(local / "v1.ckpt"), NEW)
    tfckpt.write_v1("recmem://out/v1.ckpt", NEW)
    assert _files(recfs, "/out") == _local_files(local)
    assert not [p for p in os.listdir("/tmp") if p.startswith("tfckpt-staging-")]  # staging removed
    with tfckpt.load_checkpoint("recmem://out/bw") as reader:
        np.testing.assert_array_equal(reader.get_tensor("emb"), np.r_[np.ones((2, 2)), np.zeros((2, 2))])


def test_state_file_and_converted_files_written_to_a_url_are_the_local_bytes(recfs, tmp_path):
    source = str(tmp_path / "src" / "ckpt")
    tfckpt.save(source, NEW)
    # A URL directory is not absolute to os.path.isabs, so TensorFlow's generate_checkpoint_state_proto
    # (tensorflow/python/checkpoint/checkpoint_management.py) stores paths relative to it, as locally
    # for a relative directory: the same text.
    tfckpt.update_checkpoint_state("recmem://out", "recmem://out/ckpt-3", ["recmem://out/ckpt-2", "recmem://out/ckpt-3"])
    local_state = 'model_checkpoint_path: "ckpt-3"\nall_model_checkpoint_paths: "ckpt-2"\nall_model_checkpoint_paths: "ckpt-3"\n'
    os.makedirs(tmp_path / "out")
    (tmp_path / "out" / "checkpoint").write_text(local_state)
    for name in ("m.npz", "m.safetensors"):
        convert(source, str(tmp_path / "out" / name))
        convert(source, "recmem://out/" + name)
    assert _files(recfs, "/out") == _local_files(tmp_path / "out")


def test_upload_publishes_in_order(recfs):
    """STORE-6: temporaries complete, old index deleted, data moved, index moved last."""
    tfckpt.save("recmem://d/ckpt", OLD)
    RecordingFS.log.clear()
    tfckpt.save_sharded("recmem://d/ckpt", [NEW, {"extra": np.zeros(1)}])
    ops = [entry[0] for entry in RecordingFS.log]
    puts = [i for i, op in enumerate(ops) if op == "put"]
    assert len(puts) == 3 and puts == list(range(3))
    assert all(".tempstate" in RecordingFS.log[i][1] for i in puts)
    assert RecordingFS.log[3] == ("rm", "/d/ckpt.index")
    moves = [entry for entry in RecordingFS.log if entry[0] == "mv"]
    assert [os.path.basename(m[2]) for m in moves] == [
        "ckpt.data-00000-of-00002", "ckpt.data-00001-of-00002", "ckpt.index"]
    assert ("rm", "/d/ckpt.data-00000-of-00001") in RecordingFS.log  # the old save's data file (PUB-5)
    assert sorted(_files(recfs, "/d")) == ["ckpt.data-00000-of-00002", "ckpt.data-00001-of-00002", "ckpt.index"]


def _state_after_failure_at(step: int):
    RecordingFS.store.clear()
    RecordingFS.pseudo_dirs[:] = [""]
    RecordingFS.fail_at = None
    tfckpt.save("recmem://d/ckpt", OLD)
    RecordingFS.log.clear()
    RecordingFS.fail_at = step
    try:
        tfckpt.save("recmem://d/ckpt", NEW)
        failed = False
    except errors.CheckpointError:
        failed = True
    RecordingFS.fail_at = None
    return failed


def test_an_upload_failing_at_any_step_leaves_old_new_or_no_checkpoint(recfs):
    RecordingFS.log.clear()
    tfckpt.save("recmem://probe/ckpt", NEW)
    steps = len(RecordingFS.log)
    # put data, put index (no old index to delete), mv data, mv index -- each mv of the memory
    # file system also logs its own rm of the source: every one of them is a step to fail at.
    assert [e[0] for e in RecordingFS.log if e[0] != "rm"] == ["put", "put", "mv", "mv"]
    outcomes = set()
    for step in range(1, steps + 3):
        failed = _state_after_failure_at(step)
        names = sorted(os.path.basename(p) for p in recfs.ls("/d", detail=False))
        assert not [n for n in names if ".tempstate" in n], (step, names)
        if "ckpt.index" not in names:
            outcomes.add("none")
            continue
        with tfckpt.load_checkpoint("recmem://d/ckpt") as reader:
            got = {k: reader.get_tensor(k) for k in reader.keys()}
        want = NEW if set(got) == set(NEW) else OLD
        outcomes.add("new" if want is NEW else "old")
        assert set(got) == set(want), step
        for key in want:
            assert list(np.ravel(got[key])) == list(np.ravel(want[key])), (step, key)
        assert failed == (want is OLD), step
    assert outcomes == {"old", "none", "new"}


def test_http_and_local_only_writers_refuse_before_creating_anything(recfs, tmp_path):
    with pytest.raises(errors.UnimplementedError, match="http:// storage has no write"):
        tfckpt.save("http://127.0.0.1:9/x/ckpt", OLD)  # the discard port: no request is made
    with pytest.raises(errors.UnimplementedError, match="http"):
        tfckpt.update_checkpoint_state("https://127.0.0.1:9/x", "ckpt")
    with pytest.raises(errors.UnimplementedError, match="CheckpointManager"):
        tfckpt.CheckpointManager("recmem://m")
    tfckpt.save(str(tmp_path / "a"), OLD)
    with pytest.raises(errors.UnimplementedError, match="merging"):
        tfckpt.merge_bundles([str(tmp_path / "a")], "recmem://m/merged")
    assert not recfs.exists("/m") and RecordingFS.log == []
    assert os.path.exists(tmp_path / "a.index")  # the input of the refused merge is untouched


def test_filesystem_objects_reach_the_same_files(recfs, tmp_path):
    """STORE-7: ``filesystem=`` on the readers and save; ``storage.fs_url`` for every entry point."""
    fs = fsspec.filesystem("memory")
    fs.pipe("/fsobj/placeholder", b"")
    tfckpt.save("/fsobj/ckpt-1", NEW, filesystem=fs)
    assert fs.exists("/fsobj/ckpt-1.index")
    url = storage.fs_url(fs, "/fsobj/ckpt-1")
    assert url.startswith("memory+fs") and storage.fs_url(fs, "/x").split("://")[0] == url.split("://")[0]
    tfckpt.update_checkpoint_state(storage.fs_url(fs, "/fsobj"), url)
    assert tfckpt.latest_checkpoint("/fsobj", filesystem=fs) == url
    assert tfckpt.list_variables("/fsobj/ckpt-1", filesystem=fs) == [("b", [4]), ("w", [2, 3])]
    with tfckpt.load_checkpoint("/fsobj", filesystem=fs) as reader:
        np.testing.assert_array_equal(reader.get_tensor("w"), NEW["w"])
    assert tfckpt.get_checkpoint_state("/fsobj", filesystem=fs).model_checkpoint_path == url
    with pytest.raises(errors.InvalidArgumentError, match="another process"):
        tfckpt.load_checkpoint("memory+fs999:///fsobj/ckpt-1")


def test_graphs_and_saved_models_read_through_urls(recfs):
    """Every reading entry point takes URLs: .meta, .pbtxt and SavedModel directories too."""
    fs = fsspec.filesystem("memory")
    cases = ["savedmodel-tf1-builder", "tf1-saver-partitioned-meta"]
    for case in cases:
        for root, _, files in os.walk(os.path.join(FIXTURES, case)):
            for name in files:
                local = os.path.join(root, name)
                with open(local, "rb") as f:
                    fs.pipe("/graphs/" + os.path.relpath(local, FIXTURES), f.read())
    checked = 0
    for case in cases:
        for root, dirs, files in os.walk(os.path.join(FIXTURES, case)):
            targets = [os.path.join(root, n) for n in files if n.endswith((".meta", ".pbtxt"))]
            if "saved_model.pb" in files:
                targets.append(root)
            for local in targets:
                url = "memory://graphs/" + os.path.relpath(local, FIXTURES)
                want, got = tfckpt.load_graph(local), tfckpt.load_graph(url)
                assert [(n.name, n.op) for n in got.nodes] == [(n.name, n.op) for n in want.nodes], url
                checked += 1
    assert checked >= 2
    sm = "memory://graphs/savedmodel-tf1-builder/saved_model"
    with tfckpt.load_checkpoint(sm) as got, tfckpt.load_checkpoint(os.path.join(FIXTURES, "savedmodel-tf1-builder", "saved_model")) as want:
        assert got.get_variable_to_shape_map() == want.get_variable_to_shape_map()
