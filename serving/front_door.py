"""The `/` catch-all application: server health and metadata of the Open Inference Protocol, and JSON 404s for
models that are not deployed. Model routes are longer prefixes, so they never reach it."""

from __future__ import annotations

from typing import Any

from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse

SERVER = {"name": "raylane", "version": "1", "extensions": ["raylane-routing"]}


class FrontDoor:
    async def __call__(self, request: Request) -> JSONResponse:
        path = request.url.path.rstrip("/")
        if path == "/v2/health/live":
            return JSONResponse({"live": True})
        if path == "/v2/health/ready":
            return JSONResponse({"ready": True})
        if path == "/v2":
            return JSONResponse(SERVER)
        parts = path.split("/")
        if len(parts) >= 4 and parts[1] in ("v1", "v2") and parts[2] == "models":
            name = parts[3].split(":", 1)[0]
            return JSONResponse({"error": f"model '{name}' is not deployed here"}, status_code=404)
        return JSONResponse({"error": f"no endpoint at {request.url.path}"}, status_code=404)


def build_app(args: dict[str, Any]) -> serve.Application:
    return serve.deployment(FrontDoor, name="FrontDoor").bind()
