"""PyTorch reads what ``convert`` writes, through the ``safetensors`` library (issue 12 point 4).

torch is no dependency of tfckpt: this file skips where torch is not installed and runs in
``tox -e torch``.  Expected values are the TensorFlow-written fixtures read by tfckpt's
reader (checked against TensorFlow elsewhere); torch must see the same dtypes, shapes and
bits, bfloat16 and float16 included.
"""

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="optional: torch is not a dependency (tox -e torch)")
safetensors_torch = pytest.importorskip("safetensors.torch")

import tfckpt  # noqa: E402
from tfckpt.jobs.convert import convert  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "tf-2.21.0")

#: TensorFlow dtype name -> the torch dtype a safetensors file of it loads as.
TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
                "bfloat16": torch.bfloat16, "int8": torch.int8, "int16": torch.int16, "int32": torch.int32,
                "int64": torch.int64, "uint8": torch.uint8, "uint16": torch.uint16, "uint32": torch.uint32,
                "uint64": torch.uint64, "bool": torch.bool, "float8_e4m3fn": torch.float8_e4m3fn,
                "float8_e5m2": torch.float8_e5m2}


def _dtypes(case):
    with tfckpt.load_checkpoint(os.path.join(FIXTURES, case, "ckpt")) as reader:
        return {k: d.name for k, d in reader.get_variable_to_dtype_map().items()}


def _cases():
    """The dtype fixtures whose every tensor has a torch dtype (strings, complex, quantized and
    variant tensors have none: ``convert`` refuses those, tests/test_convert.py)."""
    for name in sorted(os.listdir(FIXTURES)):
        if name.startswith("dtype-") and os.path.exists(os.path.join(FIXTURES, name, "ckpt.index")):
            if all(d in TORCH_DTYPES for d in _dtypes(name).values()):
                yield name


@pytest.mark.parametrize("case", list(_cases()))
def test_torch_loads_converted_fixtures_bit_for_bit(case, tmp_path):
    """Every dtype fixture torch has types for: same keys, dtypes, shapes and bytes."""
    prefix = os.path.join(FIXTURES, case, "ckpt")
    dtypes = _dtypes(case)
    with tfckpt.load_checkpoint(prefix) as reader:
        want = {k: reader.get_tensor(k) for k in reader.keys()}
    out = str(tmp_path / "m.safetensors")
    convert(prefix, out)
    got = safetensors_torch.load_file(out)
    assert sorted(got) == sorted(want)
    for key, array in want.items():
        tensor = got[key]
        assert tensor.dtype == TORCH_DTYPES[dtypes[key]], key
        assert tuple(tensor.shape) == array.shape, key
        # numpy has no bfloat16, float8 or wide unsigned types: compare the raw bytes
        bits = tensor.reshape(-1).contiguous().view(torch.uint8).numpy().tobytes() if tensor.numel() else b""
        assert bits == np.ascontiguousarray(array).tobytes(), key
