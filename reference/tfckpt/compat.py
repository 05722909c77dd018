"""``tf.train``'s checkpoint-reading functions, with TensorFlow's signatures: a drop-in for scripts.

Strategy
--------
Conversion scripts (Hugging Face's ``load_tf_weights_in_bert`` and its many
copies) call ``tf.train.list_variables(path)`` and ``tf.train.load_variable(path,
name)``; ``import tfckpt.compat as tf_train`` lets them run without TensorFlow.
Signatures and return types follow ``tensorflow/python/training/checkpoint_utils.py``
and ``checkpoint_management.py`` (TF 2.21):

- ``list_variables(ckpt_dir_or_file)`` -> list of ``(name, shape list)``, sorted by name;
- ``load_variable(ckpt_dir_or_file, name)`` -> numpy array; a trailing ``":0"`` is dropped;
- ``load_checkpoint(ckpt_dir_or_file)`` -> a reader with ``get_tensor``,
  ``get_variable_to_shape_map``, ``get_variable_to_dtype_map``, ``has_tensor``;
- ``NewCheckpointReader(filepattern)`` -> the same reader;
- ``latest_checkpoint(checkpoint_dir, latest_filename=None)`` -> prefix or None.
"""

from __future__ import annotations

from typing import Optional

__all__ = ["list_variables", "load_variable", "load_checkpoint", "NewCheckpointReader", "latest_checkpoint"]


def load_checkpoint(ckpt_dir_or_file):
    """``tf.train.load_checkpoint``."""
    from .checkpoint_reader import load_checkpoint as load

    return load(ckpt_dir_or_file)


def NewCheckpointReader(filepattern):  # noqa: N802 -- TensorFlow's name
    """``tf.compat.v1.train.NewCheckpointReader``."""
    return load_checkpoint(filepattern)


def list_variables(ckpt_dir_or_file) -> list:
    """``tf.train.list_variables``: ``[(name, shape), ...]`` sorted by name."""
    from .checkpoint_reader import list_variables as listing

    return listing(ckpt_dir_or_file)


def load_variable(ckpt_dir_or_file, name: str):
    """``tf.train.load_variable``: the value of ``name`` (``"w:0"`` means ``"w"``)."""
    if name.endswith(":0"):
        name = name[:-2]
    with load_checkpoint(ckpt_dir_or_file) as reader:
        return reader.get_tensor(name)


def latest_checkpoint(checkpoint_dir, latest_filename: Optional[str] = None) -> Optional[str]:
    """``tf.train.latest_checkpoint``."""
    from .state_file import latest_checkpoint as latest

    return latest(checkpoint_dir, latest_filename)
