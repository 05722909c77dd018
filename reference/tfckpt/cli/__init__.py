"""The ``tfckpt`` command line (``python -m tfckpt``); see :mod:`.main`."""

from .main import main

__all__ = ["main"]
