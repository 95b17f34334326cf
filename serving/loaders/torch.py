"""PyTorch models as TorchScript (``.pt``, ``torch.jit.save``) or torch.export programs (``.pt2``).

Both formats are zips of a serialised graph plus weights, so they need no admin's trust, with one guard:
``torch.export.load`` unpickles some payloads with ``weights_only=False``, so an untrusted .pt2 loads with
``torch.load`` forced to ``weights_only=True`` and with opaque pickled objects refused. Plain ``torch.save``
pickles are refused by ``detect_format``. PyTorch is optional on a node (``requirements-torch.txt``); without it
these formats report the runtime as missing and every other format still loads.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from serving.loaders.base import (
    LoadedModel,
    LoaderError,
    RuntimeMissing,
    TrustRequired,
    numpy_dtype_of,
    tensor_spec,
)

# TorchScript archives may carry a signature in this extra file (torch.jit.save(..., _extra_files={...})).
SIGNATURE_EXTRA_FILE = "signature.json"
# Layout of torch.export archives (torch.export.pt2_archive.constants), copied so checking needs no torch import.
_CONSTANTS_DIR = "data/constants/"
_OPAQUE_PREFIX = "opaque_obj_"
_TORCH_DATATYPES = {
    "float16": "FP16",
    "bfloat16": "BF16",
    "float32": "FP32",
    "float64": "FP64",
    "int8": "INT8",
    "int16": "INT16",
    "int32": "INT32",
    "int64": "INT64",
    "uint8": "UINT8",
    "bool": "BOOL",
}


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise RuntimeMissing("torch") from exc
    return torch


@contextlib.contextmanager
def _weights_only_torch_load(torch: Any) -> Iterator[None]:
    """Make every ``torch.load`` inside ``torch.export.load`` refuse arbitrary pickles.

    torch.export.load unpickles pickled weights and constants with ``weights_only=False`` (and falls back to it
    when a safe load fails), so a crafted .pt2 can run code. Forcing ``weights_only=True`` keeps tensors loadable
    and turns anything else into an UnpicklingError. The patch is process-wide while it lasts, which only ever
    makes a concurrent ``torch.load`` stricter.
    """
    original = torch.load

    def restricted(*args: Any, **kwargs: Any) -> Any:
        kwargs["weights_only"] = True
        return original(*args, **kwargs)

    torch.load = restricted
    try:
        yield
    finally:
        torch.load = original


def _refuse_opaque_objects(path: Path) -> None:
    """Opaque constants in a .pt2 are loaded with plain ``pickle.loads``: they need an admin's trust."""
    with zipfile.ZipFile(path) as archive:
        opaque = [
            name
            for name in archive.namelist()
            if f"/{_CONSTANTS_DIR}" in f"/{name}" and PurePosixPath(name).name.startswith(_OPAQUE_PREFIX)
        ]
    if opaque:
        raise TrustRequired(
            f"this .pt2 file has {len(opaque)} opaque Python object(s) that load with pickle, which runs code; "
            "an admin must mark the version trusted",
            details={"opaque_objects": opaque},
        )


class TorchModel(LoadedModel):
    framework = "pytorch"

    def __init__(self, module: Any, torch: Any, *, kind: str, signature: dict[str, Any] | None) -> None:
        self.module = module
        self.torch = torch
        self.kind = kind
        self.framework_version = torch.__version__
        self.signature = signature
        inputs = signature.get("inputs", []) if signature else []
        self._input_datatypes = {str(spec.get("name")): str(spec.get("datatype")) for spec in inputs}

    def _tensor(self, value: Any, name: str | None) -> Any:
        array = np.asarray(value)
        declared = numpy_dtype_of(self._input_datatypes.get(name, "BYTES") if name else "BYTES")
        if declared != np.dtype(object):
            array = array.astype(declared, copy=False)
        elif array.dtype == np.float64:
            # Without a signature, assume float32: models are almost always trained in it, and JSON numbers
            # arrive as float64.
            array = array.astype(np.float32)
        return self.torch.from_numpy(np.ascontiguousarray(array))

    def predict(self, inputs: np.ndarray | dict[str, np.ndarray]) -> Any:
        with self.torch.inference_mode():
            if isinstance(inputs, dict):
                output = self.module(**{name: self._tensor(value, name) for name, value in inputs.items()})
            else:
                first = next(iter(self._input_datatypes), None) if len(self._input_datatypes) == 1 else None
                output = self.module(self._tensor(inputs, first))
        return _to_numpy(output)

    def details(self) -> dict[str, Any]:
        return {"kind": self.kind}


