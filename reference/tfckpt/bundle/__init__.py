"""The V2 checkpoint ("tensor bundle") layer: ``.index`` entries and ``.data-*`` bytes.

This layer knows tensors, dtypes, shapes, slices and shards; it knows nothing
of TF2 object graphs, ``.meta`` files or the state file.  It stands on
:mod:`tfckpt.table` (the SSTable container) and is used by
:mod:`tfckpt.checkpoint_reader` and the public API.
"""

from .naming import data_filename, index_filename
from .reader import BundleReader, TensorEntry
from .slices import TensorSlice, decode_slice_key, encode_slice_key

# The writing side is imported on first use: reading a checkpoint does not pay for it.
_WRITING = {"merge_bundles": "merge", "save_sharded": "merge", "BundleWriter": "writer", "save": "writer"}


def __getattr__(name: str):
    if name not in _WRITING:
        raise AttributeError(f"module 'tfckpt.bundle' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{_WRITING[name]}"), name)
    globals()[name] = value
    return value

__all__ = [
    "BundleReader",
    "BundleWriter",
    "TensorEntry",
    "TensorSlice",
    "data_filename",
    "decode_slice_key",
    "encode_slice_key",
    "index_filename",
    "merge_bundles",
    "save",
    "save_sharded",
]
