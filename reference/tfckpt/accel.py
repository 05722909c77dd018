"""Speed switches: the optional C accelerator, and pausing the garbage collector for bulk work.

Strategy
--------
``tfckpt/_speedups.c`` holds C versions of three hot loops (walking an SSTable
block, decoding a canonical ``BundleEntryProto``, splitting a string tensor).
Each answers only for input it fully understands and returns None otherwise,
so the Python code beside it stays the judge of every error; see the C file's
opening comment.  ``pip install .`` builds the module when a C compiler is
there; without one, or with ``TFCKPT_PURE_PYTHON=1`` in the environment when
tfckpt is imported, ``speedups`` is None and only Python runs.

Callers import ``speedups`` from here and test it for None; nothing else in
tfckpt imports ``_speedups`` directly.

Listing 100,000 keys creates some 300,000 small objects that live on (entries,
shape tuples, dict items).  Each allocation burst triggers CPython's cyclic
collector, which walks every live object, so the cost grows faster than the
key count (about 40 % of a 100,000-key listing here).  None of these objects
form cycles, so :func:`gc_paused` switches the collector off for such a loop
and back on after it, unless the caller had it off already.
"""

from __future__ import annotations

import contextlib
import gc
import os

__all__ = ["ENV_VAR", "speedups", "enabled", "gc_paused"]

#: Set to anything but "" or "0" to keep the accelerator off.
ENV_VAR = "TFCKPT_PURE_PYTHON"

if os.environ.get(ENV_VAR, "") not in ("", "0"):
    speedups = None
else:
    try:
        from . import _speedups as speedups
    except ImportError:  # not built (no compiler) or a foreign platform's wheel
        speedups = None


def enabled() -> bool:
    """True when the C accelerator is in use."""
    return speedups is not None


@contextlib.contextmanager
def gc_paused():
    """The cyclic garbage collector off for the ``with`` block (reference counting still frees)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
