"""Kill tests (spec/errors.md §5): every writer SIGKILLed at 50 moments spread over its write.

See killing.py for the invariants judged after each kill.  The checkpoint is
8 MB here (``TFCKPT_KILL_MB``; ``tox -e kill`` runs the same tests at 100 MB),
written over an existing checkpoint of the same prefix.
"""

import pytest

import killing


@pytest.mark.parametrize("mode", killing.MODES)
def test_fifty_kills_leave_old_new_or_nothing(tmp_path, mode):
    seen = killing.kill_campaign(mode, str(tmp_path), points=50)
    assert sum(seen.values()) == 50
    # the kills must have landed inside the write, not all after it
    assert seen["old"] + seen["none"] > 0, seen
