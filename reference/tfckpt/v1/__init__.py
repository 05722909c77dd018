"""Legacy V1 checkpoints (spec/v1.md): the reader and the writer of TensorFlow's first format.

A V1 checkpoint is one SSTable per shard holding ``SavedTensorSlices`` records;
:mod:`.reader` reads it (``load_checkpoint`` goes there on its own when a path
is a V1 file) and :mod:`.writer` writes it as ``tf.raw_ops.Save`` does.
"""

from .reader import V1Reader
from .writer import write_v1

__all__ = ["V1Reader", "write_v1"]
