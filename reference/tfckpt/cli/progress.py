"""Progress bars for long commands: tqdm when installed and stderr is a terminal, else nothing.

Strategy
--------
``verify``, ``convert``, ``diff``, ``rewrite`` and ``freeze`` (the commands that walk every tensor)
wrap their loop in :func:`progress`.  It returns a tqdm bar counting bytes (with
rate and ETA) when tqdm (the optional extra ``tfckpt[progress]``) is importable,
stderr is a TTY and ``--quiet`` was not given; otherwise a do-nothing object with
the same ``update``/``set_postfix_str``/``close`` methods, so callers never branch.
"""

from __future__ import annotations

import sys
from typing import Optional


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(total_bytes: Optional[int], *, quiet: bool = False, description: str = ""):
    """A bar over ``total_bytes`` (None: unknown) (update it with the bytes of each tensor done)."""
    if quiet or not sys.stderr.isatty():
        return _Silent()
    try:
        from tqdm import tqdm
    except ImportError:  # optional extra: pip install 'tfckpt[progress]'
        return _Silent()
    return tqdm(total=total_bytes, unit="B", unit_scale=True, unit_divisor=1024, desc=description, file=sys.stderr)


def tensor_bytes(reader, name: str) -> int:
    """Bytes of a tensor's value (from the index: elements times width; 0 for strings), to size a bar."""
    entry = reader.entry(name)
    count = 1
    for dim in entry.shape:
        count *= dim
    return count * entry.dtype.itemsize
