"""Desired state → Ray Serve declarative config.

A pure function: plain frozen dataclasses in, the body of `PUT /api/serve/applications/` out. That PUT replaces
every application, so the body always describes the whole fleet.

Routing: Serve gives an application one route prefix and matches whole path segments, so the KServe v1 path
`/v1/models/<name>:predict` and the Open Inference Protocol path `/v2/models/<name>/...` cannot share a prefix.
Each model therefore gets one application per protocol, both running the same model server: every request
crosses one Ray hop (a shared gateway would add a second hop, which costs ~¾ of the throughput on 2 cores).
Only what may change while replicas run (versions, weights, shadow, batching, request limits, data-plane keys)
travels in `user_config`, which Serve applies in place; everything that would restart replicas (`args`, resources)
depends on the model alone.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

MODEL_SERVER_IMPORT_PATH = "serving.model_server:build_app"
VERSION_SERVER_IMPORT_PATH = "serving.dedicated:build_version_app"
ROUTER_CPUS = 0.1
FRONT_DOOR_IMPORT_PATH = "serving.front_door:build_app"
FRONT_DOOR_APP = "_raylane"
PROTOCOLS = ("v2", "v1")


class DesiredStateError(ValueError):
    """The desired state cannot be turned into a Serve config (weights not summing to 100, unknown version…)."""


@dataclass(frozen=True)
class VersionSpec:
    version: int
    format: str
    sha256: str
    size: int = 0
    trusted: bool = False
    signature: dict[str, Any] | None = None
    # The control plane's signed, expiring link for this artifact alone (None: shared folder only).
    artifact_url: str | None = None


@dataclass(frozen=True)
class Autoscaling:
    min_replicas: int = 1
    max_replicas: int = 1
    target_ongoing_requests: float = 2.0


@dataclass(frozen=True)
class Batching:
    enabled: bool = False
    max_batch_size: int = 16
    batch_wait_timeout_s: float = 0.0  # 0: batch whatever queued while the model was busy, never wait


@dataclass(frozen=True)
class Resources:
    num_cpus: float = 0.25
    num_gpus: float = 0.0
    memory_mb: int | None = None
    custom: dict[str, float] = field(default_factory=dict)  # Ray custom resources: pin replicas to labelled nodes


@dataclass(frozen=True)
class Shadow:
    version: int
    percent: int


@dataclass(frozen=True)
class RequestLimits:
    """What one inference request may hold; the model server answers 413 or 400 beyond (serving.protocol)."""

    max_body_bytes: int = 16 * 1024**2
    max_elements: int = 10_000_000
    max_depth: int = 32


@dataclass(frozen=True)
class InferenceAccess:
    """Data-plane keys (sha256 hex digests only) and who may pin a version: "open", or "keyed" (key holders)."""

    key_hashes: tuple[str, ...] = ()
    require_key: bool = False
    pins: str = "open"


@dataclass(frozen=True)
class ModelSpec:
    """One deployed model: every version its replicas hold, and how requests are split between them."""

    name: str
    versions: tuple[VersionSpec, ...]
    weights: tuple[tuple[int, int], ...]  # (version, percent) pairs; percents sum to 100
    shadow: Shadow | None = None
    autoscaling: Autoscaling = field(default_factory=Autoscaling)
    batching: Batching = field(default_factory=Batching)
    resources: Resources = field(default_factory=Resources)
    protocols: tuple[str, ...] = PROTOCOLS
    # Dedicated mode (large models): one application per version behind a router; one more hop per request.
    dedicated: bool = False
    # Pooled (long-tail models): served by the shared pool in the `/` application, loaded on first use.
    pooled: bool = False
    limits: RequestLimits = field(default_factory=RequestLimits)
    access: InferenceAccess = field(default_factory=InferenceAccess)


@dataclass(frozen=True)
class ArtifactSource:
    """Where replicas look for artifacts before downloading them with their version's own link: a shared folder
    (same machine, NFS) and a local cache. No credential travels here: `args` are the same for every version."""

    shared_path: str | None = None
    cache_dir: str | None = None
    cache_bytes: int = 10 * 1024**3

    def as_args(self) -> dict[str, Any]:
        return {
            "shared_path": self.shared_path,
            "cache_dir": self.cache_dir,
            "cache_bytes": self.cache_bytes,
        }


@dataclass(frozen=True)
class FleetSpec:
    models: tuple[ModelSpec, ...]
    artifacts: ArtifactSource = field(default_factory=ArtifactSource)
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    runtime_env: dict[str, Any] | None = None
    pool_models_per_replica: int = 8
    pool_autoscaling: Autoscaling = field(default_factory=Autoscaling)
    pool_resources: Resources = field(default_factory=lambda: Resources(num_cpus=0.25))


LOGGING_CONFIG = {"encoding": "JSON", "enable_access_log": False, "log_level": "INFO"}


def app_name(model: str, protocol: str) -> str:
    """`iris` for the v2 application, `iris.v1` for v1 (a dot cannot occur in a model name)."""
    return model if protocol == "v2" else f"{model}.{protocol}"


def version_app_name(model: str, version: int) -> str:
    """`iris@v3`, a dedicated version's own application (`@` cannot occur in a model name)."""
    return f"{model}@v{version}"


