"""The examples in the docstrings of every lsqnet module run and print what they show."""

import doctest
import importlib
import pkgutil

import pytest

import lsqnet

MODULES = sorted(
    info.name for info in pkgutil.walk_packages(lsqnet.__path__, prefix="lsqnet.")
)


def test_modules_and_their_examples_are_found():
    # guards the discovery itself: a broken walk or finder would silently test nothing
    assert "lsqnet.estimators._lsq" in MODULES and "lsqnet.solvers._gram" in MODULES
    examples = doctest.DocTestFinder().find(importlib.import_module("lsqnet.estimators._lsq"))
    assert sum(len(test.examples) for test in examples) >= 8


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
