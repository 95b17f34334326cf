"""One version of a model inside a replica: its spec from user_config, its state, and how it is loaded."""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serving.artifacts import ArtifactFetcher, ArtifactUnavailable
from serving.loaders import load
from serving.loaders.base import LoaderError

logger = logging.getLogger("ray.serve")


def log_fields(model: str, version: int) -> dict[str, object]:
    """`extra` for a log line about one version: the monitor files it under that version (JSON log fields)."""
    return {"raylane_model": model, "raylane_version": version}


@dataclass
class VersionState:
    spec: dict[str, Any]
    state: str = "loading"  # loading | ready | failed
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
    try:
        path = fetcher.fetch(state.sha256)
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
        logger.info("%s v%s loaded in %.0f ms", model_name, number, state.load_ms, extra=log_fields(model_name, number))
    else:
        logger.error("%s v%s failed to load: %s", model_name, number, state.error, extra=log_fields(model_name, number))
