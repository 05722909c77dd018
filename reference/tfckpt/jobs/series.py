"""Checkpoint series: save, rotate and preserve as ``tf.train.CheckpointManager`` and TF1's ``Saver`` do.

Spec: ``spec/state-file.md`` §9 (STATE-25..STATE-34).  TensorFlow's counterparts:
``CheckpointManager`` in ``tensorflow/python/checkpoint/checkpoint_management.py``
and ``Saver.save`` / ``_RecordLastCheckpoint`` / ``_MaybeDeleteOldCheckpoints`` in
``tensorflow/python/training/saver.py``.

Strategy
--------
A series is a directory of checkpoints ``<name>-<number>`` plus the state
file that lists them, newest last.  Each :meth:`CheckpointManager.save` writes
one checkpoint (through :func:`tfckpt.save`, so the publish order of
``tfckpt.bundle.publish`` holds), records it, decides which older ones go, and
deletes those.  The two TensorFlow writers differ, and both are offered::

                              style="manager" (TF2)              style="saver" (TF1)
    number when none given    a save counter (1, 2, ...)         none: the prefix is "<name>"
    state file                paths relative to the directory,   paths as given; no timestamps,
                              a timestamp each, and              no last_preserved_timestamp
                              last_preserved_timestamp
    max_to_keep=None / 0      keep every checkpoint              record only the newest, delete nothing
    rotation per save         every checkpoint beyond            at most one: the oldest beyond
                              max_to_keep                        max_to_keep
    preserved when            its time - N hours >=              its time > the next preservation
                              last preserved time                time (first: creation + N hours)
    keep_..._n_hours=None     no preservation                    10000 hours (TF1's default)
    files deleted             .index and .data-*                 .index, .data-* and .meta
    an existing directory     picked up from its state file      started afresh (TF1 ignores it)

Where TensorFlow's manager writes the state file, then deletes, then writes
it again, we write it once, with the deleted checkpoints already gone, and
delete after: the final bytes are the same and the state file never names a
checkpoint whose files are gone (STATE-31).  Files are deleted index first, so
a checkpoint stops being one before its data goes.  The read-modify-write of
the state file happens under :func:`tfckpt.state_file.state_lock`, so two
processes saving into one directory serialise; entries another process added
are merged in (by time), and entries whose index no longer exists are dropped.

Time comes from ``clock`` (default ``time.time``): pass a fake clock to
reproduce a series, as the conformance suite does.
"""

from __future__ import annotations

import glob
import os
import re
import time
from typing import Callable, Iterable, Mapping, Optional, Union

from .. import errors
from ..bundle.writer import BundleWriter
from ..state_file import get_checkpoint_state, state_lock, update_checkpoint_state

__all__ = ["CheckpointManager", "STYLES"]

STYLES = ("manager", "saver")

#: TF1 ``Saver``'s default ``keep_checkpoint_every_n_hours``.
SAVER_DEFAULT_HOURS = 10000.0

Tensors = Union[Mapping, Iterable, Callable]


