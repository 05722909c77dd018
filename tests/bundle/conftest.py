import os

import pytest


@pytest.fixture
def ckpt(tmp_path):
    return os.path.join(tmp_path, "ckpt")
