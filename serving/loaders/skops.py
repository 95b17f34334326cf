"""scikit-learn models in the skops format: a zip with a JSON schema that skops loads without unpickling.

skops does not unpickle, but it does import and *call* the names its schema gives: a ``ConstructorFromReduceNode``
calls ``module.name(*args)`` with arguments from the file, an ``NdArrayNode`` calls its class on the array, an
``ObjectNode`` runs ``__setstate__``, a ``PartialNode``, ``MethodNode`` or ``OperatorFuncNode`` builds callables that
run at prediction time. Accepting whole package prefixes (``numpy.``, ``sklearn.``) let a file call ``numpy.save``
or ``pickle.loads`` on load, so every node is now checked against exact names in ``serving.allowlist``, *for the
role the node gives the name*: a scikit-learn class may be restored with ``__new__`` + ``__setstate__`` but a file
may not ask for ``sklearn.anything(*args)``. Anything outside the allowlist needs an admin's trust, and the verdict
lists the exact names and what the file would do with them.

The tree is built with skops's own parser (``get_tree``, which imports nothing), so what is checked here is exactly
what skops would construct; skops's audit then runs again with ``trusted=`` limited to the approved names, and a
node kind this module does not know is never approved.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from serving.allowlist import (
    BUILTIN_TYPES,
    NUMPY_SCALAR_TYPES,
    SCIPY_SPARSE_CLASSES,
    SKLEARN_CLASSES,
    SKLEARN_ESTIMATOR_CLASSES,
    SKLEARN_INTERNAL_CLASSES,
)
from serving.archive import ArchiveLimits, check_zip
from serving.loaders.base import EstimatorModel, LoadedModel, LoaderError, TrustRequired

__all__ = ["SKLEARN_ESTIMATOR_CLASSES", "NodeUse", "SkopsAudit", "audit", "load", "untrusted_types"]

_SHOWN_IN_MESSAGE = 5
_CONTAINERS = {
    "DictNode": {"builtins.dict", "collections.OrderedDict"},
    "DefaultDictNode": {"collections.defaultdict"},
    "ListNode": {"builtins.list"},
    "SetNode": {"builtins.set"},
    "TupleNode": {"builtins.tuple"},
    "BytesNode": {"builtins.bytes"},
    "BytearrayNode": {"builtins.bytearray"},
    "SliceNode": {"builtins.slice"},
}
# Classes whose constructor only stores its arguments: a ConstructorFromReduceNode may call these with file data.
_CONSTRUCTORS = frozenset(
    {"builtins.complex", "builtins.frozenset", "builtins.range", "datetime.timedelta", "datetime.timezone"}
)


def _numeric_functions() -> frozenset[str]:
    """NumPy and SciPy ufuncs: pure element-wise math, the functions FunctionTransformer usually wraps."""
    from skops.io._trusted_types import SCIPY_UFUNC_TYPE_NAMES

    numpy_ufuncs = {f"numpy.{name}" for name in dir(np) if isinstance(getattr(np, name, None), np.ufunc)}
    return frozenset(numpy_ufuncs | set(SCIPY_UFUNC_TYPE_NAMES))


@dataclass(frozen=True)
class NodeUse:
    """One name the file asks skops to import, and what skops would do with it."""

    name: str
    use: str


@dataclass(frozen=True)
class SkopsAudit:
    approved: tuple[str, ...]
    needs_trust: tuple[NodeUse, ...]

    @property
    def needs_trust_names(self) -> list[str]:
        return sorted({use.name for use in self.needs_trust})


def _node_name(node: Any) -> str:
    return f"{node.module_name}.{node.class_name}"


class _Auditor:
    """Walks a skops node tree and sorts every name into approved or needing trust, by the node's role."""

    def __init__(self) -> None:
        from skops.io._trusted_types import NUMPY_RANDOM_BIT_GENERATOR_TYPE_NAMES

        self.functions = _numeric_functions()
        self.bit_generators = frozenset(NUMPY_RANDOM_BIT_GENERATOR_TYPE_NAMES)
        self.references = BUILTIN_TYPES | NUMPY_SCALAR_TYPES | SKLEARN_CLASSES | {"numpy.ndarray", "numpy.dtype"}
        self.approved: set[str] = set()
        self.refused: dict[tuple[str, str], None] = {}

    def _check(self, name: str, allowed: frozenset[str] | set[str], use: str) -> None:
        if name in allowed:
            self.approved.add(name)
        else:
            self.refused[(name, use)] = None

    def visit(self, node: Any) -> None:
        kind = type(node).__name__
        name = _node_name(node)
        if kind == "JsonNode" or kind == "CachedNode":
            return
        if kind in _CONTAINERS:
            self._check(name, _CONTAINERS[kind], "container class built from the file")
        elif kind == "ObjectNode":
            self._check(name, SKLEARN_CLASSES, "object restored with __new__ and __setstate__")
        elif kind == "ConstructorFromReduceNode":
            self._check(name, _CONSTRUCTORS, "called with arguments from the file")
        elif kind == "FunctionNode":
            self._check(name, self.functions, "function the model would call")
        elif kind == "TypeNode":
            self._check(name, self.references, "type or builtin function the model would hold and may call")
        elif kind == "NdArrayNode":
            self._check(name, NUMPY_SCALAR_TYPES | {"numpy.ndarray"}, "called on an array from the file")
        elif kind == "DTypeNode":
            self._check(name, {"numpy.dtype"}, "numpy dtype")
        elif kind == "MaskedArrayNode":
            self._check(name, {"numpy.ma.MaskedArray", "numpy.ma.core.MaskedArray"}, "masked array")
        elif kind == "RandomStateNode":
            self._check(name, {"numpy.random.mtrand.RandomState"}, "random state")
        elif kind == "RandomGeneratorNode":
            self._check(name, {"numpy.random._generator.Generator"}, "random generator")
            bit_generator = f"numpy.random.{node.bit_generator_name}"
            self._check(bit_generator, self.bit_generators, "bit generator called on load")
        elif kind == "SparseMatrixNode":
            self._check(name, SCIPY_SPARSE_CLASSES, "sparse matrix")
        elif kind == "TreeNode":
            self._check(name, {"sklearn.tree._tree.Tree"}, "decision tree")
        elif kind == "LossNode":
            self._check(name, SKLEARN_INTERNAL_CLASSES, "loss object called with arguments from the file")
        elif kind == "MethodNode":
            self.refused[(f"{name}.{node.func}", "bound method the model would call")] = None
        elif kind == "PartialNode":
            self.refused[("functools.partial", "partial function the model would call")] = None
        elif kind == "OperatorFuncNode":
            self.refused[(f"operator.{node.class_name}", "operator callable the model would call")] = None
        else:
            self.refused[(name, f"skops {kind}, which this server does not vet")] = None

    def walk(self, root: Any) -> None:
        from skops.io._audit import Node

        seen: set[int] = set()
        pending = [root]
        while pending:
            node = pending.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            self.visit(node)
            pending.extend(child for child in _children(node.children.values()) if isinstance(child, Node))
            if type(node).__name__ in ("TreeNode", "LossNode"):
                # ReduceNode keeps its constructor as a TypeNode child; it is the class checked above.
                seen.add(id(node.constructor))


