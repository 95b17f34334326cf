"""Model objects to files the server loads without trusting them: `client.log_model` serializes with these.

- a fitted scikit-learn estimator (or pipeline) → `.skops` (skops.io.dump; needs `skops`);
- a `torch.nn.Module` with an example input → `.pt2` (torch.export, the batch dimension left dynamic) or `.pt`
  (TorchScript by tracing, with its signature stored beside it) — only when torch is installed;
- a Keras 3 model → `.keras`;
- a path → the file as it is.

A framework is recognised only when the caller has already imported it (`sys.modules`): the SDK imports none of
them for a user who does not use them.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

TORCH_FORMATS = ("torch_export", "torchscript")
TORCH_DATATYPES = {
    "float16": "FP16",
    "float32": "FP32",
    "float64": "FP64",
    "int8": "INT8",
    "int16": "INT16",
    "int32": "INT32",
    "int64": "INT64",
    "uint8": "UINT8",
    "bool": "BOOL",
}


def instance_of(obj: Any, module: str, attribute: str) -> bool:
    """isinstance against `module.attribute` when the module is already imported; False otherwise."""
    loaded = sys.modules.get(module)
    cls = getattr(loaded, attribute, None) if loaded is not None else None
    return isinstance(cls, type) and isinstance(obj, cls)


def kind_of(obj: Any) -> str:
    if isinstance(obj, str | os.PathLike):
        return "path"
    if instance_of(obj, "sklearn.base", "BaseEstimator"):
        return "sklearn"
    if instance_of(obj, "torch.nn", "Module"):
        return "torch"
    if instance_of(obj, "keras", "Model"):
        return "keras"
    raise TypeError(
        f"log_model takes a fitted scikit-learn estimator, a torch.nn.Module (with example_input=...), a Keras model "
        f"or the path of a model file, not {type(obj).__module__}.{type(obj).__qualname__}"
    )


def serialize(
    obj: Any, folder: Path, *, name: str, example_input: Any = None, format: str | None = None
) -> tuple[Path, str]:
    """(the file to upload, what it is: path, sklearn, torch_export, torchscript or keras)."""
    kind = kind_of(obj)
    if kind == "path":
        path = Path(obj).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"no model file at {path}")
        return path, "path"
    if kind == "sklearn":
        return write_skops(obj, folder / f"{name}.skops"), "sklearn"
    if kind == "torch":
        chosen = format or "torch_export"
        if chosen not in TORCH_FORMATS:
            raise ValueError(f"format for a torch model is one of {', '.join(TORCH_FORMATS)}, not {format!r}")
        if example_input is None:
            raise ValueError("a torch model needs example_input=... (one batch of inputs, as a tensor) to be exported")
        if chosen == "torch_export":
            return write_torch_export(obj, example_input, folder / f"{name}.pt2"), chosen
        return write_torchscript(obj, example_input, folder / f"{name}.pt"), chosen
    return write_keras(obj, folder / f"{name}.keras"), "keras"


def write_skops(estimator: Any, path: Path) -> Path:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(estimator)
    except NotFittedError as exc:
        raise ValueError(f"the {type(estimator).__name__} is not fitted: call fit() before logging it") from exc
    try:
        import skops.io
    except ImportError as exc:
        raise ImportError("logging a scikit-learn model needs skops: pip install skops") from exc
    skops.io.dump(estimator, path)
    return path


def examples_of(example_input: Any) -> tuple[Any, ...]:
    return tuple(example_input) if isinstance(example_input, tuple | list) else (example_input,)


def write_torch_export(module: Any, example_input: Any, path: Path) -> Path:
    import torch

    examples = examples_of(example_input)
    batch = torch.export.Dim.AUTO
    dynamic = tuple({0: batch} if getattr(example, "dim", lambda: 0)() > 0 else None for example in examples)
    module.eval()
    program = torch.export.export(module, examples, dynamic_shapes=dynamic)
    torch.export.save(program, str(path))
    return path


def tensor_spec(name: str, tensor: Any) -> dict[str, Any]:
    datatype = TORCH_DATATYPES.get(str(tensor.dtype).removeprefix("torch."), "FP32")
    return {"name": name, "datatype": datatype, "shape": [-1, *list(tensor.shape)[1:]]}


def write_torchscript(module: Any, example_input: Any, path: Path) -> Path:
    """TorchScript by tracing; the signature (inputs and outputs, batch dimension dynamic) goes in the archive's
    `signature.json`, where the server's loader reads it."""
    import torch

    examples = examples_of(example_input)
    module.eval()
    with torch.no_grad():
        traced = torch.jit.trace(module, examples)
        output = traced(*examples)
    outputs = output if isinstance(output, tuple | list) else (output,)
    signature = {
        "inputs": [tensor_spec(f"input-{index}", example) for index, example in enumerate(examples)],
        "outputs": [tensor_spec(f"output-{index}", tensor) for index, tensor in enumerate(outputs)],
    }
    torch.jit.save(traced, str(path), _extra_files={"signature.json": json.dumps(signature)})
    return path


def write_keras(model: Any, path: Path) -> Path:
    model.save(str(path))
    return path
