"""Python models: a zip with ``model.py`` (at the root or in one top-level folder) plus any files it needs.

``model.py`` defines either ``load(path) -> object with predict(inputs)`` (``path`` is the unpacked folder, as a
string) or a module-level ``predict(inputs)``. Importing it runs arbitrary code, so only versions an admin marked
trusted are loaded. An optional module or object attribute ``signature`` (a dict in the Open Inference Protocol
shape) is reported as the model's signature.
"""

from __future__ import annotations

import importlib.util
import platform
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from serving.archive import ArchiveLimits, check_zip, folder_holding, safe_extract
from serving.loaders.base import LoadedModel, LoaderError, TrustRequired


class PythonModel(LoadedModel):
    framework = "python"

    def __init__(self, predictor: Any, module_name: str, signature: Any) -> None:
        self.predictor = predictor
        self.module_name = module_name
        self.framework_version = platform.python_version()
        self.signature = signature if isinstance(signature, dict) else None

    def predict(self, inputs: np.ndarray | dict[str, np.ndarray]) -> Any:
        output = self.predictor(inputs)
        if isinstance(output, dict):
            return {str(name): np.asarray(value) for name, value in output.items()}
        return np.asarray(output)

    def details(self) -> dict[str, Any]:
        return {"module": self.module_name}


def _import_model_module(folder: Path) -> Any:
    """Import ``folder/model.py`` under a unique name, with ``folder`` importable only while it runs.

    The unique name keeps two versions of the same model apart in one replica. Helper modules that model.py
    imports by plain name are cached in ``sys.modules`` like any import, so two pyfunc versions in one process
    should not ship different helpers under the same name.
    """
    module_name = f"raylane_pyfunc_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(module_name, folder / "model.py")
    if spec is None or spec.loader is None:
        raise LoaderError("model.py could not be prepared for import")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    sys.path.insert(0, str(folder))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's code may raise anything while importing
        del sys.modules[module_name]
        raise LoaderError(f"model.py failed to import: {type(exc).__name__}: {exc}") from exc
    finally:
        if str(folder) in sys.path:
            sys.path.remove(str(folder))
    return module


def load(path: Path, *, trusted: bool, work_dir: Path, format_name: str, options: Mapping[str, Any]) -> LoadedModel:
    limits = ArchiveLimits.from_env()
    names = check_zip(path, **limits.as_kwargs())
    python_files = sorted(name for name in names if name.endswith(".py"))
    root = folder_holding(names, "model.py")
    if root is None:
        raise LoaderError("not a Python model: no model.py at the root of the zip or in its one top-level folder")
    if not trusted:
        raise TrustRequired(
            "Python models run their own code (model.py) when loaded; an admin must mark the version trusted",
            details={"python_files": python_files},
        )
    folder = (safe_extract(path, work_dir / "pyfunc", **limits.as_kwargs()) / root).resolve()
    module = _import_model_module(folder)
    loader = getattr(module, "load", None)
    if callable(loader):
        try:
            instance = loader(str(folder))
        except Exception as exc:
            raise LoaderError(f"model.py's load() failed: {type(exc).__name__}: {exc}") from exc
        predictor = getattr(instance, "predict", None)
        if not callable(predictor):
            raise LoaderError(
                f"model.py's load() returned a {type(instance).__name__}, which has no predict(inputs) method"
            )
        signature = getattr(instance, "signature", getattr(module, "signature", None))
        return PythonModel(predictor, module.__name__, signature)
    predictor = getattr(module, "predict", None)
    if not callable(predictor):
        raise LoaderError("model.py defines neither load(path) nor predict(inputs)")
    return PythonModel(predictor, module.__name__, getattr(module, "signature", None))
