"""tfckpt_conformance: the conformance suite for TensorFlow checkpoint implementations.

Modules (spec/conformance.md is the normative text):

* :mod:`.description` -- the canonical description of a checkpoint; load, save, compare bit-exactly;
* :mod:`.adapter` -- the interface an implementation is driven through;
* :mod:`.protocol` / :mod:`.server` -- the same interface as a line-oriented JSON protocol;
* :mod:`.strategies` -- public hypothesis strategies generating descriptions;
* :mod:`.plugin` -- the pytest plugin: options, test ids, levels, expected failures, results;
* :mod:`.report`, :mod:`.update_expected_failures`, :mod:`.traceability` -- bookkeeping commands.
"""

__version__ = "0.1.0"
