"""KServe v1 and Open Inference Protocol v2 payloads: parsing, signature checks and responses. Pure logic.

Every problem with a request becomes a `ProtocolError` whose message names the field at fault, so the model
server answers 400 with it instead of failing inside the model.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from serving.loaders.base import datatype_of, numpy_dtype_of

MAX_ELEMENTS = 50_000_000
DATATYPES = (
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
)


class ProtocolError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def load_json(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise ProtocolError("request body must be a JSON object")
    return payload


def parse_v1(body: bytes, signature: dict[str, Any] | None) -> np.ndarray:
    """`{"instances": [[...], ...]}` (or `"inputs"`) → a batch array checked against the signature."""
    payload = load_json(body)
    key = "instances" if "instances" in payload else "inputs" if "inputs" in payload else None
    if key is None:
        raise ProtocolError('request must have an "instances" list, e.g. {"instances": [[5.1, 3.5, 1.4, 0.2]]}')
    instances = payload[key]
    if not isinstance(instances, list) or not instances:
        raise ProtocolError(f'"{key}" must be a non-empty list of rows')
    spec = single_input(signature)
    dtype = numpy_dtype_of(spec["datatype"]) if spec else None
    try:
        array = np.asarray(instances, dtype=dtype) if dtype is not None and dtype.kind != "O" else np.asarray(instances)
    except (ValueError, TypeError) as exc:
        raise ProtocolError(f'"{key}" must be rows of equal length holding {describe(spec)}: {exc}') from exc
    if array.dtype == object:
        raise ProtocolError(f'"{key}" rows must all have the same length')
    if spec:
        check_shape(array, spec, field=key)
    return array


def parse_v2(body: bytes, signature: dict[str, Any] | None) -> tuple[np.ndarray | dict[str, np.ndarray], str | None]:
    """`{"inputs": [{"name", "shape", "datatype", "data"}]}` → arrays by name (or the single array), request id."""
    payload = load_json(body)
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise ProtocolError('request must have a non-empty "inputs" list of tensors {name, shape, datatype, data}')
    arrays: dict[str, np.ndarray] = {}
    for index, tensor in enumerate(inputs):
        field = f"inputs[{index}]"
        if not isinstance(tensor, dict):
            raise ProtocolError(f"{field} must be an object with name, shape, datatype and data")
        name = tensor.get("name")
        if not isinstance(name, str) or not name:
            raise ProtocolError(f"{field}.name must be a non-empty string")
        arrays[name] = tensor_array(tensor, field)
    request_id = payload.get("id") if isinstance(payload.get("id"), str) else None
    expected = (signature or {}).get("inputs") or []
    if len(expected) == 1 and len(arrays) == 1:
        # A single-input model: accept whatever the client named its tensor.
        (array,) = arrays.values()
        check_shape(array, expected[0], field="inputs[0]")
        return array, request_id
    if expected:
        names = {spec["name"] for spec in expected}
        missing, extra = names - set(arrays), set(arrays) - names
        if missing or extra:
            raise ProtocolError(
                f"inputs must be named {sorted(names)}; missing {sorted(missing)}, unknown {sorted(extra)}"
            )
        for spec in expected:
            check_shape(arrays[spec["name"]], spec, field=f"inputs[{spec['name']}]")
    if len(arrays) == 1:
        return next(iter(arrays.values())), request_id
    return arrays, request_id


def tensor_array(tensor: dict[str, Any], field: str) -> np.ndarray:
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(isinstance(dim, int) and not isinstance(dim, bool) for dim in shape):
        raise ProtocolError(f"{field}.shape must be a list of whole numbers")
    if any(dim < 0 for dim in shape):
        raise ProtocolError(f"{field}.shape must not contain negative sizes: {shape}")
    elements = math.prod(shape)
    if elements > MAX_ELEMENTS:
        raise ProtocolError(f"{field} has {elements:,} elements; the limit is {MAX_ELEMENTS:,}", status=413)
    datatype = tensor.get("datatype")
    if datatype not in DATATYPES:
        raise ProtocolError(f"{field}.datatype {datatype!r} is not one of {', '.join(DATATYPES)}")
    dtype = numpy_dtype_of(datatype)
    data = tensor.get("data")
    if not isinstance(data, list):
        raise ProtocolError(f"{field}.data must be a list")
    try:
        array = np.asarray(data, dtype=object if datatype == "BYTES" else dtype)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ProtocolError(f"{field}.data does not hold {datatype} values: {exc}") from exc
    if array.size != elements:
        raise ProtocolError(f"{field}.data has {array.size} values but shape {shape} needs {elements}")
    return array.reshape(shape)


def single_input(signature: dict[str, Any] | None) -> dict[str, Any] | None:
    inputs = (signature or {}).get("inputs") or []
    return inputs[0] if len(inputs) == 1 else None


def describe(spec: dict[str, Any] | None) -> str:
    return f"{spec['datatype']} values" if spec else "numbers"


def check_shape(array: np.ndarray, spec: dict[str, Any], *, field: str) -> None:
    expected = list(spec.get("shape") or [])
    if not expected:
        return
    if array.ndim != len(expected):
        if array.ndim == len(expected) - 1 and len(expected) >= 2:
            raise ProtocolError(
                f"{field} must be a batch of rows (shape {expected}); wrap a single row in a list: [[...]]"
            )
        raise ProtocolError(f"{field} has shape {list(array.shape)}; the model expects {expected}")
    for axis, (got, want) in enumerate(zip(array.shape, expected, strict=True)):
        if want != -1 and got != want:
            raise ProtocolError(
                f"{field} has {got} values on axis {axis}; the model expects {want} (input '{spec['name']}', "
                f"shape {expected})"
            )


def jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def format_v1(predictions: Any) -> dict[str, Any]:
    return {"predictions": jsonable(predictions)}


def format_v2(
    *, model: str, version: int, outputs: Any, request_id: str | None, signature: dict[str, Any] | None
) -> dict[str, Any]:
    named = outputs if isinstance(outputs, dict) else {output_name(signature): outputs}
    tensors = []
    for name, value in named.items():
        array = np.asarray(value)
        datatype = "BYTES" if array.dtype.kind in "OUS" else datatype_of(array.dtype)
        data = array.astype(str) if datatype == "BYTES" else array
        tensors.append({"name": name, "shape": list(array.shape), "datatype": datatype, "data": data.ravel().tolist()})
    response: dict[str, Any] = {"model_name": model, "model_version": str(version), "outputs": tensors}
    if request_id is not None:
        response["id"] = request_id
    return response


def output_name(signature: dict[str, Any] | None) -> str:
    outputs = (signature or {}).get("outputs") or []
    return outputs[0]["name"] if outputs else "output-0"
