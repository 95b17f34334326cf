"""The desired state of the cluster, read from the database (the only source of truth) as serving.config types."""

from django.conf import settings

from controlplane.registry.internal import signed_artifact_url
from controlplane.registry.models import ModelVersion
from serving.config import (
    ArtifactSource,
    Autoscaling,
    Batching,
    FleetSpec,
    InferenceAccess,
    ModelSpec,
    Resources,
    Shadow,
    VersionSpec,
)

from .choices import ACTIVE_PHASES
from .limits import request_limits
from .models import Deployment, Rollout


def version_spec(version: ModelVersion) -> VersionSpec:
    """A version as replicas see it, with its own expiring download link (see registry.internal)."""
    return VersionSpec(
        version=version.version,
        format=version.format,
        sha256=version.sha256,
        size=version.artifact.size,
        trusted=version.trusted,
        signature=version.signature,
        artifact_url=signed_artifact_url(version.sha256),
    )


def served_versions(deployment: Deployment, rollout: Rollout | None) -> list[ModelVersion]:
    """What the replicas hold: the stable version, and the candidate of an active rollout (the monitor samples
    exactly these, even when idle)."""
    stable = deployment.stable_version
    if stable is None:  # callers pass deployments that have one: fleet_spec filters them, the monitor checks
        raise ValueError(f"{deployment} has no stable version to serve")
    if rollout is not None and rollout.to_version is not None and rollout.to_version_id != stable.pk:
        return [stable, rollout.to_version]
    return [stable]


def active_rollouts(*related: str) -> dict[int, Rollout]:
    """The active rollout of each deployment that has one, by deployment id."""
    rollouts = Rollout.objects.filter(phase__in=ACTIVE_PHASES).select_related(*related)
    return {rollout.deployment_id: rollout for rollout in rollouts}


def held_versions(deployment: Deployment) -> list[ModelVersion | None]:
    """The stable version (None before the first one) and the candidate of an active rollout, if any."""
    rollout = deployment.rollouts.filter(phase__in=ACTIVE_PHASES).select_related("to_version").first()
    candidate = rollout.to_version if rollout is not None else None
    return [deployment.stable_version, *([candidate] if candidate is not None else [])]


def trusted_pool_refusal(*, pooled: bool, versions: list[ModelVersion | None]) -> str:
    """Why these versions cannot be served pooled ("" when they can). A trusted version runs its own code in the
    replica, and a pool replica holds other teams' models (their artifacts' links, their requests): trusted
    versions get replicas of their own instead."""
    trusted = [str(version) for version in versions if version is not None and version.trusted]
    if not pooled or not trusted:
        return ""
    return (
        f"{', '.join(trusted)} {'is' if len(trusted) == 1 else 'are'} trusted (runs its own code), and pooled "
        "replicas are shared with other teams' models: set pooled to false to give it replicas of its own."
    )


def model_spec(deployment: Deployment, rollout: Rollout | None = None) -> ModelSpec:
    """The stable version, plus the candidate of an active rollout at the weight and shadow share it has reached
    (at 0% while it loads, so its readiness can be observed before it takes traffic).

    A pooled deployment that holds a trusted version (the API refuses that, but an admin may trust a version that a
    pool serves) is served by replicas of its own, never by the shared pool."""
    stable, *candidates = served_versions(deployment, rollout)
    pooled = deployment.pooled and not trusted_pool_refusal(pooled=True, versions=[stable, *candidates])
    resources = Resources(**deployment.resources)
    versions, weights, shadow = [version_spec(stable)], [(stable.version, 100)], None
    for candidate in candidates:
        if rollout is None:  # never: served_versions names a candidate only for an active rollout
            break
        versions.append(version_spec(candidate))
        weights = [(stable.version, 100 - rollout.candidate_weight), (candidate.version, rollout.candidate_weight)]
        if rollout.shadow_percent:
            shadow = Shadow(candidate.version, rollout.shadow_percent)
    return ModelSpec(
        name=deployment.model.name,
        versions=tuple(versions),
        weights=tuple(weights),
        shadow=shadow,
        autoscaling=Autoscaling(**deployment.autoscaling),
        batching=Batching(**deployment.batching),
        resources=resources,
        dedicated=not pooled and needs_dedicated_mode(resources),
        pooled=pooled,
        access=InferenceAccess(
            key_hashes=active_key_hashes(deployment), require_key=deployment.require_key, pins=deployment.pins
        ),
        limits=request_limits(deployment.limits),
    )


def active_key_hashes(deployment: Deployment) -> tuple[str, ...]:
    """Hashes of the deployment's data-plane keys not revoked (services.keys), for the replicas' user_config."""
    return tuple(sorted(key.key_hash for key in deployment.keys.all() if key.revoked_at is None))


def needs_dedicated_mode(resources: Resources) -> bool:
    """GPUs, or more memory than every replica should hold for all active versions: one application per version."""
    return resources.num_gpus > 0 or (resources.memory_mb or 0) > settings.RAYLANE_DEDICATED_MEMORY_MB


def artifact_source() -> ArtifactSource:
    return ArtifactSource(
        shared_path=settings.RAYLANE_ARTIFACT_SHARED_PATH or None,
        cache_bytes=settings.RAYLANE_ARTIFACT_CACHE_BYTES,
    )


def fleet_spec() -> FleetSpec:
    """Every deployment with a version to serve. Deployments without one are records only."""
    deployments = (
        Deployment.objects.filter(stable_version__isnull=False)
        .select_related("model", "stable_version__artifact")
        .prefetch_related("keys")
    )
    active = active_rollouts("to_version__artifact")
    return FleetSpec(
        models=tuple(
            model_spec(deployment, active.get(deployment.pk)) for deployment in deployments.order_by("model__name")
        ),
        artifacts=artifact_source(),
        http_host=settings.RAYLANE_SERVE_HOST,
        http_port=settings.RAYLANE_SERVE_PORT,
        runtime_env=settings.RAYLANE_RUNTIME_ENV or None,
        pool_models_per_replica=settings.RAYLANE_POOL_MODELS_PER_REPLICA,
    )
