"""serving.allowlist: every allowlisted name still resolves to a class or function of the pinned libraries."""

from __future__ import annotations

import importlib

import pytest

from serving.allowlist import BUILTIN_TYPES, NUMPY_SCALAR_TYPES, SCIPY_SPARSE_CLASSES, SKLEARN_CLASSES
from serving.pickle_scan import PICKLE_DATA_GLOBALS


def _resolve(name: str) -> object:
    module, _, attribute = name.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


@pytest.mark.parametrize("name", sorted(SKLEARN_CLASSES | SCIPY_SPARSE_CLASSES | NUMPY_SCALAR_TYPES | BUILTIN_TYPES))
def test_allowlisted_type_resolves_to_a_class(name: str) -> None:
    assert isinstance(_resolve(name), type)


def test_the_allowlists_name_no_loader_or_command() -> None:
    forbidden = ("load", "save", "open", "exec", "eval", "system", "Popen", "fromfile", "getattr", "import", "fetch")
    for name in PICKLE_DATA_GLOBALS:
        leaf = name.rpartition(".")[2]
        assert not any(word in leaf for word in forbidden), name
