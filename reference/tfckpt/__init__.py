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

# Public names and the modules defining them, imported on first use: ``tfckpt --help``
# and ``import tfckpt`` then cost no numpy, protobuf or ml_dtypes import.
_EXPORTS = {
    **dict.fromkeys(["BundleReader", "BundleWriter", "TensorSlice", "merge_bundles", "save", "save_sharded"], "tfckpt.bundle"),
    **dict.fromkeys(["CheckpointReader", "list_variables", "load_checkpoint"], "tfckpt.checkpoint_reader"),
    **dict.fromkeys(["DType", "as_dtype"], "tfckpt.dtypes"),
    **dict.fromkeys(
        ["checkpoint_exists", "get_checkpoint_state", "latest_checkpoint", "update_checkpoint_state"],
        "tfckpt.state_file",
    ),
    "write_v1": "tfckpt.v1.writer",
    "clean": "tfckpt.jobs.clean",
    "CheckpointManager": "tfckpt.jobs.series",
    **dict.fromkeys(["rewrite", "load_variables"], "tfckpt.jobs.rewrite"),
    "freeze": "tfckpt.graph.freeze",
    "save_objects": "tfckpt.objects.writer",
    "load_graph": "tfckpt.graph.inspect",
    "load_keras_weights": "tfckpt.objects.keras_h5",
    **dict.fromkeys(["KerasLayer", "checkpoint_to_weights_h5", "weights_h5_to_checkpoint"], "tfckpt.objects.keras_convert"),
    "save_checkpoint": "tfckpt.objects.writer",
    "build_saved_model": "tfckpt.graph.saved_model_build",
}

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
    import importlib

    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _MOVED:
        value = importlib.import_module(_MOVED[name])
    else:
        raise AttributeError(f"module 'tfckpt' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | set(_MOVED))


__all__ = [
    "BundleReader",
    "BundleWriter",
    "CheckpointManager",
    "CheckpointReader",
    "clean",
    "DType",
    "TensorSlice",
    "as_dtype",
    "checkpoint_exists",
    "errors",
    "get_checkpoint_state",
    "latest_checkpoint",
    "list_variables",
    "load_checkpoint",
    "load_variables",
    "merge_bundles",
    "rewrite",
    "save",
    "freeze",
    "save_objects",
    "save_sharded",
    "update_checkpoint_state",
    "write_v1",
    "load_graph",
    "load_keras_weights",
    "KerasLayer",
    "checkpoint_to_weights_h5",
    "weights_h5_to_checkpoint",
    "save_checkpoint",
    "build_saved_model",
]
