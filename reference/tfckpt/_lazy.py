"""Deferred imports, so that the command line starts in a tenth of a second.

Strategy
--------
Half of ``tfckpt ls``'s start-up used to be spent importing modules it never
used: numpy (about 0.25 s of CPU here) and, inside the ``crc32c`` package,
``importlib.metadata`` (about 0.1 s, for the package's ``__version__``).  Listing
a checkpoint needs neither numpy nor that metadata: dtypes and shapes are
decoded from the index with plain integers.

* ``numpy`` here is a stand-in for the numpy module: the modules on the listing
  path (``checkpoint_reader``, ``bundle.reader``, ``dtypes``, ...) say
  ``from .._lazy import numpy as np``, and the first ``np.<name>`` imports numpy.
  Each attribute is then cached on the stand-in, so later lookups cost what a
  module attribute costs.  (The standard library's ``importlib.util.LazyLoader``
  does not serve here: any later ``import numpy`` statement reads the module's
  ``__spec__`` and so triggers the import at once.)
* :func:`crc32c_function` loads the ``crc32c`` package's compiled extension
  (``crc32c/_crc32c*.so``) without running the package's ``__init__``, whose only
  extra work is the version lookup.  If the layout is not the one expected, it
  falls back to ``import crc32c``.

Both are start-up measures only; ``benchmarks/startup.py`` measures them.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
from typing import Callable

__all__ = ["numpy", "crc32c_function"]


class _Deferred:
    """A module imported on its first attribute access; attributes are cached on the instance."""

    def __init__(self, name: str) -> None:
        self.__dict__["_deferred_name"] = name

    def __getattr__(self, attr: str):
        value = getattr(importlib.import_module(self._deferred_name), attr)
        self.__dict__[attr] = value
        return value

    def __repr__(self) -> str:
        return f"<deferred module {self._deferred_name!r}>"


#: numpy, imported on first use.
numpy = _Deferred("numpy")


def crc32c_function() -> Callable:
    """The ``crc32c.crc32c(data, value=0)`` function of the ``crc32c`` package."""
    package = sys.modules.get("crc32c")
    if package is not None and hasattr(package, "crc32c"):
        return package.crc32c
    extension = sys.modules.get("crc32c._crc32c")
    if extension is None:
        extension = _load_extension_alone()
    if extension is not None and hasattr(extension, "crc32c"):
        return extension.crc32c
    import crc32c

    return crc32c.crc32c


def _load_extension_alone():
    try:
        spec = importlib.util.find_spec("crc32c")  # locates the package without running it
        locations = list(spec.submodule_search_locations or ()) if spec else []
        for location in locations:
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                path = os.path.join(location, "_crc32c" + suffix)
                if os.path.isfile(path):
                    ext_spec = importlib.util.spec_from_file_location("crc32c._crc32c", path)
                    module = importlib.util.module_from_spec(ext_spec)
                    ext_spec.loader.exec_module(module)
                    # Registered so that a later ``import crc32c`` reuses this module.
                    sys.modules["crc32c._crc32c"] = module
                    return module
    except (ImportError, OSError, AttributeError):
        pass
    return None
