"""Interoperability tests that need TensorFlow itself; run by `tox -e tensorflow` only.

`tox -e py` excludes this directory (TensorFlow is never a dependency of tfckpt).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def pytest_configure(config):
    config.addinivalue_line("markers", "spec(*ids): the spec requirement ids a test checks")
