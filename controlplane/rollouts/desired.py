"""The desired state of the cluster, read from the database (the only source of truth) as serving.config types."""

from django.conf import settings

from controlplane.registry.internal import cluster_token
from controlplane.registry.models import ModelVersion
from serving.config import ArtifactSource, Autoscaling, Batching, FleetSpec, ModelSpec, Resources, VersionSpec

from .models import Deployment


def version_spec(version: ModelVersion) -> VersionSpec:
    return VersionSpec(
        version=version.version,
        format=version.format,
        sha256=version.sha256,
        size=version.artifact.size,
        trusted=version.trusted,
        signature=version.signature,
    )


def model_spec(deployment: Deployment) -> ModelSpec:
    stable = deployment.stable_version
    resources = Resources(**deployment.resources)
    return ModelSpec(
        name=deployment.model.name,
        versions=(version_spec(stable),),
        weights=((stable.version, 100),),
        autoscaling=Autoscaling(**deployment.autoscaling),
        batching=Batching(**deployment.batching),
        resources=resources,
        dedicated=not deployment.pooled and needs_dedicated_mode(resources),
        pooled=deployment.pooled,
    )


def needs_dedicated_mode(resources: Resources) -> bool:
    """GPUs, or more memory than every replica should hold for all active versions: one application per version."""
    return resources.num_gpus > 0 or (resources.memory_mb or 0) > settings.RAYLANE_DEDICATED_MEMORY_MB


def artifact_source() -> ArtifactSource:
    return ArtifactSource(
        shared_path=settings.RAYLANE_ARTIFACT_SHARED_PATH or None,
        url=f"{settings.RAYLANE_INTERNAL_URL.rstrip('/')}/internal/artifacts",
        token=cluster_token(),
        cache_bytes=settings.RAYLANE_ARTIFACT_CACHE_BYTES,
    )


def fleet_spec() -> FleetSpec:
    """Every deployment with a version to serve. Deployments without one are records only."""
    deployments = Deployment.objects.filter(stable_version__isnull=False).select_related(
        "model", "stable_version__artifact"
    )
    return FleetSpec(
        models=tuple(model_spec(deployment) for deployment in deployments.order_by("model__name")),
        artifacts=artifact_source(),
        http_host=settings.RAYLANE_SERVE_HOST,
        http_port=settings.RAYLANE_SERVE_PORT,
        runtime_env=settings.RAYLANE_RUNTIME_ENV or None,
        pool_models_per_replica=settings.RAYLANE_POOL_MODELS_PER_REPLICA,
    )
