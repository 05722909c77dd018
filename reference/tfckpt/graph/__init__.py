"""What the graph files mean: ``.meta`` MetaGraphDefs, GraphDefs and SavedModels.

This layer sits above the file formats: it parses the protocol-buffer files
that travel beside a checkpoint (spec/meta-graph.md, spec/savedmodel.md) and
knows nothing of how tensors are laid out in a bundle.

- :mod:`.meta_graph` -- ``.meta`` and GraphDef files, ``VariableDef``s, constants.
- :mod:`.saved_model` -- SavedModel directories and their object graph.
- :mod:`.inspect` -- a readable view of any of them: ``tfckpt.graph.load(path)``.
- :mod:`.text_format` -- TensorFlow's text format, byte for byte (spec/graph.md).
- :mod:`.saved_model_show` -- ``saved_model_cli show``'s output.
- :mod:`.concrete_functions` -- its ``Concrete Functions:`` section, from the SavedObjectGraph.
"""


def load(path, tags=("serve",)):
    """A :class:`tfckpt.graph.inspect.Graph` of a ``.meta``/``.pb``/``.pbtxt`` file or SavedModel."""
    from .inspect import load as _load

    return _load(path, tags)
