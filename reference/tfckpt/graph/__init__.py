"""What the graph files mean: ``.meta`` MetaGraphDefs, GraphDefs and SavedModels.

This layer sits above the file formats: it parses the protocol-buffer files
that travel beside a checkpoint (spec/meta-graph.md, spec/savedmodel.md) and
knows nothing of how tensors are laid out in a bundle.

- :mod:`.meta_graph` -- ``.meta`` and GraphDef files, ``VariableDef``s, constants.
- :mod:`.saved_model` -- SavedModel directories and their object graph.
"""
