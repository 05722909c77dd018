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

- foundations: :mod:`tfckpt.errors`, :mod:`tfckpt.encoding`,
  :mod:`tfckpt.checksums`, :mod:`tfckpt.dtypes`, :mod:`tfckpt.proto` (generated);
- file formats: :mod:`tfckpt.table` (the SSTable container, which knows nothing
  of tensors), :mod:`tfckpt.bundle` (V2 index and data files),
  :mod:`tfckpt.v1` (legacy V1 files: reader and writer),
  :mod:`tfckpt.state_file` (the ``checkpoint`` file), and the reading API in
  :mod:`tfckpt.checkpoint_reader`;
- what the files mean: :mod:`tfckpt.graph` (``.meta``, GraphDef, SavedModel)
  and :mod:`tfckpt.objects` (TF2 object graphs and the keys of objects, slots
  and TF1 variables);
- jobs built on both: :mod:`tfckpt.jobs`; and the command line, :mod:`tfckpt.cli`.

Modules moved into sub-packages keep their old names as attributes of this
package (``tfckpt.keys``, ``tfckpt.meta_graph``, ``tfckpt.object_graph``,
``tfckpt.saved_model``, ``tfckpt.v1_writer``), loaded when first used.

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
from .v1.writer import write_v1
from .objects.writer import save_objects

__version__ = "0.1.0"

# Modules that moved into sub-packages, by the names they had at the top level.
# Loaded on first use, so ``import tfckpt`` stays cheap.
_MOVED = {
    "keys": "tfckpt.objects.keys",
    "object_graph": "tfckpt.objects.object_graph",
    "meta_graph": "tfckpt.graph.meta_graph",
    "saved_model": "tfckpt.graph.saved_model",
    "v1_writer": "tfckpt.v1.writer",
}


def __getattr__(name: str):
    target = _MOVED.get(name)
    if target is None:
        raise AttributeError(f"module 'tfckpt' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(target)
    globals()[name] = module
    return module


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
    "save_objects",
    "save_sharded",
    "update_checkpoint_state",
    "write_v1",
]
