"""One version of a model inside a replica: its spec from user_config, its state, and how it is loaded."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serving.artifacts import ArtifactFetcher, ArtifactUnavailable
from serving.loaders import load
from serving.loaders.base import LoaderError

logger = logging.getLogger("ray.serve")
# Which (model, version) the code running now serves: set by the server around loading and predicting, never by a
# model. A pool replica serves many models, hence a context variable rather than a field per server.
SERVING: contextvars.ContextVar[tuple[str, int] | None] = contextvars.ContextVar("raylane_serving", default=None)
LOG_FIELDS = ("raylane_model", "raylane_version")
FLATTENED_FIELDS = "ray_serve_extra_fields"


class ServingLogFields(logging.Filter):
    """Tags every record of the replica's Serve logger (which also gets the replica's prints and stderr) with
    `raylane_model` and `raylane_version` from `SERVING`, and only from it: with JSON log encoding they become the
    fields the monitor files a line under. Whatever a record already carries under those names (a model's code
    logging with `extra=`, a child logger) is overwritten or removed, so a model in a shared pool replica cannot
    have its lines attributed to another model; what it prints is only ever the `message`."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name in LOG_FIELDS:
            record.__dict__.pop(name, None)
        nested = record.__dict__.get(FLATTENED_FIELDS)  # Ray's JSON formatter lifts these keys to the top level
        if isinstance(nested, dict) and any(name in nested for name in LOG_FIELDS):
            setattr(record, FLATTENED_FIELDS, {k: v for k, v in nested.items() if k not in LOG_FIELDS})
        serving = SERVING.get()
        if serving is not None:
            record.raylane_model, record.raylane_version = serving
        return True


def install_log_fields(target: logging.Logger = logger) -> None:
    """On the logger (prints and Serve's own lines) and on each of its handlers: records of child loggers reach the
    handlers without passing the parent logger's filters."""
    for holder in (target, *target.handlers):
        if not any(isinstance(existing, ServingLogFields) for existing in holder.filters):
            holder.addFilter(ServingLogFields())


@contextlib.contextmanager
def serving(model: str, version: int) -> Iterator[None]:
    """Log lines (and prints) inside the block are filed under this model and version."""
    token = SERVING.set((model, version))
    try:
        yield
    finally:
        SERVING.reset(token)


@dataclass
class VersionState:
    spec: dict[str, Any]
    state: str = "loading"  # loading | ready | failed | cold (a pool replica loads it on first use)
    model: Any = None  # a LoadedModel, or a RemoteVersion in dedicated mode
    error: str = ""
    load_ms: float = 0.0
    work_dir: tempfile.TemporaryDirectory | None = field(default=None, repr=False)

    @property
    def sha256(self) -> str:
        return self.spec["sha256"]

    @property
    def signature(self) -> dict[str, Any] | None:
        if self.spec.get("signature"):
            return self.spec["signature"]
        return self.model.signature if self.model is not None else None


def load_version(state: VersionState, fetcher: ArtifactFetcher, model_name: str) -> None:
    """Fetch, verify and load a version in place; failures are recorded on the state, never raised."""
    number = state.spec["version"]
    started = time.perf_counter()
    with serving(model_name, number):  # what a model's code prints while loading is filed under it too
        try:
            path = fetcher.fetch(state.sha256, state.spec.get("artifact_url"))
            state.work_dir = tempfile.TemporaryDirectory(prefix=f"raylane-{model_name}-v{number}-")
            state.model = load(
                state.spec["format"], path, trusted=bool(state.spec.get("trusted")), work_dir=Path(state.work_dir.name)
            )
            state.state = "ready"
        except (ArtifactUnavailable, LoaderError, OSError, MemoryError) as exc:
            state.state, state.error = "failed", f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a model's own code may raise anything while loading
            state.state, state.error = "failed", f"{type(exc).__name__}: {exc}"
        state.load_ms = (time.perf_counter() - started) * 1000
        if state.state == "ready":
            logger.info("%s v%s loaded in %.0f ms", model_name, number, state.load_ms)
        else:
            logger.error("%s v%s failed to load: %s", model_name, number, state.error)
