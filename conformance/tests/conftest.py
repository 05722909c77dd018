"""The conformance suite's pytest configuration: everything lives in the plugin.

Run with ``pytest conformance/tests --impl reference`` (see conformance/README.md).
"""

import os

# The plugin needs to know where the suite lives (to tell a full run from a partial one),
# also when tfckpt_conformance is installed elsewhere.
os.environ.setdefault("TFCKPT_CONFORMANCE_SUITE", os.path.dirname(os.path.abspath(__file__)))

pytest_plugins = ["tfckpt_conformance.plugin"]
