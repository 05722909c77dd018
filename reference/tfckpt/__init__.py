"""tfckpt: read and write TensorFlow checkpoints exactly, without TensorFlow.

The public API follows TensorFlow's names, so ``tf.train.load_checkpoint`` can
be swapped for ``tfckpt.load_checkpoint``::

    import tfckpt
    reader = tfckpt.load_checkpoint("train_dir")          # a directory or a prefix
    for name, shape in tfckpt.list_variables("train_dir"):
        print(name, shape, reader.get_variable_to_dtype_map()[name].name)
    kernel = reader.get_tensor("dense/kernel")

    tfckpt.save("out/ckpt-1", {"w": kernel})              # byte-identical to SaveV2

Layers, each importing only from those above it in this list:
:mod:`tfckpt.errors`, :mod:`tfckpt.encoding`, :mod:`tfckpt.checksums`,
:mod:`tfckpt.dtypes`, :mod:`tfckpt.proto` (generated), :mod:`tfckpt.table`
(the SSTable container), :mod:`tfckpt.bundle` (V2 index and data files),
:mod:`tfckpt.v1` and :mod:`tfckpt.v1_writer` (legacy V1 files), :mod:`tfckpt.state_file`, and this
package's reading API in :mod:`tfckpt.checkpoint_reader`.  Above the files, what
their contents mean: :mod:`tfckpt.object_graph` (TF2 object graphs),
:mod:`tfckpt.meta_graph` (``.meta`` files), :mod:`tfckpt.saved_model`, and
:mod:`tfckpt.keys`, which finds the key of an object, a slot or a TF1 variable.

The format itself is specified in ``spec/`` of the source repository.
"""

from . import errors
from .bundle import BundleReader, BundleWriter, TensorSlice, merge_bundles, save, save_sharded
from .checkpoint_reader import CheckpointReader, list_variables, load_checkpoint
from .dtypes import DType, as_dtype
from .state_file import (
    checkpoint_exists,
    get_checkpoint_state,
    latest_checkpoint,
    update_checkpoint_state,
)
from .v1_writer import write_v1

__version__ = "0.1.0"

__all__ = [
    "BundleReader",
    "BundleWriter",
    "CheckpointReader",
    "DType",
    "TensorSlice",
    "as_dtype",
    "checkpoint_exists",
    "errors",
    "get_checkpoint_state",
    "latest_checkpoint",
    "list_variables",
    "load_checkpoint",
    "merge_bundles",
    "save",
    "save_sharded",
    "update_checkpoint_state",
    "write_v1",
]
