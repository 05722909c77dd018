"""The V2 checkpoint ("tensor bundle") layer: ``.index`` entries and ``.data-*`` bytes.

This layer knows tensors, dtypes, shapes, slices and shards; it knows nothing
of TF2 object graphs, ``.meta`` files or the state file.  It stands on
:mod:`tfckpt.table` (the SSTable container) and is used by
:mod:`tfckpt.checkpoint_reader` and the public API.
"""

from .merge import merge_bundles, save_sharded
from .naming import data_filename, index_filename
from .reader import BundleReader, TensorEntry
from .slices import TensorSlice, decode_slice_key, encode_slice_key
from .writer import BundleWriter, save

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
