"""scikit-learn models in the skops format: a zip with a JSON schema that skops loads without unpickling.

skops refuses any type that is not on its own allow list until the caller names it as trusted. Types from the
scientific stack are accepted here without an admin (they cannot run code on load); anything else (a custom
transformer class, a function outside those packages, or a risky function such as ``builtins.eval`` that would run
on every prediction) needs the version to be marked trusted.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from serving.archive import ArchiveLimits, check_zip
from serving.loaders.base import EstimatorModel, LoadedModel, LoaderError, TrustRequired
from serving.pickle_scan import risky

SAFE_TYPE_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.")


def untrusted_types(path: Path) -> tuple[list[str], list[str]]:
    """Split the types skops would not load by default into (accepted here, needing an admin's trust)."""
    import skops.io

    try:
        types = skops.io.get_untrusted_types(file=path)
    except Exception as exc:  # skops raises KeyError, JSON and schema errors for files that are not its format
        raise LoaderError(f"not a valid skops file: {type(exc).__name__}: {exc}") from exc
    flagged = set(risky(types))
    accepted = [name for name in types if name.startswith(SAFE_TYPE_PREFIXES) and name not in flagged]
    needs_trust = [name for name in types if name not in accepted]
    return accepted, needs_trust


def load(path: Path, *, trusted: bool, work_dir: Path, format_name: str, options: Mapping[str, Any]) -> LoadedModel:
    check_zip(path, **ArchiveLimits.from_env().as_kwargs())
    accepted, needs_trust = untrusted_types(path)
    if needs_trust and not trusted:
        raise TrustRequired(
            f"this skops file uses {len(needs_trust)} type(s) that need an admin's trust "
            f"({', '.join(needs_trust[:5])}{', ...' if len(needs_trust) > 5 else ''}): classes from outside "
            "scikit-learn, NumPy and SciPy, or functions that can run commands; mark the version trusted to load it",
            details={"untrusted_types": needs_trust, "accepted_types": accepted},
        )
    import skops.io

    try:
        estimator = skops.io.load(path, trusted=accepted + needs_trust)
    except Exception as exc:  # a schema that names missing classes or has inconsistent state
        raise LoaderError(f"the skops file could not be loaded: {type(exc).__name__}: {exc}") from exc
    return EstimatorModel(estimator, method=str(options.get("method", "predict")), framework="scikit-learn")
