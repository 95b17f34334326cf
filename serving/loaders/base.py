"""What every format loader returns and raises.

The control plane validates uploads and the model server loads them through the same code, so the errors carry
messages meant for the person who uploaded the model, and ``LoadedModel.describe()`` is what the console shows.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

__all__ = [
    "REQUIREMENTS_FILES",
    "EstimatorModel",
    "LoadedModel",
    "LoaderError",
    "RuntimeMissing",
    "TrustRequired",
    "datatype_of",
    "numpy_dtype_of",
    "tensor_spec",
]

# Which requirements file installs each optional framework on a node.
REQUIREMENTS_FILES = {
    "torch": "requirements-torch.txt",
    "keras": "requirements-keras.txt",
    "tensorflow": "requirements-keras.txt",
}
_PACKAGE_LABELS = {"torch": "PyTorch", "keras": "Keras", "tensorflow": "TensorFlow"}


class LoaderError(Exception):
    """The file is not a loadable model; the message says why, for the person who uploaded it."""


class RuntimeMissing(LoaderError):
    """The model may be fine, but its framework is not installed on this node."""

    def __init__(self, package: str, message: str | None = None) -> None:
        self.package = package
        requirements = REQUIREMENTS_FILES.get(package, "requirements.txt")
        label = _PACKAGE_LABELS.get(package, package)
        super().__init__(
            message
            or f"{label} is not installed on this node (Python package {package!r}); "
            f"install it with `pip install -r {requirements}`"
        )


class TrustRequired(LoaderError):
    """Loading would run code from the file; an admin must mark the version trusted first."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


_DATATYPES = {
    "float16": "FP16",
    "float32": "FP32",
    "float64": "FP64",
    "int8": "INT8",
    "int16": "INT16",
    "int32": "INT32",
    "int64": "INT64",
    "uint8": "UINT8",
    "uint16": "UINT16",
    "uint32": "UINT32",
    "uint64": "UINT64",
    "bool": "BOOL",
}
_NUMPY_TYPES = {datatype: np.dtype(name) for name, datatype in _DATATYPES.items()}


def datatype_of(dtype: Any) -> str:
    """The Open Inference Protocol v2 datatype name for a numpy dtype; strings and objects travel as BYTES."""
    return _DATATYPES.get(np.dtype(dtype).name, "BYTES")


def numpy_dtype_of(datatype: str) -> np.dtype:
    """The numpy dtype for an Open Inference Protocol datatype name (BYTES becomes object)."""
    return _NUMPY_TYPES.get(datatype, np.dtype(object))


def tensor_spec(name: str, datatype: str, shape: list[int] | tuple[int, ...]) -> dict[str, Any]:
    """One input or output of a signature; -1 marks a dynamic dimension."""
    return {"name": name, "datatype": datatype, "shape": [int(n) for n in shape]}


class LoadedModel(ABC):
    """A model ready to serve, whatever its format.

    ``predict`` takes a batch: one numpy array of rows, or a dict of name → array for models with several inputs.
    """

    framework: str = ""
    framework_version: str | None = None
    signature: dict[str, Any] | None = None
    # The folder unpacked files live in when ``load`` created it; kept here so it is removed with the model.
    temporary_work_dir: Any = None

    @abstractmethod
    def predict(self, inputs: np.ndarray | dict[str, np.ndarray]) -> Any:
        """Run the model on a batch and return a numpy array, or a dict of them for several outputs."""

    def details(self) -> dict[str, Any]:
        """Format-specific facts worth showing in the console (classes, producer, opset...)."""
        return {}

    def describe(self) -> dict[str, Any]:
        return {
            "framework": self.framework,
            "framework_version": self.framework_version,
            "signature": self.signature,
            "details": self.details(),
        }


def _module_version(module_name: str) -> str | None:
    """The version of an already imported top-level package, without importing anything new."""
    module = sys.modules.get(module_name.partition(".")[0])
    version = getattr(module, "__version__", None)
    return str(version) if version is not None else None


_FRAMEWORK_NAMES = {"sklearn": "scikit-learn", "xgboost": "xgboost", "lightgbm": "lightgbm", "catboost": "catboost"}


class EstimatorModel(LoadedModel):
    """Any Python object with a ``predict`` method: scikit-learn estimators, pipelines, and look-alikes.

    Used by the skops, pickle, joblib and pyfunc loaders. ``method`` picks ``predict_proba`` or another
    estimator method for the served output.
    """

    def __init__(self, estimator: Any, *, method: str = "predict", framework: str | None = None) -> None:
        if not callable(getattr(estimator, method, None)):
            raise LoaderError(
                f"the loaded object is a {type(estimator).__module__}.{type(estimator).__qualname__}, "
                f"which has no {method}() method to serve"
            )
        self.estimator = estimator
        self.method = method
        package = type(estimator).__module__.partition(".")[0]
        self.framework = framework or _FRAMEWORK_NAMES.get(package, package)
        self.framework_version = _module_version(package)
        self.signature = self._signature()

    def _signature(self) -> dict[str, Any] | None:
        n_features = getattr(self.estimator, "n_features_in_", None)
        if not isinstance(n_features, int | np.integer):
            return None
        classes = getattr(self.estimator, "classes_", None)
        if self.method in ("predict_proba", "predict_log_proba", "decision_function") and classes is not None:
            outputs = [tensor_spec(self.method, "FP64", [-1, len(classes)])]
        elif self.method == "predict" and isinstance(classes, np.ndarray):
            outputs = [tensor_spec("predict", datatype_of(classes.dtype), [-1])]
        elif self.method == "predict":
            n_outputs = getattr(self.estimator, "n_outputs_", 1)
            outputs = [tensor_spec("predict", "FP64", [-1] if n_outputs == 1 else [-1, n_outputs])]
        else:
            outputs = []
        return {"inputs": [tensor_spec("input", "FP64", [-1, int(n_features)])], "outputs": outputs}

    def predict(self, inputs: np.ndarray | dict[str, np.ndarray]) -> Any:
        if isinstance(inputs, dict):
            if len(inputs) != 1:
                raise ValueError(f"this model takes one input array, got {len(inputs)}: {sorted(inputs)}")
            inputs = next(iter(inputs.values()))
        return np.asarray(getattr(self.estimator, self.method)(inputs))

    def details(self) -> dict[str, Any]:
        estimator_type = type(self.estimator)
        facts: dict[str, Any] = {
            "class": f"{estimator_type.__module__}.{estimator_type.__qualname__}",
            "method": self.method,
        }
        classes = getattr(self.estimator, "classes_", None)
        if isinstance(classes, np.ndarray) and classes.ndim == 1:
            facts["classes"] = classes.tolist()
        feature_names = getattr(self.estimator, "feature_names_in_", None)
        if isinstance(feature_names, np.ndarray):
            facts["feature_names"] = [str(name) for name in feature_names]
        return facts