def _children(values: Any) -> Iterator[Any]:
    for value in values:
        if isinstance(value, list):
            yield from value
        elif isinstance(value, dict):
            yield from value.values()
        elif value is not None and not isinstance(value, (str, io.BytesIO, type)):
            yield value


def audit(path: Path) -> SkopsAudit:
    """Read the schema with skops's parser (nothing is imported or built) and sort its names by the allowlist."""
    import zipfile

    import skops.io  # noqa: F401  (registers every node kind)
    from skops.io._audit import get_tree
    from skops.io._utils import read_schema

    try:
        with zipfile.ZipFile(path) as archive:
            schema, load_context = read_schema(archive)
            tree = get_tree(schema, load_context, trusted=None)
    except Exception as exc:  # skops raises KeyError, JSON and schema errors for files that are not its format
        raise LoaderError(f"not a valid skops file: {type(exc).__name__}: {exc}") from exc
    auditor = _Auditor()
    auditor.walk(tree)
    needs_trust = tuple(NodeUse(name, use) for name, use in auditor.refused)
    return SkopsAudit(approved=tuple(sorted(auditor.approved)), needs_trust=needs_trust)


def _check_loaded(estimator: Any) -> None:
    """Refuse decision trees whose node arrays point outside themselves, and vectorizers that read files.

    scikit-learn walks ``children_left`` / ``right`` and ``feature`` without bounds checks (and skops cannot vet
    array contents), so a crafted file could read out of bounds or loop forever at the first prediction. Genuine
    trees number children after their parent, which also rules out cycles.
    """
    from sklearn.tree._tree import Tree

    seen: set[int] = set()
    pending = [estimator]
    while pending:
        item = pending.pop()
        if id(item) in seen or isinstance(item, (str, bytes, int, float, np.ndarray, np.generic)):
            continue
        seen.add(id(item))
        if getattr(item, "input", None) in ("file", "filename") and type(item).__module__.startswith("sklearn."):
            # CountVectorizer(input="filename") opens whatever paths the request sends: a file-reading model.
            raise TrustRequired(
                f"this model's {type(item).__name__} reads files named by each request (input={item.input!r}); an "
                "admin must mark the version trusted",
                details={"untrusted_types": [f"{type(item).__module__}.{type(item).__qualname__}(input=...)"]},
            )
        if isinstance(item, Tree):
            _check_tree(item)
        elif type(item).__name__ == "TreePredictor":
            _check_predictor(item)
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
        elif hasattr(item, "__dict__") and type(item).__module__.startswith("sklearn."):
            pending.extend(vars(item).values())


