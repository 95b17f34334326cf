"""The `/` catch-all application: Open Inference Protocol server health and metadata, JSON 404s for models that are
not deployed, and the shared pool that serves long-tail models.

Model applications have longer route prefixes, so only requests for pooled or unknown models reach it. A pooled
model gets the same model server as any other (weights, pins, sticky sessions, shadow, both protocols), but its
versions load on first use and each replica keeps at most `max_models_per_replica` of them, evicting the least
recently used: many small models share a few replicas instead of holding two each. Cold loads are counted and timed
(`raylane_cold_loads`, `raylane_version_load_ms`).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse

from serving.model_server import ModelServer

SERVER = {"name": "raylane", "version": "1", "extensions": ["raylane-routing", "raylane-pool"]}


class FrontDoor:
    def __init__(self, artifacts: dict[str, Any] | None = None) -> None:
        self.artifacts = artifacts or {}
        self.servers: dict[str, ModelServer] = {}
        self.loaded: OrderedDict[tuple[str, int], None] = OrderedDict()
        self.capacity = 8

    async def reconfigure(self, config: dict[str, Any]) -> None:
        self.capacity = int(config.get("max_models_per_replica", 8))
        models = config.get("models", {})
        for name in set(self.servers) - set(models):
            gone = self.servers.pop(name)
            for number in list(gone.versions):
                gone.drop(number)
            self.forget(name)
        for name, model_config in models.items():
            server = self.servers.get(name)
            if server is None:
                server = self.servers[name] = ModelServer(name, self.artifacts, lazy=True, on_load=self.used)
            await server.reconfigure(model_config)
            for number in [n for (m, n) in self.loaded if m == name and n not in server.versions]:
                del self.loaded[(name, number)]
        self.evict()

    def used(self, model: str, version: int) -> None:
        self.loaded[(model, version)] = None
        self.loaded.move_to_end((model, version))
        self.evict()

    def evict(self) -> None:
        while len(self.loaded) > self.capacity:
            (model, version), _ = self.loaded.popitem(last=False)
            server = self.servers.get(model)
            if server is not None:
                server.unload(version)

    def forget(self, model: str) -> None:
        for key in [key for key in self.loaded if key[0] == model]:
            del self.loaded[key]

    async def __call__(self, request: Request) -> JSONResponse:
        path = request.scope["path"].rstrip("/") or "/"
        if path == "/v2/health/live":
            return JSONResponse({"live": True})
        if path == "/v2/health/ready":
            return JSONResponse({"ready": True})
        if path == "/v2":
            return JSONResponse(SERVER)
        parts = path.split("/")
        if len(parts) >= 4 and parts[1] in ("v1", "v2") and parts[2] == "models":
            name = parts[3].split(":", 1)[0]
            server = self.servers.get(name)
            if server is None:
                return JSONResponse({"error": f"model '{name}' is not deployed here"}, status_code=404)
            if parts[1] == "v1" and (len(parts) != 4 or not parts[3].endswith(":predict")):
                return JSONResponse({"error": f"no endpoint at {path}; use /v1/models/{name}:predict"}, 404)
            self.touch(name)
            suffix = path[len(f"/v2/models/{name}") :] if parts[1] == "v2" else ""
            return await server.handle(request, path, suffix)
        return JSONResponse({"error": f"no endpoint at {path}"}, status_code=404)

    def touch(self, model: str) -> None:
        """Mark a model's loaded versions as recently used."""
        for key in [key for key in self.loaded if key[0] == model]:
            self.loaded.move_to_end(key)


def build_app(args: dict[str, Any]) -> serve.Application:
    # The decorator form: Ray annotates serve.deployment(cls, ...) as returning the decorator, not the Deployment.
    return serve.deployment(name="FrontDoor")(FrontDoor).bind(artifacts=args.get("artifacts") or {})