class CheckpointManager:
    """Write a series of checkpoints into ``directory``, keeping ``max_to_keep`` of them.

    >>> manager = CheckpointManager("train", max_to_keep=4)        # doctest: +SKIP
    >>> manager.save({"w": w}, checkpoint_number=1000)              # doctest: +SKIP
    'train/ckpt-1000'
    """

    def __init__(
        self,
        directory: Union[str, "os.PathLike[str]"],
        max_to_keep: Optional[int] = 5,
        keep_checkpoint_every_n_hours: Optional[float] = None,
        checkpoint_name: str = "ckpt",
        *,
        style: str = "manager",
        clock: Callable[[], float] = time.time,
        sync: bool = True,
    ) -> None:
        if style not in STYLES:
            raise errors.InvalidArgumentError(f"style must be one of {STYLES}, not {style!r}")
        if max_to_keep is not None and max_to_keep < 0 or (style == "manager" and max_to_keep == 0):
            raise errors.InvalidArgumentError(
                f"max_to_keep must be a positive integer or None, not {max_to_keep!r}")
        self.directory = os.fspath(directory)
        from ..storage import refuse_url

        refuse_url(self.directory, "a CheckpointManager")  # it deletes and lists by local paths (STORE-5)
        self.max_to_keep = max_to_keep
        self.style = style
        self.checkpoint_name = checkpoint_name
        self._clock = clock
        self._sync = sync
        self._prefix = os.path.join(self.directory, checkpoint_name)
        now = clock()
        if style == "saver":
            self.keep_checkpoint_every_n_hours = (
                SAVER_DEFAULT_HOURS if keep_checkpoint_every_n_hours is None else keep_checkpoint_every_n_hours)
            self._next_preserve_time = now + self.keep_checkpoint_every_n_hours * 3600  # STATE-28
            self._entries: list[tuple[str, float]] = []
            self._latest: Optional[str] = None
            self._counter = 0
            return
        self.keep_checkpoint_every_n_hours = keep_checkpoint_every_n_hours
        self._entries = []
        state = get_checkpoint_state(self.directory) if os.path.isdir(self.directory) else None
        if state is None:
            self._latest = None
            self._last_preserved = now - 1.0  # STATE-26
        else:
            self._latest = state.model_checkpoint_path
            self._last_preserved = state.last_preserved_timestamp
            if now < self._last_preserved:  # the clock went back: start preserving from now
                self._last_preserved = now
            stamps = list(state.all_model_checkpoint_timestamps) or [self._last_preserved] * len(
                state.all_model_checkpoint_paths)
            for path, stamp in zip(state.all_model_checkpoint_paths, stamps):
                stamp = min(stamp, now)
                if stamp > self._last_preserved:  # STATE-27: preserved ones leave the series
                    self._entries.append((path, stamp))
        self._counter = _number_of(self._latest, checkpoint_name) or 0

    # ------------------------------------------------------------------ state

    @property
    def latest_checkpoint(self) -> Optional[str]:
        """The prefix of the newest checkpoint of the series, or None."""
        return self._latest

    @property
    def checkpoints(self) -> list[str]:
        """The prefixes this manager may still delete, oldest first (preserved ones are not listed)."""
        return [path for path, _ in self._entries]

    # ------------------------------------------------------------------- save

    def save(self, tensors: Tensors, checkpoint_number: Optional[int] = None) -> str:
        """Write ``tensors`` as the next checkpoint, rotate the series, return the new prefix.

        ``tensors`` is a mapping name -> array, an iterable of ``(name, array)``
        pairs, or a callable returning either (for checkpoints too big to hold:
        each array is written and dropped before the next is made).  With
        ``style="manager"`` the number defaults to a save counter that
        continues the series; with ``style="saver"`` it is TF1's
        ``global_step`` (no number: the prefix is ``<directory>/<name>``).
        """
        self._counter += 1
        if checkpoint_number is None and self.style == "manager":
            checkpoint_number = self._counter
        if checkpoint_number is not None:
            if isinstance(checkpoint_number, bool) or not isinstance(checkpoint_number, int):
                try:
                    checkpoint_number = int(checkpoint_number)  # numpy integers, 0-d arrays
                except (TypeError, ValueError):
                    raise errors.InvalidArgumentError(
                        f"checkpoint_number must be an integer, not {checkpoint_number!r}") from None
            prefix = f"{self._prefix}-{checkpoint_number}"
        else:
            prefix = self._prefix
        if os.path.basename(prefix) == "checkpoint":
            raise errors.InvalidArgumentError("the checkpoint name collides with the state file 'checkpoint'",
                                              file=prefix)
        _write(prefix, tensors, sync=self._sync)
        with state_lock(self.directory):
            stamp = self._clock()
            if self.style == "manager":
                doomed = self._record_manager(prefix, stamp)
            else:
                doomed = self._record_saver(prefix, stamp)
            for old in doomed:  # STATE-31: the state file no longer names them
                _remove_checkpoint(old, meta=self.style == "saver")
        return prefix

    def _record_manager(self, prefix: str, stamp: float) -> list[str]:
        self._merge_foreign_entries()
        self._entries = [(p, t) for p, t in self._entries if p != prefix] + [(prefix, stamp)]  # STATE-29
        self._latest = prefix
        doomed = []
        if self.max_to_keep:
            while len(self._entries) > self.max_to_keep:
                path, t = self._entries.pop(0)
                hours = self.keep_checkpoint_every_n_hours
                if hours and t - hours * 3600.0 >= self._last_preserved:  # STATE-30
                    self._last_preserved = t
                    continue
                doomed.append(path)
        update_checkpoint_state(
            self.directory, prefix, [p for p, _ in self._entries],
            all_model_checkpoint_timestamps=[t for _, t in self._entries],
            last_preserved_timestamp=self._last_preserved, save_relative_paths=True)
        return doomed

    def _record_saver(self, prefix: str, stamp: float) -> list[str]:
        doomed_entry = None
        if self.max_to_keep:
            self._entries = [(p, t) for p, t in self._entries if p != prefix] + [(prefix, stamp)]
            if len(self._entries) > self.max_to_keep:
                doomed_entry = self._entries.pop(0)  # STATE-32: one per save, at most
        self._latest = prefix
        update_checkpoint_state(os.path.dirname(prefix), prefix, [p for p, _ in self._entries])
        if doomed_entry is None:
            return []
        path, t = doomed_entry
        if t > self._next_preserve_time:  # STATE-28
            self._next_preserve_time += self.keep_checkpoint_every_n_hours * 3600
            return []
        return [path]

    def _merge_foreign_entries(self) -> None:
        """Entries another process recorded since our last save join the series, by time."""
        state = get_checkpoint_state(self.directory)
        if state is None:
            return
        known = {p for p, _ in self._entries}
        stamps = list(state.all_model_checkpoint_timestamps)
        if len(stamps) != len(state.all_model_checkpoint_paths):
            return
        added = [(p, t) for p, t in zip(state.all_model_checkpoint_paths, stamps)
                 if p not in known and t > self._last_preserved and _exists(p)]
        if added:
            self._entries = sorted(self._entries + added, key=lambda e: e[1])
        self._entries = [(p, t) for p, t in self._entries if _exists(p)]


def _exists(prefix: str) -> bool:
    return os.path.exists(prefix + ".index")


def _number_of(prefix: Optional[str], name: str) -> Optional[int]:
    if not prefix:
        return None
    match = re.fullmatch(re.escape(name) + r"-(\d+)", os.path.basename(prefix))
    return int(match.group(1)) if match else None


def _write(prefix: str, tensors: Tensors, *, sync: bool) -> None:
    if callable(tensors):
        tensors = tensors()
    items = tensors.items() if isinstance(tensors, Mapping) else tensors
    with BundleWriter(prefix, sync=sync) as writer:
        for name, value in items:
            writer.add(name, value)


def _remove_checkpoint(prefix: str, *, meta: bool) -> None:
    """Delete a checkpoint: its index first (it stops being one), then its data files, then its .meta."""
    paths = [prefix + ".index"] + sorted(glob.glob(glob.escape(prefix) + ".data-?????-of-?????"))
    if meta:
        paths.append(prefix + ".meta")
    for path in paths:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass  # another process deleted it (TensorFlow warns and goes on)
        except OSError as exc:
            raise errors.from_os_error(exc, "deleting an old checkpoint", file=path) from exc