def _to_numpy(output: Any) -> Any:
    """Tensors become arrays; tuples and lists of outputs become a dict output_0, output_1..."""
    if hasattr(output, "detach"):
        return output.detach().cpu().numpy()
    if isinstance(output, dict):
        return {str(name): _to_numpy(value) for name, value in output.items()}
    if isinstance(output, tuple | list):
        return {f"output_{index}": _to_numpy(value) for index, value in enumerate(output)}
    return np.asarray(output)


def _export_signature(program: Any) -> dict[str, Any] | None:
    """Read input and output shapes and dtypes from an exported program's graph; symbolic dims become -1."""
    try:
        user_inputs = set(program.graph_signature.user_inputs)

        def spec(name: str, value: Any) -> dict[str, Any]:
            dims = [dim if isinstance(dim, int) else -1 for dim in value.shape]
            datatype = _TORCH_DATATYPES.get(str(value.dtype).removeprefix("torch."), "BYTES")
            return tensor_spec(name, datatype, dims)

        inputs, outputs = [], []
        for node in program.graph.nodes:
            if node.op == "placeholder" and node.name in user_inputs:
                inputs.append(spec(node.name, node.meta["val"]))
            elif node.op == "output":
                results = node.args[0] if isinstance(node.args[0], tuple | list) else [node.args[0]]
                for index, result in enumerate(results):
                    outputs.append(spec(f"output_{index}", result.meta["val"]))
        return {"inputs": inputs, "outputs": outputs}
    except Exception:  # the graph layout is an implementation detail of torch.export; a signature is a bonus
        return None


def _torchscript_signature(raw: bytes | str) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        signature = json.loads(raw)
    except ValueError as exc:
        raise LoaderError(f"the TorchScript archive's {SIGNATURE_EXTRA_FILE} is not valid JSON: {exc}") from exc
    if not isinstance(signature, dict) or not isinstance(signature.get("inputs"), list):
        raise LoaderError(f"the TorchScript archive's {SIGNATURE_EXTRA_FILE} must be an object with an inputs list")
    return signature


def _check_layout(path: Path, format_name: str) -> None:
    """A TorchScript or torch.export zip has one top-level folder holding data.pkl or a model archive.

    Checked before importing torch (seconds of start-up), so an upload that is no torch file at all is answered
    at once.
    """
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    tops = {name.split("/", 1)[0] for name in names if "/" in name}
    if format_name == "torchscript" and not (len(tops) == 1 and f"{next(iter(tops))}/data.pkl" in names):
        raise LoaderError(
            "not a valid TorchScript file (.pt): no data.pkl in one top-level folder; save the model with "
            "torch.jit.save"
        )
    if format_name == "torch_export" and len(tops) != 1:
        raise LoaderError(
            "not a valid torch.export program (.pt2): expected one top-level folder; use torch.export.save"
        )


def load(path: Path, *, trusted: bool, work_dir: Path, format_name: str, options: Mapping[str, Any]) -> LoadedModel:
    _check_layout(path, format_name)
    torch = _import_torch()
    if format_name == "torch_export":
        if not trusted:
            _refuse_opaque_objects(path)
        try:
            with contextlib.nullcontext() if trusted else _weights_only_torch_load(torch):
                program = torch.export.load(str(path))
            module = program.module()
        except pickle.UnpicklingError as exc:
            raise TrustRequired(
                "this .pt2 file stores pickled Python objects beyond plain tensors, and unpickling them can run "
                "code; an admin must mark the version trusted",
                details={"error": " ".join(str(exc).split())},
            ) from exc
        except Exception as exc:  # torch raises RuntimeError / KeyError / pickle errors for foreign zips
            raise LoaderError(f"not a valid torch.export program (.pt2): {type(exc).__name__}: {exc}") from exc
        # Exported modules refuse .eval(); they are traced in inference form already.
        return TorchModel(module, torch, kind="torch.export", signature=_export_signature(program))
    extra_files = {SIGNATURE_EXTRA_FILE: ""}
    try:
        with warnings.catch_warnings():
            # TorchScript is deprecated upstream but still what many teams export; the warning helps nobody here.
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra_files)
    except Exception as exc:
        raise LoaderError(f"not a valid TorchScript file (.pt): {type(exc).__name__}: {exc}") from exc
    module.eval()
    signature = _torchscript_signature(extra_files[SIGNATURE_EXTRA_FILE])
    return TorchModel(module, torch, kind="torchscript", signature=signature)
