"""``python -m tfckpt``: the command line, in :mod:`tfckpt.cli`."""

import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())
