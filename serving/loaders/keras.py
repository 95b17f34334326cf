"""Keras v3 models (``.keras``): a zip of ``config.json``, ``metadata.json`` and the weights.

A ``Lambda`` layer stores Python bytecode in the config and runs it on load, so a model with one needs an admin's
trust; that check reads the zip directly and works on nodes without Keras. Everything else loads with Keras'
``safe_mode``, which refuses to deserialise code.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from serving.archive import ArchiveLimits, check_zip
from serving.loaders.base import LoadedModel, LoaderError, RuntimeMissing, TrustRequired, datatype_of, tensor_spec

# Keras 3 serialises a lambda as {"class_name": "__lambda__", ...}; the layer wrapping it is "Lambda".
_CODE_CLASS_NAMES = frozenset({"Lambda", "__lambda__"})
_MAX_CONFIG_BYTES = 64 * 1024**2


def read_config(path: Path) -> dict[str, Any]:
    """The model's ``config.json``, read without Keras."""
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("config.json")
            if info.file_size > _MAX_CONFIG_BYTES:
                raise LoaderError(f"config.json is {info.file_size:,} bytes, too large for a Keras model config")
            config = json.loads(archive.read(info))
    except KeyError as exc:
        raise LoaderError("not a Keras v3 model: the archive has no config.json") from exc
    except ValueError as exc:
        raise LoaderError(f"not a Keras v3 model: config.json is not valid JSON ({exc})") from exc
    if not isinstance(config, dict):
        raise LoaderError("not a Keras v3 model: config.json is not a JSON object")
    return config


def lambda_layers(config: Any) -> list[str]:
    """Names of the layers (or bare serialised functions) in a config that carry Python code."""
    if isinstance(config, list):
        return [name for item in config for name in lambda_layers(item)]
    if not isinstance(config, dict):
        return []
    if config.get("class_name") in _CODE_CLASS_NAMES:
        inner = config.get("config")
        name = inner.get("name") if isinstance(inner, dict) else None
        return [str(name or config["class_name"])]
    return [name for value in config.values() for name in lambda_layers(value)]


def _import_keras() -> Any:
    try:
        import keras
    except ImportError as exc:
        raise RuntimeMissing("keras") from exc
    return keras


def _spec(name: str, tensor: Any) -> dict[str, Any]:
    dims = [dim if isinstance(dim, int) else -1 for dim in tensor.shape]
    return tensor_spec(name, datatype_of(str(tensor.dtype)), dims)


class KerasModel(LoadedModel):
    framework = "keras"

    def __init__(self, model: Any, keras_version: str) -> None:
        self.model = model
        self.framework_version = keras_version
        try:
            inputs = list(model.inputs)
            outputs = list(model.outputs)
            self.signature = {
                "inputs": [_spec(getattr(tensor, "name", f"input_{i}"), tensor) for i, tensor in enumerate(inputs)],
                "outputs": [_spec(getattr(tensor, "name", f"output_{i}"), tensor) for i, tensor in enumerate(outputs)],
            }
        except (AttributeError, TypeError, ValueError):
            # Subclassed models that were never built have no symbolic inputs.
            self.signature = None

    def predict(self, inputs: np.ndarray | dict[str, np.ndarray]) -> Any:
        output = self.model.predict(inputs, verbose=0)
        if isinstance(output, list | tuple):
            return {f"output_{index}": np.asarray(value) for index, value in enumerate(output)}
        if isinstance(output, dict):
            return {name: np.asarray(value) for name, value in output.items()}
        return np.asarray(output)

    def details(self) -> dict[str, Any]:
        return {"name": getattr(self.model, "name", None), "backend": _backend()}


def _backend() -> str | None:
    try:
        import keras

        return str(keras.backend.backend())
    except Exception:  # the backend name is informational
        return None


def load(path: Path, *, trusted: bool, work_dir: Path, format_name: str, options: Mapping[str, Any]) -> LoadedModel:
    check_zip(path, **ArchiveLimits.from_env().as_kwargs())
    lambdas = lambda_layers(read_config(path))
    if lambdas and not trusted:
        raise TrustRequired(
            f"this Keras model has {len(lambdas)} Lambda layer(s) ({', '.join(lambdas[:5])}), which run Python "
            "code when loaded; an admin must mark the version trusted",
            details={"lambda_layers": lambdas},
        )
    keras = _import_keras()
    # Keras only opens files whose name ends in .keras, and artifacts are stored under their hash.
    work_dir.mkdir(parents=True, exist_ok=True)
    named = work_dir / "model.keras"
    named.unlink(missing_ok=True)
    try:
        named.symlink_to(Path(path).resolve())
    except OSError:
        shutil.copyfile(path, named)
    try:
        model = keras.saving.load_model(named, safe_mode=not trusted)
    except Exception as exc:  # keras raises ValueError / TypeError / h5py errors for broken files
        raise LoaderError(f"the Keras model could not be loaded: {type(exc).__name__}: {exc}") from exc
    return KerasModel(model, str(keras.__version__))
