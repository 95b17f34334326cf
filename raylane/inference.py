"""Predictions against the Serve ingress: KServe v1 (`/v1/models/<name>:predict`) and the Open Inference Protocol v2
(`/v2/models/<name>/infer`). Inference never passes through the control plane, and the control plane's token is
never sent to it; a deployment that requires a data-plane key takes it as `key`.

Where the ingress listens: the server says (`GET /api/v1/info/`, its RAYLANE_SERVE_URL or its host on
RAYLANE_SERVE_PORT). A server too old to say is asked the way the console page announces it
(`<meta name="raylane-serve-port">`), else the port is the default 8080. RAYLANE_SERVE_URL (or `serve_url=`) on the
client overrides both.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlsplit

import httpx

from .errors import error_from_response
from .transport import decoded, unreachable
from .types import Prediction

DEFAULT_SERVE_PORT = 8080
SERVE_PORT_META = re.compile(r"""<meta\s+name=["']raylane-serve-port["']\s+content=["'](\d{1,5})["']""")
VERSION_HEADER = "X-Raylane-Version"
SESSION_HEADER = "X-Raylane-Session"
KEY_HEADER = "X-Raylane-Key"
PROTOCOLS = ("v1", "v2")


def serve_url_from_page(base: str, page: str | None) -> str:
    """The ingress URL on the control plane's host, with the port its console page announces (else 8080)."""
    match = SERVE_PORT_META.search(page or "")
    port = int(match.group(1)) if match else DEFAULT_SERVE_PORT
    parts = urlsplit(base)
    host = parts.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}:{port}"


def discover_serve_url(http: httpx.Client, base: str) -> str:
    try:
        info = http.get("/api/v1/info/")
        body = decoded(info) if info.status_code == 200 else None
        announced = body.get("serve_url") if isinstance(body, dict) else None
        if isinstance(announced, str) and announced:
            return announced.rstrip("/")
        response = http.get("/", headers={"Accept": "text/html"})
        page = response.text if response.status_code == 200 else None
    except httpx.HTTPError as exc:
        raise unreachable(base, exc) from exc
    return serve_url_from_page(base, page)


def shape_of(data: Any) -> list[int]:
    """The shape of a nested list of numbers, checked to be rectangular."""
    if not isinstance(data, list | tuple):
        return []
    if not data:
        return [0]
    inner = [shape_of(item) for item in data]
    if any(shape != inner[0] for shape in inner):
        raise ValueError("the rows of data have different lengths: a tensor must be rectangular")
    return [len(data), *inner[0]]


def flattened(data: Any) -> list[Any]:
    if isinstance(data, list | tuple):
        return [value for item in data for value in flattened(item)]
    return [data]


def datatype_of(values: list[Any]) -> str:
    if values and all(isinstance(value, bool) for value in values):
        return "BOOL"
    if all(isinstance(value, int) and not isinstance(value, bool) for value in values):
        return "INT64"
    if all(isinstance(value, int | float) and not isinstance(value, bool) for value in values):
        return "FP64"
    if all(isinstance(value, str) for value in values):
        return "BYTES"
    raise ValueError("data must hold numbers, booleans or strings")


def as_list(data: Any) -> Any:
    """NumPy arrays (and anything with `tolist`) as plain lists."""
    return data.tolist() if hasattr(data, "tolist") else data


def v1_payload(data: Any) -> dict[str, Any]:
    """`{"instances": rows}`; a dict that already is a v1 body (instances or inputs) is sent as it is."""
    data = as_list(data)
    if isinstance(data, dict) and ("instances" in data or "inputs" in data):
        return data
    if not isinstance(data, list):
        raise ValueError('v1 data must be a list of rows (instances) or a {"instances": [...]} body')
    return {"instances": data}


def v2_payload(data: Any, *, name: str = "input-0", datatype: str | None = None) -> dict[str, Any]:
    """One tensor from nested lists (its shape and datatype worked out), or a `{"inputs": [...]}` body as it is."""
    data = as_list(data)
    if isinstance(data, dict) and "inputs" in data:
        return data
    if not isinstance(data, list):
        raise ValueError('v2 data must be a nested list of values or an {"inputs": [...]} body')
    values = flattened(data)
    return {
        "inputs": [{"name": name, "shape": shape_of(data), "datatype": datatype or datatype_of(values), "data": values}]
    }


def reshaped(values: list[Any], shape: list[int]) -> Any:
    if len(shape) <= 1:
        return list(values)
    step = math.prod(shape[1:])
    return [reshaped(values[index * step : (index + 1) * step], shape[1:]) for index in range(shape[0])]


def prediction_from(model: str, protocol: str, response: httpx.Response) -> Prediction:
    body = decoded(response)
    if response.status_code >= 400:
        raise error_from_response(response.status_code, body, what=f"model '{model}' on the inference server")
    if not isinstance(body, dict):
        raise error_from_response(502, "the inference server answered with something that is not JSON")
    header = response.headers.get(VERSION_HEADER, "")
    version = int(header) if header.isdigit() else None
    if protocol == "v1":
        return Prediction(model=model, version=version, protocol="v1", predictions=body.get("predictions"), body=body)
    outputs = body.get("outputs") or []
    first = outputs[0] if outputs and isinstance(outputs[0], dict) else {}
    predictions = reshaped(first.get("data") or [], list(first.get("shape") or []))
    return Prediction(model=model, version=version, protocol="v2", predictions=predictions, outputs=outputs, body=body)


def inference_path(model: str, protocol: str) -> str:
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    return f"/v1/models/{model}:predict" if protocol == "v1" else f"/v2/models/{model}/infer"


def inference_headers(*, version: int | None, key: str | None, session: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if version is not None:
        headers[VERSION_HEADER] = str(int(version))
    if key:
        headers[KEY_HEADER] = key
    if session:
        headers[SESSION_HEADER] = session
    return headers
