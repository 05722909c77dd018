"""Kill tests (spec/errors.md §5): every writer SIGKILLed at 50 moments spread over its write.

See killing.py for the invariants judged after each kill.  The checkpoint is
8 MB here (``TFCKPT_KILL_MB``; ``tox -e kill`` runs the same tests at 100 MB),
written over an existing checkpoint of the same prefix; ``rotate`` kills a
CheckpointManager's save-and-rotate, ``rewrite`` a streamed rewrite.
"""

import os

import pytest

import killing
import tfckpt


@pytest.mark.parametrize("mode", killing.MODES)
def test_fifty_kills_leave_old_new_or_nothing(tmp_path, mode):
    seen = killing.kill_campaign(mode, str(tmp_path), points=50)
    assert sum(seen.values()) == 50
    # the kills must have landed inside the write, not all after it
    assert seen["old"] + seen["none"] > 0, seen


def test_the_rotation_judge_rejects_a_deletion_before_the_new_checkpoint(tmp_path):
    # A manager that rotated first and was killed before writing ckpt-3 leaves this.
    directory = str(tmp_path)
    killing.prepare("rotate", str(tmp_path / "ckpt"), 1)
    for name in os.listdir(directory):
        if name.startswith("ckpt-1."):
            os.remove(os.path.join(directory, name))
    with pytest.raises(AssertionError, match="ckpt-1 went before ckpt-3 was whole"):
        killing.judge("rotate", directory, 1)


def test_the_rotation_judge_rejects_a_state_file_naming_a_deleted_checkpoint(tmp_path):
    directory = str(tmp_path)
    killing.prepare("rotate", str(tmp_path / "ckpt"), 1)
    killing.write("rotate", str(tmp_path / "ckpt"), killing.values(1, 1))
    tfckpt.update_checkpoint_state(directory, "ckpt-3", ["ckpt-1", "ckpt-2", "ckpt-3"])
    with pytest.raises(AssertionError, match="STATE-31"):
        killing.judge("rotate", directory, 1)
