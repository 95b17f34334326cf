"""KServe v1 and Open Inference Protocol v2 payloads: parsing, signature checks and responses. Pure logic.

Every problem with a request becomes a `ProtocolError` whose message names the field at fault, so the model
server answers 400 with it instead of failing inside the model. Messages are for the client: they quote at most a
short excerpt of what the client sent and never the server's internals (paths, tracebacks, object reprs).
Per-deployment `Limits` bound the body, the number of values and the JSON nesting before numpy sees any of it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from serving.loaders.base import datatype_of, numpy_dtype_of

MAX_ELEMENTS = 10_000_000
MAX_BODY_BYTES = 16 * 1024**2
MAX_DEPTH = 32
MAX_VERSION_DIGITS = 9
ENVELOPE_VALUES = 1000  # names, datatypes and shapes around the tensors' values
JSON_MEDIA_TYPES = ("application/json", "text/plain", "application/x-www-form-urlencoded")  # curl -d sends the last
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


@dataclass(frozen=True)
class Limits:
    """What one request may hold (per deployment, from `user_config["limits"]`; defaults from the settings)."""

    max_body_bytes: int = MAX_BODY_BYTES
    max_elements: int = MAX_ELEMENTS
    max_depth: int = MAX_DEPTH

    @classmethod
    def from_user_config(cls, raw: Any) -> Limits:
        """Positive whole numbers are taken, anything else keeps the default: a bad limit must not stop serving."""
        values = {}
        for limit in fields(cls):
            value = raw.get(limit.name) if isinstance(raw, dict) else None
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                values[limit.name] = value
        return cls(**values)


def shown(value: Any, limit: int = 40) -> str:
    """A client's value quoted in a message: short, printable, never a multi-kilobyte echo."""
    text = "".join(char if char.isprintable() else "?" for char in repr(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


INTERNALS = re.compile(r"(?:/[\w.\-]+){2,}|[A-Za-z]:\\[^\s'\"]+|<[^<>]* at 0x[0-9a-f]+>|0x[0-9a-f]{6,}")


def client_message(text: str, limit: int = 300) -> str:
    """Text of an exception raised on a client's input, fit to show the client: no paths, no object addresses,
    first line only, bounded."""
    first = str(text).strip().splitlines()[0] if str(text).strip() else ""
    cleaned = INTERNALS.sub("…", first)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def check_content_type(content_type: str | None) -> None:
    """JSON bodies only. No header, `text/plain` and curl's default form type are read as JSON (clients send
    those for JSON all the time); a multipart, binary or other explicit type is refused."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media and media not in JSON_MEDIA_TYPES and not media.endswith("+json"):
        raise ProtocolError(f"Content-Type must be application/json, not {shown(media)}")


def parse_version(raw: str, source: str) -> int:
    """A version number from a header or path segment: ASCII digits only (`isdigit()` also takes `²` and `٣`)."""
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_VERSION_DIGITS:
        raise ProtocolError(f"{source} must be a version number such as 3, not {shown(raw)}")
    return int(text)


def check_declared_length(content_length: str | None, limits: Limits) -> None:
    """Refuse from the Content-Length header, before reading a byte of the body."""
    if content_length is None:
        return
    text = content_length.strip()
    if not (text.isascii() and text.isdigit()):
        raise ProtocolError(f"Content-Length must be a whole number of bytes, not {shown(content_length)}")
    if int(text) > limits.max_body_bytes:
        raise ProtocolError(body_too_large(int(text), limits), status=413)


def body_too_large(size: int, limits: Limits) -> str:
    return f"request body is {size:,} bytes or more; this model accepts at most {limits.max_body_bytes:,}"


def shape_of_json(payload: Any, limits: Limits) -> tuple[int, int]:
    """(nesting depth, number of values) of parsed JSON, without recursion, stopping as soon as a limit is passed:
    numpy would otherwise allocate for every value before any check, and recursion is what deep nesting attacks."""
    depth, values = 0, 0
    pending: list[tuple[Any, int]] = [(payload, 1)]
    while pending:
        node, level = pending.pop()
        if level > limits.max_depth:
            raise ProtocolError(f"request body is nested more than {limits.max_depth} levels deep")
        depth = max(depth, level)
        children = node.values() if isinstance(node, dict) else node
        nested = [(child, level + 1) for child in children if isinstance(child, list | dict)]
        values += len(node) - len(nested)
        if values > limits.max_elements + ENVELOPE_VALUES:
            raise ProtocolError(f"request body holds more than {limits.max_elements:,} values", status=413)
        pending.extend(nested)
    return depth, values


def load_json(body: bytes, limits: Limits | None = None) -> dict[str, Any]:
    limits = limits or Limits()
    if len(body) > limits.max_body_bytes:
        raise ProtocolError(body_too_large(len(body), limits), status=413)
    try:
        payload = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "it is not UTF-8 text"
        raise ProtocolError(f"request body is not valid JSON: {reason}{where}") from None
    except RecursionError:
        raise ProtocolError(f"request body is nested more than {limits.max_depth} levels deep") from None
    except ValueError as exc:  # e.g. an integer literal with more digits than Python converts
        raise ProtocolError(f"request body is not valid JSON: {client_message(str(exc))}") from None
    if not isinstance(payload, dict):
        raise ProtocolError("request body must be a JSON object")
    shape_of_json(payload, limits)
    return payload


def parse_v1(body: bytes, signature: dict[str, Any] | None, limits: Limits | None = None) -> np.ndarray:
    """`{"instances": [[...], ...]}` (or `"inputs"`) → a batch array checked against the signature."""
    payload = load_json(body, limits)
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
    except (ValueError, TypeError, OverflowError) as exc:
        raise ProtocolError(
            f'"{key}" must be rows of equal length holding {describe(spec)}: {client_message(str(exc))}'
        ) from None
    if array.dtype == object:
        raise ProtocolError(f'"{key}" rows must all have the same length')
    if spec:
        check_shape(array, spec, field=key)
    return array


def parse_v2(
    body: bytes, signature: dict[str, Any] | None, limits: Limits | None = None
) -> tuple[np.ndarray | dict[str, np.ndarray], str | None]:
    """`{"inputs": [{"name", "shape", "datatype", "data"}]}` → arrays by name (or the single array), request id."""
    limits = limits or Limits()
    payload = load_json(body, limits)
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
        arrays[name] = tensor_array(tensor, field, limits)
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


def tensor_array(tensor: dict[str, Any], field: str, limits: Limits | None = None) -> np.ndarray:
    limits = limits or Limits()
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(isinstance(dim, int) and not isinstance(dim, bool) for dim in shape):
        raise ProtocolError(f"{field}.shape must be a list of whole numbers")
    if any(dim < 0 for dim in shape):
        raise ProtocolError(f"{field}.shape must not contain negative sizes: {shape}")
    elements = math.prod(shape)
    if elements > limits.max_elements:
        raise ProtocolError(f"{field} has {elements:,} elements; the limit is {limits.max_elements:,}", status=413)
    datatype = tensor.get("datatype")
    if not isinstance(datatype, str) or datatype not in DATATYPES:
        raise ProtocolError(f"{field}.datatype {shown(datatype)} is not one of {', '.join(DATATYPES)}")
    dtype = numpy_dtype_of(datatype)
    data = tensor.get("data")
    if not isinstance(data, list):
        raise ProtocolError(f"{field}.data must be a list")
    try:
        array = np.asarray(data, dtype=object if datatype == "BYTES" else dtype)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ProtocolError(f"{field}.data does not hold {datatype} values: {client_message(str(exc))}") from None
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
