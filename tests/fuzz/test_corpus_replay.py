"""Replay of the committed fuzzing corpus (``tests/fuzz/corpus/<target>/``) in the ordinary test run.

Every input that once found new coverage or a bug, and every seed made from the
TensorFlow-written fixtures, is run through its target again: each must end in a
result or a tfckpt error (targets.py states the contract).  This is how a fuzzing
finding stays fixed once its reproducer is in the corpus.
"""

import os

import pytest

import targets

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
CASES = sorted((name, entry) for name in targets.TARGETS if os.path.isdir(os.path.join(CORPUS, name))
               for entry in os.listdir(os.path.join(CORPUS, name)))


def test_every_target_has_a_corpus():
    assert {name for name, _ in CASES} == set(targets.TARGETS)


@pytest.mark.parametrize("target,entry", CASES)
def test_corpus_input_keeps_the_contract(target, entry):
    with open(os.path.join(CORPUS, target, entry), "rb") as handle:
        data = handle.read()
    targets.TARGETS[target](data)  # raises only for a broken contract


def test_framing_round_trips():
    assert targets.split(targets.join(b"abc", b"defg")) == (b"abc", b"defg")
    assert targets.split(b"\xff\xff\xff\xff" + b"xy") == (b"xy", b"")
    assert targets.split(b"ab") == (b"", b"ab")
