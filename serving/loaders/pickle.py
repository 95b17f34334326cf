"""Pickle and joblib files: the most common way scikit-learn models travel, and the most dangerous.

Unpickling runs whatever the file says, so these formats load only for versions an admin marked trusted. Until
then the file is only scanned (never unpickled) and the globals it would import are reported, with the risky ones
flagged, so the admin can decide.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from serving.loaders.base import EstimatorModel, LoadedModel, LoaderError, RuntimeMissing, TrustRequired
from serving.pickle_scan import risky, scan_pickle_globals

_SHOWN_IN_MESSAGE = 5


def _trust_error(path: Path, format_name: str) -> TrustRequired:
    scan = scan_pickle_globals(path, inline_arrays=format_name == "joblib")
    flagged = risky(scan.globals)
    message = (
        f"{format_name} files run code when they are loaded; an admin must mark this version trusted. "
        f"The file imports {len(scan.globals)} global(s)"
    )
    if flagged:
        shown = ", ".join(flagged[:_SHOWN_IN_MESSAGE]) + (", ..." if len(flagged) > _SHOWN_IN_MESSAGE else "")
        message += f", {len(flagged)} of them risky: {shown}"
    if not scan.complete:
        message += " (the scan is incomplete: see details)"
    return TrustRequired(
        message,
        details={
            "globals": list(scan.globals),
            "risky_globals": flagged,
            "scan_complete": scan.complete,
            "scan_note": scan.note,
        },
    )


def _unpickle(path: Path, format_name: str) -> Any:
    if format_name == "joblib":
        try:
            import joblib
        except ImportError as exc:
            raise RuntimeMissing("joblib") from exc
        return joblib.load(path)
    with open(path, "rb") as handle:
        return pickle.load(handle)


def load(path: Path, *, trusted: bool, work_dir: Path, format_name: str, options: Mapping[str, Any]) -> LoadedModel:
    if not trusted:
        raise _trust_error(path, format_name)
    try:
        estimator = _unpickle(path, format_name)
    except RuntimeMissing:
        raise
    except ModuleNotFoundError as exc:
        raise LoaderError(
            f"the {format_name} file needs the Python module {exc.name!r}, which is not installed on this node"
        ) from exc
    except Exception as exc:  # unpickling can raise anything the file's code raises
        raise LoaderError(f"the {format_name} file could not be loaded: {type(exc).__name__}: {exc}") from exc
    return EstimatorModel(estimator, method=str(options.get("method", "predict")))
