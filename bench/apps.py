"""The baselines the serving benchmark measures Raylane against, serving the same skops iris model.

- `plain_asgi`: a Starlette app in one uvicorn worker, no Ray at all (`uvicorn bench.apps:plain_asgi`).
- `bare_serve_app`: the simplest Ray Serve deployment, in the same Serve mode Raylane runs in.
"""

import json
import os

import numpy as np
import skops.io
from ray import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def load_model(path: str):  # type: ignore[no-untyped-def]
    return skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))


async def predict_route(request: Request) -> JSONResponse:
    rows = np.asarray(json.loads(await request.body())["instances"], dtype=np.float64)
    return JSONResponse({"predictions": MODEL.predict(rows).tolist()})


MODEL = load_model(os.environ["BENCH_MODEL_PATH"]) if "BENCH_MODEL_PATH" in os.environ else None
plain_asgi = Starlette(routes=[Route("/predict", predict_route, methods=["POST"])])


class BareModel:
    def __init__(self, path: str) -> None:
        self.model = load_model(path)

    async def __call__(self, request: Request) -> JSONResponse:
        rows = np.asarray(json.loads(await request.body())["instances"], dtype=np.float64)
        return JSONResponse({"predictions": self.model.predict(rows).tolist()})


def bare_serve_app(args: dict) -> serve.Application:
    return serve.deployment(BareModel, name="BareModel").bind(args["path"])