def _check_links(left: np.ndarray, right: np.ndarray, feature: np.ndarray, n_features: int, what: str) -> None:
    count = len(left)
    index = np.arange(count)
    leaf = left == -1
    internal = ~leaf
    if (right[leaf] != -1).any():
        raise LoaderError(f"the skops file holds a corrupt {what}: a leaf has one child")
    for children in (left[internal], right[internal]):
        if (children <= index[internal]).any() or (children >= count).any():
            raise LoaderError(f"the skops file holds a corrupt {what}: a node points outside the tree or backwards")
    if ((feature[internal] < 0) | (feature[internal] >= n_features)).any():
        raise LoaderError(f"the skops file holds a corrupt {what}: a node splits on a feature the model lacks")


def _check_tree(tree: Any) -> None:
    left, right = np.asarray(tree.children_left), np.asarray(tree.children_right)
    _check_links(left, right, np.asarray(tree.feature), int(tree.n_features), "decision tree")


def _check_predictor(predictor: Any) -> None:
    nodes = predictor.nodes
    leaf = nodes["is_leaf"].astype(bool)
    left = np.where(leaf, -1, nodes["left"].astype(np.int64))
    right = np.where(leaf, -1, nodes["right"].astype(np.int64))
    n_features = int(nodes["feature_idx"].max()) + 1 if len(nodes) else 0
    _check_links(left, right, nodes["feature_idx"].astype(np.int64), n_features, "gradient-boosting tree")
    bitsets = len(getattr(predictor, "raw_left_cat_bitsets", ()))
    categorical = nodes["is_categorical"].astype(bool) & ~leaf
    if (nodes["bitset_idx"][categorical] >= bitsets).any():
        raise LoaderError("the skops file holds a corrupt gradient-boosting tree: a categorical split has no bitset")


def untrusted_types(path: Path) -> tuple[list[str], list[str]]:
    """Split the names the file uses into (approved by the allowlist, needing an admin's trust)."""
    result = audit(path)
    return list(result.approved), result.needs_trust_names


def load(path: Path, *, trusted: bool, work_dir: Path, format_name: str, options: Mapping[str, Any]) -> LoadedModel:
    check_zip(path, **ArchiveLimits.from_env().as_kwargs())
    result = audit(path)
    needs_trust = result.needs_trust_names
    if needs_trust and not trusted:
        shown = ", ".join(needs_trust[:_SHOWN_IN_MESSAGE]) + (", ..." if len(needs_trust) > _SHOWN_IN_MESSAGE else "")
        raise TrustRequired(
            f"this skops file uses {len(needs_trust)} name(s) outside the allowlist of inert scikit-learn, NumPy "
            f"and SciPy types ({shown}); loading it could run code, so an admin must mark the version trusted",
            details={
                "untrusted_types": needs_trust,
                "untrusted_uses": [{"name": use.name, "use": use.use} for use in result.needs_trust],
                "accepted_types": list(result.approved),
            },
        )
    import skops.io

    # skops trusts only what it is told: the approved names, plus, for a trusted version, whatever else it flags.
    flagged_by_skops = set(skops.io.get_untrusted_types(file=path))
    allowed = set(result.approved)
    residual = sorted(flagged_by_skops - allowed)
    if residual and not trusted:
        # skops's own audit flags a name this module approved for another role: never load more than both accept.
        raise TrustRequired(
            f"skops flags names this server did not vet ({', '.join(residual[:_SHOWN_IN_MESSAGE])}); "
            "an admin must mark the version trusted",
            details={"untrusted_types": residual},
        )
    try:
        estimator = skops.io.load(path, trusted=sorted(allowed | flagged_by_skops) if trusted else sorted(allowed))
    except Exception as exc:  # a schema that names missing classes or has inconsistent state
        raise LoaderError(f"the skops file could not be loaded: {type(exc).__name__}: {exc}") from exc
    if not trusted:
        _check_loaded(estimator)
    return EstimatorModel(estimator, method=str(options.get("method", "predict")), framework="scikit-learn")
