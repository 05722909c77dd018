"""The SSTable container of TensorFlow checkpoints (spec: ``spec/table.md``).

TensorFlow stores a checkpoint's ``.index`` (and a whole V1 checkpoint) as an
immutable sorted table of byte-string keys and values, in LevelDB's table
format without filter blocks (``third_party/xla/third_party/tsl/tsl/lib/io/``,
formerly ``tensorflow/core/lib/io/``).  This package reads and writes that
container and knows nothing of what the keys and values mean.

* :mod:`.format` -- block handles, block trailers, the footer, the magic number;
* :mod:`.block` -- one block: prefix-compressed entries and the restart array;
* :mod:`.writer` -- :class:`TableWriter`, byte-identical to TensorFlow's ``TableBuilder``;
* :mod:`.reader` -- :class:`TableReader`: lookups, ordered scans, validation.
"""

from .reader import TableReader
from .writer import DEFAULT_BLOCK_SIZE, DEFAULT_RESTART_INTERVAL, TableWriter

__all__ = ["TableReader", "TableWriter", "DEFAULT_BLOCK_SIZE", "DEFAULT_RESTART_INTERVAL"]
