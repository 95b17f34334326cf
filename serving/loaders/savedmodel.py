"""TensorFlow SavedModels, uploaded as a zip of the SavedModel folder.

A SavedModel is a graph of TensorFlow operations, and that graph can read and write files (``ReadFile``,
``WriteFile``, ``tf.io`` ops, py_func stubs), so loading one needs an admin's trust like any format that can run
code. The zip is checked before TensorFlow is imported (a bad archive is reported as such on any node), then
unpacked with byte counting into the work folder. TensorFlow is optional (``requirements-keras.txt``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from serving.archive import ArchiveLimits, check_zip, folder_holding, safe_extract
from serving.loaders.base import LoadedModel, LoaderError, RuntimeMissing, TrustRequired, datatype_of, tensor_spec

SERVING_SIGNATURE = "serving_default"


def _import_tensorflow() -> Any:
    try:
        import tensorflow
    except ImportError as exc:
        raise RuntimeMissing("tensorflow") from exc
    return tensorflow


def _spec(name: str, tensor_spec_: Any) -> dict[str, Any]:
    dims = [dim if isinstance(dim, int) else -1 for dim in tensor_spec_.shape.as_list()]
    return tensor_spec(name, datatype_of(tensor_spec_.dtype.name), dims)


class SavedModel(LoadedModel):
    framework = "tensorflow"

    def __init__(self, loaded: Any, function: Any, signature_name: str, tensorflow: Any) -> None:
        self.loaded = loaded
        self.function = function
        self.signature_name = signature_name
        self.tf = tensorflow
        self.framework_version = str(tensorflow.__version__)
        _, input_specs = function.structured_input_signature
        self.input_specs = dict(input_specs)
        outputs = function.structured_outputs
        self.signature = {
            "inputs": [_spec(name, spec) for name, spec in sorted(self.input_specs.items())],
            "outputs": [_spec(name, spec) for name, spec in sorted(outputs.items())]
            if isinstance(outputs, dict)
            else [],
        }

    def _tensor(self, name: str, value: Any) -> Any:
        spec = self.input_specs.get(name)
        if spec is None:
            raise ValueError(f"unknown input {name!r}; this model takes {sorted(self.input_specs)}")
        return self.tf.constant(np.asarray(value), dtype=spec.dtype)

    def predict(self, inputs: np.ndarray | dict[str, np.ndarray]) -> Any:
        if isinstance(inputs, dict):
            feeds = {name: self._tensor(name, value) for name, value in inputs.items()}
        elif len(self.input_specs) == 1:
            (name,) = self.input_specs
            feeds = {name: self._tensor(name, inputs)}
        else:
            raise ValueError(f"this model takes {len(self.input_specs)} inputs {sorted(self.input_specs)}; pass a dict")
        outputs = {name: np.asarray(value) for name, value in self.function(**feeds).items()}
        if not isinstance(inputs, dict) and len(outputs) == 1:
            return next(iter(outputs.values()))
        return outputs

    def details(self) -> dict[str, Any]:
        return {"signature_name": self.signature_name, "signatures": sorted(self.loaded.signatures.keys())}


def load(path: Path, *, trusted: bool, work_dir: Path, format_name: str, options: Mapping[str, Any]) -> LoadedModel:
    limits = ArchiveLimits.from_env()
    root = folder_holding(check_zip(path, **limits.as_kwargs()), "saved_model.pb")
    if root is None:
        raise LoaderError("not a SavedModel: no saved_model.pb at the root of the zip or in its one top-level folder")
    if not trusted:
        raise TrustRequired(
            "TensorFlow SavedModels are graphs whose operations can read and write files on the server; an admin "
            "must mark this version trusted before it is loaded",
            details={"reason": "savedmodel_graph_ops"},
        )
    tensorflow = _import_tensorflow()
    folder = safe_extract(path, work_dir / "savedmodel", **limits.as_kwargs()) / root
    try:
        loaded = tensorflow.saved_model.load(str(folder))
    except Exception as exc:  # TensorFlow raises OSError / ValueError / its own errors for broken SavedModels
        raise LoaderError(f"the SavedModel could not be loaded: {type(exc).__name__}: {exc}") from exc
    signatures = dict(loaded.signatures)
    if not signatures:
        raise LoaderError("the SavedModel has no serving signatures; export it with a signature to serve it")
    name = str(options.get("signature", SERVING_SIGNATURE))
    if name not in signatures:
        if "signature" in options:
            raise LoaderError(f"the SavedModel has no signature {name!r}; it has {sorted(signatures)}")
        name = sorted(signatures)[0]
    return SavedModel(loaded, signatures[name], name, tensorflow)