def parse_app_name(name: str) -> tuple[str | None, int | None]:
    """The model (and for a dedicated version app, the version) an application serves; (None, None) for the front
    door, whose pool replicas serve many models."""
    if name == FRONT_DOOR_APP:
        return None, None
    model, _, version = name.partition("@v")
    if version.isdigit():
        return model, int(version)
    return name.split(".", 1)[0], None


def route_prefix(model: str, protocol: str) -> str:
    return f"/v2/models/{model}" if protocol == "v2" else f"/v1/models/{model}:predict"


def validate_model(model: ModelSpec) -> None:
    versions = {spec.version for spec in model.versions}
    if len(versions) != len(model.versions):
        raise DesiredStateError(f"model {model.name}: a version is listed twice")
    weights = dict(model.weights)
    if sum(weights.values()) != 100 or any(not 0 <= w <= 100 for w in weights.values()):
        raise DesiredStateError(f"model {model.name}: weights {weights} must be whole percents summing to 100")
    unknown = set(weights) - versions
    if unknown:
        raise DesiredStateError(f"model {model.name}: weights name versions it does not hold: {sorted(unknown)}")
    if model.shadow is not None:
        if model.shadow.version not in versions:
            raise DesiredStateError(f"model {model.name}: shadow version {model.shadow.version} is not held")
        if not 0 < model.shadow.percent <= 100:
            raise DesiredStateError(f"model {model.name}: shadow percent must be 1-100, not {model.shadow.percent}")
    unknown_protocols = set(model.protocols) - set(PROTOCOLS)
    if unknown_protocols or not model.protocols:
        raise DesiredStateError(f"model {model.name}: protocols must be a non-empty subset of {PROTOCOLS}")
    if model.access.pins not in ("open", "keyed"):
        raise DesiredStateError(f"model {model.name}: pins must be 'open' or 'keyed', not {model.access.pins!r}")
    if model.pooled and model.dedicated:
        raise DesiredStateError(f"model {model.name}: a model is either pooled or dedicated, not both")
    if model.pooled and any(spec.trusted for spec in model.versions):
        raise DesiredStateError(
            f"model {model.name}: a trusted version runs its own code and never shares a pool replica with other "
            "teams' models; serve it unpooled"
        )
    scaling = model.autoscaling
    if scaling.min_replicas < 0 or scaling.max_replicas < max(1, scaling.min_replicas):
        raise DesiredStateError(f"model {model.name}: autoscaling needs 0 <= min_replicas <= max_replicas, max >= 1")


def version_entry(spec: VersionSpec) -> dict[str, Any]:
    return {
        "version": spec.version,
        "format": spec.format,
        "sha256": spec.sha256,
        "size": spec.size,
        "trusted": spec.trusted,
        "signature": spec.signature,
        "artifact_url": spec.artifact_url,
    }


def batching_entry(batching: Batching) -> dict[str, Any]:
    return {
        "enabled": batching.enabled,
        "max_batch_size": batching.max_batch_size,
        "batch_wait_timeout_s": batching.batch_wait_timeout_s,
    }


def user_config(model: ModelSpec) -> dict[str, Any]:
    """What may change while replicas run (a rollout's versions and weights, batching, limits, keys), applied in place
    by `reconfigure()` (no replica restarts)."""
    versions = []
    for spec in sorted(model.versions, key=lambda spec: spec.version):
        entry = version_entry(spec)
        if model.dedicated:
            entry["app"] = version_app_name(model.name, spec.version)
        versions.append(entry)
    return {
        "versions": versions,
        "weights": {str(version): percent for version, percent in sorted(model.weights)},
        "shadow": None if model.shadow is None else {"version": model.shadow.version, "percent": model.shadow.percent},
        "batching": batching_entry(model.batching),
        "limits": {
            "max_body_bytes": model.limits.max_body_bytes,
            "max_elements": model.limits.max_elements,
            "max_depth": model.limits.max_depth,
        },
        "access": {
            "key_hashes": sorted(model.access.key_hashes),
            "require_key": model.access.require_key,
            "pins": model.access.pins,
        },
    }


