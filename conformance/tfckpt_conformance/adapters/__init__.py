"""Adapters shipped with the suite: the reference (in-process and as a protocol server) and TensorFlow 2.21."""
