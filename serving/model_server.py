"""The model server: the ingress deployment of one deployed model.

Every replica holds every active version of its model in process (stable, canary, shadow) and splits requests
between them by weight, so a request crosses one Ray hop. Versions, weights, shadow share and batching arrive in
`user_config`; `reconfigure()` loads new versions and drops old ones in place, without restarting the replica, and
swaps the routing table only once the new versions are loaded. A version that cannot be fetched or loaded is
reported failed (metadata endpoint, `raylane_version_ready` gauge, replica log) and never takes traffic.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse

from serving import protocol
from serving.artifacts import ArtifactFetcher
from serving.batching import MicroBatcher
from serving.dedicated import RemoteVersion
from serving.routing import Access, NoVersionAvailable, RoutingTable, outputs_agree
from serving.server_metrics import PINNED, SPLIT, VersionMetrics
from serving.versions import SERVING, ServingLogFields, VersionState, install_log_fields, load_version, serving

__all__ = ["SERVING", "ModelServer", "ServingLogFields", "build_app"]
logger = logging.getLogger("ray.serve")
PIN_HEADER = "x-raylane-version"
SESSION_HEADER = "x-raylane-session"
INPUT_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError)
METRICS_FLUSH_S = 0.25  # Ray exports every 1 s and the monitor samples every 1 s: ~1.5 s to the browser
REMOTE_LOAD_TIMEOUT_S = 600


class ModelServer:
    """In `lazy` mode (the shared pool for long-tail models) versions load on first use instead of in
    `reconfigure`, and `on_load(model, version)` lets the pool evict the least recently used ones."""

    def __init__(
        self,
        model: str,
        artifacts: dict[str, Any],
        *,
        lazy: bool = False,
        on_load: Callable[[str, int], None] | None = None,
    ) -> None:
        install_log_fields()
        self.model_name = model
        self.lazy = lazy
        self.on_load = on_load
        self.loading: dict[int, asyncio.Future] = {}
        self.fetcher = ArtifactFetcher(**artifacts)
        self.versions: dict[int, VersionState] = {}
        self.table = RoutingTable(())
        self.rng = random.Random()
        self.metrics = VersionMetrics(model)
        self.batching = False
        self.ready: frozenset[int] = frozenset()
        self.batchers: dict[int, MicroBatcher] = {}
        self.limits = protocol.Limits()
        self.access = Access()
        self.background: set[asyncio.Task] = set()
        self.flusher: asyncio.Task | None = None

    def start_flusher(self) -> None:
        if self.flusher is None:
            self.flusher = asyncio.get_running_loop().create_task(self.flush_metrics())

    async def flush_metrics(self) -> None:
        while True:
            await asyncio.sleep(METRICS_FLUSH_S)
            try:
                self.metrics.flush()
                # Re-exported every flush: a gauge set once (at load) can miss the first export of a new replica.
                for number in list(self.versions):
                    self.report_state(number)
            except Exception:  # metrics must never take the server down
                logger.exception("flushing %s metrics failed", self.model_name)

    # --- configuration ----------------------------------------------------------------------------------------
    async def reconfigure(self, config: dict[str, Any]) -> None:
        """Load what is new, then switch the routing, then drop what is gone: a request never picks a version
        that is not there (dropping first made requests routed by the old table fail during the load)."""
        self.start_flusher()
        wanted = {int(spec["version"]): spec for spec in config.get("versions", [])}
        staged: dict[int, VersionState] = {}
        for number, spec in wanted.items():
            current = self.versions.get(number)
            changed = current is not None and current.sha256 != spec["sha256"]
            retry = (
                current is not None and current.state == "failed" and spec.get("trusted") != current.spec.get("trusted")
            )
            if current is not None and not changed and not retry:
                current.spec = spec
            elif self.lazy:
                staged[number] = VersionState(spec=spec, state="cold")
            elif spec.get("app"):
                # Dedicated mode: the version loads in its own application; watched until it answers.
                staged[number] = VersionState(spec=spec, model=RemoteVersion(spec["app"]))
            else:
                staged[number] = VersionState(spec=spec)
                await asyncio.to_thread(load_version, staged[number], self.fetcher, self.model_name)
        replaced = [self.versions[number] for number in staged if number in self.versions]
        self.versions.update(staged)
        for number, state in staged.items():
            self.report_state(number)
            if isinstance(state.model, RemoteVersion):
                self.watch_remote(number)
        batching = config.get("batching") or {}
        self.batching = bool(batching.get("enabled"))
        self.batchers = {
            number: MicroBatcher(
                state.model.predict,
                max_batch_size=int(batching.get("max_batch_size", 16)),
                wait_s=float(batching.get("batch_wait_timeout_s", 0.0)),
            )
            for number, state in self.versions.items()
            if self.batching and state.state == "ready" and not isinstance(state.model, RemoteVersion)
        }
        self.ready = frozenset(number for number, s in self.versions.items() if s.state in ("ready", "cold"))
        self.limits = protocol.Limits.from_user_config(config.get("limits"))
        self.access = Access.from_user_config(config.get("access"))
        self.table = RoutingTable.from_user_config(config)
        for number in [number for number in self.versions if number not in wanted]:
            self.drop(number)
        for state in replaced:
            if state.work_dir is not None:
                state.work_dir.cleanup()

    def load_version(self, number: int) -> None:
        state = self.versions[number]
        load_version(state, self.fetcher, self.model_name)
        self.report_state(number)

    def watch_remote(self, number: int) -> None:
        """Poll a dedicated version's application until it reports loaded or failed, then let it take traffic."""

        async def watch() -> None:
            state = self.versions.get(number)
            deadline = time.monotonic() + REMOTE_LOAD_TIMEOUT_S
            while state is not None and self.versions.get(number) is state:
                try:
                    report = await asyncio.wait_for(state.model.describe(), timeout=5)
                except Exception as exc:  # the application is still starting, or gone
                    report = {"state": "loading", "error": f"{type(exc).__name__}: {exc}"}
                if report["state"] != "loading" or time.monotonic() > deadline:
                    state.state = report["state"] if report["state"] != "loading" else "failed"
                    state.error = report.get("error") or ""
                    state.load_ms = report.get("load_ms", 0.0)
                    state.model.framework = report.get("framework", "")
                    state.model.signature = report.get("signature")
                    if state.state == "ready":
                        self.ready = self.ready | {number}
                    self.report_state(number)
                    return
                await asyncio.sleep(0.5)

        self.spawn(watch())

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    def report_state(self, number: int) -> None:
        state = self.versions[number]
        tags = self.metrics.tags(number)
        self.metrics.ready.set({"ready": 1, "failed": -1}.get(state.state, 0), tags=tags)
        self.metrics.load_ms.set(state.load_ms, tags=tags)

    async def warm(self, number: int) -> VersionState:
        """Load a cold version on first use (lazy mode); concurrent requests for it wait for the same load."""
        state = self.versions[number]
        if state.state != "cold":
            return state
        pending = self.loading.get(number)
        if pending is None:
            pending = self.loading[number] = asyncio.get_running_loop().create_future()
            try:
                await asyncio.to_thread(self.load_version, number)
                self.metrics.cold_loads[number] += 1
                if state.state == "failed":
                    self.ready = self.ready - {number}
                elif self.on_load is not None:
                    self.on_load(self.model_name, number)
            finally:
                del self.loading[number]
                pending.set_result(None)
        else:
            await pending
        return state

    def unload(self, number: int) -> None:
        """Free a loaded version but keep it routable: the next request for it loads it again (pool eviction)."""
        state = self.versions.get(number)
        if state is None or state.state != "ready":
            return
        state.state, state.model = "cold", None
        self.batchers.pop(number, None)
        if state.work_dir is not None:
            state.work_dir.cleanup()
            state.work_dir = None
        self.metrics.ready.set(0, tags=self.metrics.tags(number))
        with serving(self.model_name, number):
            logger.info("%s v%s evicted from this pool replica", self.model_name, number)

    def drop(self, number: int) -> None:
        state = self.versions.pop(number)
        self.batchers.pop(number, None)
        self.ready = self.ready - {number}
        self.metrics.ready.set(0, tags=self.metrics.tags(number))
        if state.work_dir is not None:
            state.work_dir.cleanup()
        with serving(self.model_name, number):
            logger.info("%s v%s dropped", self.model_name, number)

    def ready_versions(self) -> frozenset[int]:
        return self.ready

    # --- health -----------------------------------------------------------------------------------------------
    def check_health(self) -> None:
        """Fails when every version that takes traffic has failed, so Serve replaces the replica. Versions still
        loading (a dedicated version's application starting) keep it healthy."""
        weighted = {version for version, percent in self.table.weights if percent > 0}
        if not weighted:
            return
        if all(number in self.versions and self.versions[number].state == "failed" for number in weighted):
            states = {n: f"{s.state} {s.error}".strip() for n, s in self.versions.items()}
            raise RuntimeError(f"{self.model_name}: no version that takes traffic can answer: {states}")

    # --- requests ---------------------------------------------------------------------------------------------
    async def __call__(self, request: Request) -> JSONResponse:
        root, path = request.scope.get("root_path", ""), request.scope["path"]
        if not path.startswith(root):  # ASGI servers differ on whether `path` includes `root_path`
            path = root + path
        return await self.handle(request, path, path[len(root) :])

    async def handle(self, request: Request, path: str, suffix: str) -> JSONResponse:
        """`suffix` is what follows `/v2/models/<name>` (ignored for the v1 `:predict` path)."""
        if path.startswith("/v1/"):
            if request.method != "POST":
                return error(405, "use POST for :predict")
            return await self.infer(request, api="v1", pinned=None)
        parts = [part for part in suffix.split("/") if part]
        pinned = None
        if len(parts) >= 2 and parts[0] == "versions":
            if not (parts[1].isascii() and parts[1].isdigit()) or len(parts[1]) > protocol.MAX_VERSION_DIGITS:
                return error(404, f"no version {protocol.shown(parts[1])} of {self.model_name}")
            pinned, parts = int(parts[1]), parts[2:]
        if not parts and request.method == "GET":
            return self.metadata(pinned)
        if parts == ["ready"] and request.method == "GET":
            return self.readiness(pinned)
        if parts == ["infer"]:
            if request.method != "POST":
                return error(405, "use POST for /infer")
            return await self.infer(request, api="v2", pinned=pinned)
        return error(404, f"no endpoint {path} for model {self.model_name}")

    async def infer(self, request: Request, *, api: str, pinned: int | None) -> JSONResponse:
        """Everything a client can get wrong is a 4xx naming the problem, logged at most as one line without a
        traceback; pinned requests and 4xx answers are counted apart (`routed` tag), so they never weigh in a
        rollout's analysis of the weighted split."""
        header_pin = request.headers.get(PIN_HEADER)
        try:
            if header_pin is not None:
                pinned = protocol.parse_version(header_pin, "X-Raylane-Version")
            protocol.check_content_type(request.headers.get("content-type"))
            protocol.check_declared_length(request.headers.get("content-length"), self.limits)
        except protocol.ProtocolError as exc:
            return error(exc.status, exc.message)
        refusal = self.access.refusal(request.headers, pinned=pinned is not None)
        if refusal is not None:
            return error(*refusal)
        routed = PINNED if pinned is not None else SPLIT
        try:
            number = (
                pinned
                if pinned is not None
                else self.table.choose(self.ready_versions(), rng=self.rng, session=request.headers.get(SESSION_HEADER))
            )
        except NoVersionAvailable:
            return error(503, f"no version of {self.model_name} can answer: {self.version_report()}")
        state = self.versions.get(number)
        if state is not None and state.state == "cold":
            state = await self.warm(number)
        if state is None or state.state != "ready":
            reason = "is not deployed" if state is None else f"is {state.state} {state.error}".rstrip()
            return error(404 if state is None else 503, f"version {number} of {self.model_name} {reason}")
        started = time.perf_counter()
        self.metrics.begin(number)
        inputs: np.ndarray | dict[str, np.ndarray]
        try:
            body = await read_body(request, self.limits)
            if api == "v1":
                inputs, request_id = protocol.parse_v1(body, state.signature, self.limits), None
            else:
                inputs, request_id = protocol.parse_v2(body, state.signature, self.limits)
        except protocol.ProtocolError as exc:
            self.metrics.answered(number, exc.status, elapsed_ms(started), routed)
            return error(exc.status, exc.message, number)
        except Exception as exc:  # whatever else a body can make the parser raise is the client's doing
            self.metrics.answered(number, 400, elapsed_ms(started), routed)
            logger.info("%s v%s: unreadable request body (%s)", self.model_name, number, type(exc).__name__)
            return error(400, f"the request body could not be read as {api} inference input", number)
        try:
            outputs = await self.predict(number, state, inputs)
        except INPUT_ERRORS as exc:
            self.metrics.answered(number, 400, elapsed_ms(started), routed)
            message = protocol.client_message(str(exc))
            return error(400, f"the model rejected the input: {type(exc).__name__}: {message}", number)
        except Exception as exc:
            self.metrics.answered(number, 500, elapsed_ms(started), routed)
            logger.exception("%s v%s failed on a request", self.model_name, number)
            return error(500, f"the model failed: {type(exc).__name__}: {protocol.client_message(str(exc))}", number)
        self.metrics.answered(number, 200, elapsed_ms(started), routed)
        shadow = self.table.shadow_for(number, self.ready_versions(), rng=self.rng)
        if shadow is not None and pinned is None:
            self.mirror(shadow, inputs, outputs)
        if api == "v1":
            payload = protocol.format_v1(outputs)
        else:
            payload = protocol.format_v2(
                model=self.model_name, version=number, outputs=outputs, request_id=request_id, signature=state.signature
            )
        return JSONResponse(payload, headers={"X-Raylane-Version": str(number)})

    async def predict(self, number: int, state: VersionState, inputs: Any) -> Any:
        with serving(self.model_name, number):  # log lines and prints of the model's code name it, and only it
            if isinstance(state.model, RemoteVersion):
                return await state.model.predict(inputs)
            batcher = self.batchers.get(number) if isinstance(inputs, np.ndarray) else None
            if batcher is None:
                return state.model.predict(inputs)
            return await batcher.submit(inputs)

    def mirror(self, number: int, inputs: Any, primary: Any) -> None:
        async def run() -> None:
            started = time.perf_counter()
            try:
                state = await self.warm(number)
                shadow_outputs = await self.predict(number, state, inputs) if state.model else None
                agreed = outputs_agree(primary, shadow_outputs)
            except Exception:
                agreed = False
            self.metrics.mirrored(number, agreed, elapsed_ms(started))

        self.spawn(run())

    # --- metadata ---------------------------------------------------------------------------------------------
    def version_report(self) -> dict[str, str]:
        return {str(n): (s.state if not s.error else f"{s.state}: {s.error}") for n, s in sorted(self.versions.items())}

    def metadata(self, pinned: int | None) -> JSONResponse:
        weights = dict(self.table.weights)
        report = [
            {
                "version": number,
                "state": state.state,
                "error": state.error or None,
                "weight": weights.get(number, 0),
                "load_ms": round(state.load_ms, 1),
                "format": state.spec["format"],
                "sha256": state.sha256,
            }
            for number, state in sorted(self.versions.items())
        ]
        if pinned is not None and pinned not in self.versions:
            return error(404, f"no version {pinned} of {self.model_name}")
        primary = self.versions.get(pinned) if pinned is not None else self.primary_state()
        signature = primary.signature if primary else None
        payload = {
            "name": self.model_name,
            "versions": [str(number) for number in sorted(self.versions)],
            "platform": primary.model.framework if primary and primary.model else "",
            "inputs": (signature or {}).get("inputs", []),
            "outputs": (signature or {}).get("outputs", []),
            "raylane": {"versions": report, "shadow": self.table.shadow_version, "batching": self.batching},
        }
        return JSONResponse(payload)

    def primary_state(self) -> VersionState | None:
        weighted = sorted(self.table.weights, key=lambda pair: -pair[1])
        for number, _ in weighted:
            if number in self.versions:
                return self.versions[number]
        return next(iter(self.versions.values()), None)

    def readiness(self, pinned: int | None) -> JSONResponse:
        if pinned is not None:
            state = self.versions.get(pinned)
            ready = state is not None and state.state == "ready"
        else:
            ready = bool(self.table.effective(self.ready_versions()))
        return JSONResponse({"name": self.model_name, "ready": ready}, status_code=200 if ready else 503)


async def read_body(request: Request, limits: protocol.Limits) -> bytes:
    """The body, refused with a 413 as soon as it passes the limit (a chunked body has no Content-Length)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limits.max_body_bytes:
            raise protocol.ProtocolError(protocol.body_too_large(size, limits), status=413)
        chunks.append(chunk)
    return b"".join(chunks)


def elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def error(status: int, message: str, version: int | None = None) -> JSONResponse:
    headers = {"X-Raylane-Version": str(version)} if version is not None else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def build_app(args: dict[str, Any]) -> serve.Application:
    """Application builder named in the Serve config: `serving.model_server:build_app`."""
    # The decorator form: Ray annotates serve.deployment(cls, ...) as returning the decorator, not the Deployment.
    deployment = serve.deployment(name="ModelServer", health_check_period_s=10)(ModelServer)
    return deployment.bind(model=args["model"], artifacts=args.get("artifacts") or {})