def ray_actor_options(resources: Resources) -> dict[str, Any]:
    options: dict[str, Any] = {"num_cpus": resources.num_cpus}
    if resources.num_gpus:
        options["num_gpus"] = resources.num_gpus
    if resources.memory_mb:
        options["memory"] = resources.memory_mb * 1024 * 1024
    if resources.custom:
        options["resources"] = dict(sorted(resources.custom.items()))
    return options


def scaling_options(scaling: Autoscaling) -> dict[str, Any]:
    if scaling.min_replicas == scaling.max_replicas:
        return {"num_replicas": scaling.max_replicas}
    return {
        "autoscaling_config": {
            "min_replicas": scaling.min_replicas,
            "max_replicas": scaling.max_replicas,
            "target_ongoing_requests": scaling.target_ongoing_requests,
        }
    }


def model_applications(model: ModelSpec, fleet: FleetSpec) -> list[dict[str, Any]]:
    validate_model(model)
    applications = []
    # In dedicated mode the protocol applications are light routers; the versions carry the resources.
    router_resources = ray_actor_options(Resources(num_cpus=ROUTER_CPUS)) if model.dedicated else None
    for protocol in PROTOCOLS:
        if protocol not in model.protocols:
            continue
        application: dict[str, Any] = {
            "name": app_name(model.name, protocol),
            "route_prefix": route_prefix(model.name, protocol),
            "import_path": MODEL_SERVER_IMPORT_PATH,
            "args": {"model": model.name, "artifacts": fleet.artifacts.as_args()},
            "deployments": [
                {
                    "name": "ModelServer",
                    "user_config": user_config(model),
                    "ray_actor_options": router_resources or ray_actor_options(model.resources),
                    **scaling_options(model.autoscaling),
                }
            ],
        }
        applications.append(application)
    if model.dedicated:
        applications.extend(version_application(model, spec, fleet) for spec in model.versions)
    if fleet.runtime_env:
        for application in applications:
            application["runtime_env"] = fleet.runtime_env
    return applications


def version_application(model: ModelSpec, spec: VersionSpec, fleet: FleetSpec) -> dict[str, Any]:
    """A dedicated version: no HTTP route of its own, reached through the router's handle."""
    return {
        "name": version_app_name(model.name, spec.version),
        "route_prefix": None,
        "import_path": VERSION_SERVER_IMPORT_PATH,
        "args": {"model": model.name, "version": spec.version, "artifacts": fleet.artifacts.as_args()},
        "deployments": [
            {
                "name": "VersionServer",
                "user_config": {"version": version_entry(spec), "batching": batching_entry(model.batching)},
                "ray_actor_options": ray_actor_options(model.resources),
                **scaling_options(model.autoscaling),
            }
        ],
    }


def front_door_application(fleet: FleetSpec) -> dict[str, Any]:
    """The `/` catch-all: `/v2/health/*`, `/v2`, JSON 404s for unknown models, and the pool of long-tail models."""
    pooled = sorted((model for model in fleet.models if model.pooled), key=lambda model: model.name)
    for model in pooled:
        validate_model(model)
    application: dict[str, Any] = {
        "name": FRONT_DOOR_APP,
        "route_prefix": "/",
        "import_path": FRONT_DOOR_IMPORT_PATH,
        "args": {"artifacts": fleet.artifacts.as_args()},
        "deployments": [
            {
                "name": "FrontDoor",
                "user_config": {
                    "max_models_per_replica": fleet.pool_models_per_replica,
                    "models": {model.name: user_config(model) for model in pooled},
                },
                "ray_actor_options": ray_actor_options(fleet.pool_resources),
                **scaling_options(fleet.pool_autoscaling),
            }
        ],
    }
    if fleet.runtime_env:
        application["runtime_env"] = fleet.runtime_env
    return application


def serve_config(fleet: FleetSpec) -> dict[str, Any]:
    """The whole fleet as one ServeDeploySchema body, applications in a stable order. Replicas log JSON lines (the
    monitor reads their fields) and no access log: the per-version metrics count every request already."""
    names = [model.name for model in fleet.models]
    if len(set(names)) != len(names):
        raise DesiredStateError(f"model names must be unique: {names}")
    applications = [front_door_application(fleet)]
    for model in sorted(fleet.models, key=lambda model: model.name):
        if not model.pooled:
            applications.extend(model_applications(model, fleet))
    for application in applications:
        application["logging_config"] = dict(LOGGING_CONFIG)
    return {
        "http_options": {"host": fleet.http_host, "port": fleet.http_port},
        "applications": applications,
    }


def config_hash(config: dict[str, Any]) -> str:
    """Stable digest of a config: reconcile applies only when it differs from what was applied last."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
