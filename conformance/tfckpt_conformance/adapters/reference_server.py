"""The reference implementation served over the out-of-process protocol.

``python -m tfckpt_conformance.adapters.reference_server`` is what
``tox -e reference-subprocess`` runs, so the protocol itself -- hello, paths,
replies, restarts -- is exercised on every run with an implementation known
to be right.
"""

from __future__ import annotations

import sys

from ..server import serve
from .reference import ReferenceAdapter


def main() -> int:
    return serve(ReferenceAdapter())


if __name__ == "__main__":
    sys.exit(main())
