"""What the command line imports at start-up (issue 12, point 1).

``tfckpt ls`` of a small checkpoint must start in well under a third of a second.
Time is not asserted here (``benchmarks/startup.py`` measures it); what is asserted
is the cause: listing imports neither numpy, ml_dtypes nor cramjam, and reaches
the ``crc32c`` extension without the package's ``importlib.metadata`` lookup.
Each check runs in a fresh interpreter, since this test process has numpy loaded.
"""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREFIX = os.path.join(ROOT, "fixtures", "tf-2.21.0", "dtype-float32-rank2", "ckpt")
HEAVY = ("numpy", "ml_dtypes", "cramjam", "crc32c", "importlib.metadata")


def _modules_after(argv):
    program = (
        "import sys\n"
        "from tfckpt.cli.main import main\n"
        f"status = main({argv!r})\n"
        f"print('LOADED', sorted(m for m in {HEAVY!r} if m in sys.modules), status)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "reference"))
    done = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=120)
    line = [x for x in done.stdout.splitlines() if x.startswith("LOADED")]
    assert line, done.stdout + done.stderr
    return done.stdout, line[0]


@pytest.mark.parametrize("argv", [["ls", PREFIX], ["inspect", f"--file_name={PREFIX}"]], ids=["ls", "inspect"])
def test_listing_imports_nothing_heavy(argv):
    out, loaded = _modules_after(argv)
    assert "values (float32) [3, 5]" in out or "values (DT_FLOAT) [3,5]" in out
    assert loaded == "LOADED [] 0"


def test_showing_a_tensor_still_imports_numpy():
    # The deferred import is a stand-in, not a removal: a value needs numpy, and gets it.
    out, loaded = _modules_after(["show", PREFIX, "values"])
    assert "numpy" in loaded and loaded.endswith(" 0")


def test_deferred_crc32c_is_the_packages_function():
    # The extension loaded without its package computes CRC-32C: the standard check value of
    # b"123456789" is 0xE3069283 (Castagnoli), independent of any implementation here.
    program = (
        "import sys\n"
        "from tfckpt._lazy import crc32c_function\n"
        "f = crc32c_function()\n"
        "print(hex(f(b'123456789')), 'crc32c' in sys.modules)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "reference"))
    done = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["0xe3069283", "False"], done.stderr


def test_deferred_numpy_is_numpy():
    import numpy

    from tfckpt._lazy import numpy as deferred

    assert deferred.ndarray is numpy.ndarray and deferred.float32 is numpy.float32
