"""The ``>>>`` examples in docstrings are run, so the documentation cannot drift from the code."""

import doctest
import importlib

import pytest

MODULES = [
    "schemas",
    "remot_data.motion.camera",
    "remot_data.questions.render",
    "remot_data.questions.templates",
    "remot_data.rules.direction",
    "remot_data.rules.retrieval",
    "remot_data.rules.mirror",
    "remot_data.card",
    "remot_data.pipeline.plan",
    "remot_data.sources.paths",
    "remot_train.labels",
    "remot_train.rewards",
    "remot_train.config",
    "remot_train.train",
    "remot_train.eval.metrics",
    "remot_train.eval.loaders",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no examples: drop it from the list"
