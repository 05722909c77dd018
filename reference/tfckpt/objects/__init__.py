"""What TF2 checkpoints mean: object graphs and the keys objects are stored under.

- :mod:`.object_graph` -- the ``_CHECKPOINTABLE_OBJECT_GRAPH`` (spec/object-graph.md).
- :mod:`.keys` -- from object paths, optimizer slots and TF1 variable names to keys.
"""
