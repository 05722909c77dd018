"""``tfckpt clean DIR``: remove what interrupted writers left in a checkpoint directory (spec PUB-6).

Strategy
--------
Every writer of this package (and TensorFlow's) writes under temporary names
and publishes by renaming (:mod:`tfckpt.bundle.publish`), so a killed writer
leaves only files that can be recognised without guessing:

=====================================  ==========================================
``<file>.tempstate<decimal>``          a bundle, V1 or SavedModel file being written
``checkpoint.tmp<32 hex digits>``      the state file being replaced
``P.data-SSSSS-of-NNNNN`` without      data files renamed into place by a save
``P.index``                            killed before it published its index
``<P>_temp/part-*``,                   the per-device bundles of an unfinished
``<P>_temp_<hex>/part-*``              sharded save (TensorFlow 2 / TensorFlow 1)
=====================================  ==========================================

Nothing a reader takes for a checkpoint (a prefix with an ``.index``) is ever
touched.  ``older_than`` spares files written in the last seconds, for a
directory where a writer may still be running.
"""

from __future__ import annotations

import os
import re
from typing import Union

from .. import errors
from ..bundle.publish import leftovers

__all__ = ["clean", "STATE_TEMP_PATTERN"]

#: The state file's temporary name (``atomic_write_text``; TensorFlow's ``atomic_write_string_to_file``).
STATE_TEMP_PATTERN = re.compile(r"^checkpoint\.tmp[0-9a-f]{32}$")


def clean(directory: Union[str, "os.PathLike[str]"], *, older_than: float = 0.0, dry_run: bool = False) -> list[str]:
    """Delete the leftovers of interrupted writes in ``directory``; returns their paths.

    With ``dry_run`` nothing is deleted.  Empty ``*_temp*`` directories of
    sharded saves are removed after their parts.
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise errors.NotFoundError("no such directory", file=directory)
    found = leftovers(directory, older_than=older_than, extra_patterns=[STATE_TEMP_PATTERN])
    if dry_run:
        return found
    for path in found:
        with errors.os_errors("removing a leftover", file=path):
            os.remove(path)
    for parent in sorted({os.path.dirname(p) for p in found} - {directory}):
        try:
            os.rmdir(parent)
        except OSError:
            pass  # not empty: something we do not recognise stays
    return found
