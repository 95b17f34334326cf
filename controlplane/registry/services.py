"""Writes for the registry: models (create, change, move, delete), version uploads, trust decisions, deletions."""

import time
from functools import partial
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.db import models, transaction
from django.db.models import Max, ProtectedError
from django.utils import timezone

from controlplane.accounts.choices import AuditAction
from controlplane.accounts.models import Team
from controlplane.accounts.services import apply_changes, audit_record
from controlplane.core.errors import ApplicationError, Conflict

from .choices import ValidationStatus
from .models import Artifact, Model, ModelVersion
from .storage import artifact_discard, artifact_path, artifact_root, artifact_store, incoming_dir
from .uploads import HashedUploadedFile
from .validation import ArtifactRejected, ValidationResult, artifact_validate

# A model's team changes only through model_move, which takes its deployment and policies along.
TEAM_IS_FIXED = (
    "team cannot be changed; a site admin (or an admin of both teams) moves a model, with its deployment and "
    "policies, with POST /api/v1/models/<name>/move/"
)


def model_create(
    *,
    team: Team,
    name: str,
    user: User,
    description: str = "",
    tags: list[str] | None = None,
) -> Model:
    """A new, empty model (its versions are uploaded next) owned by `user` in `team`."""
    tags = sorted(set(tags or []))
    with transaction.atomic():
        if Model.objects.filter(name=name).exists():
            raise ApplicationError("A model has this name.", field="name")
        model = Model.objects.create(team=team, name=name, description=description, tags=tags, owner=user)
        changes = {"name": name, "team": team.slug, "description": description, "tags": tags}
        audit_record(actor=user, action=AuditAction.CREATE, target=model, team=team, changes=changes)
    return model


def model_update(*, model: Model, changes: dict[str, Any], user: User) -> Model:
    """Change a model's description and tags. Its name is its route and never changes; its team changes only by
    `model_move` (naming the current team again is fine)."""
    changes = dict(changes)
    if "name" in changes and changes["name"] != model.name:
        raise ApplicationError("name cannot be changed: it is the model's route", field="name")
    team = changes.pop("team", None)
    if team is not None and team.pk != model.team_id:
        raise ApplicationError(TEAM_IS_FIXED, field="team")
    if "tags" in changes:
        changes["tags"] = sorted(set(changes["tags"]))
    with transaction.atomic():
        model = Model.objects.select_for_update().select_related("team").get(pk=model.pk)
        changed = apply_changes(model, {key: value for key, value in changes.items() if key != "name"})
        model.save()
        audit_record(actor=user, action=AuditAction.UPDATE, target=model, team=model.team, changes=changed)
    return model


def version_upload(
    *,
    model: Model,
    upload: HashedUploadedFile,
    user: User,
    metadata: dict[str, Any] | None = None,
    signature: dict[str, Any] | None = None,
    remote_addr: str | None = None,
) -> ModelVersion:
    """Validate an upload, store its bytes once under their sha256, and record it as the model's next version."""
    filename, size = upload.name, upload.size
    if filename is None or size is None:  # the upload handler sets both, and the API's FileField needs a name
        raise ApplicationError("the upload has no file name or size", field="artifact")
    temp_path = Path(upload.temporary_file_path())
    result = artifact_validate(path=temp_path, filename=filename, size=size)
    with transaction.atomic():
        model = Model.objects.select_for_update().get(pk=model.pk)
        artifact, _ = Artifact.objects.get_or_create(sha256=upload.sha256, defaults={"size": size})
        # Moved in before commit: if the transaction fails, the orphan file is collected by the periodic sweep,
        # whereas the other order could commit a row whose bytes are missing.
        deduplicated = not artifact_store(temp_path, upload.sha256)
        number = (model.versions.aggregate(top=Max("version"))["top"] or 0) + 1
        version = ModelVersion.objects.create(
            model=model,
            version=number,
            artifact=artifact,
            filename=Path(filename).name[:255],
            metadata=metadata or {},
            created_by=user,
            **validation_fields(result, signature_override=signature),
        )
        audit_record(
            actor=user,
            action=AuditAction.UPLOAD,
            target=version,
            team=model.team,
            changes={
                "version": number,
                "sha256": upload.sha256,
                "size": upload.size,
                "format": result.format,
                "validation_status": result.status,
                "deduplicated": deduplicated,
            },
            remote_addr=remote_addr,
        )
    return version


def validation_fields(result: ValidationResult, *, signature_override: dict[str, Any] | None = None) -> dict:
    return {
        "format": result.format,
        "framework": result.framework,
        "framework_version": result.framework_version,
        "signature": signature_override or result.signature,
        "validation_status": result.status,
        "validation_error": result.error,
        "validation_details": result.details,
    }


def version_set_trusted(
    *, version: ModelVersion, trusted: bool, user: User, remote_addr: str | None = None
) -> ModelVersion:
    """Record an admin's decision and re-run the load check under it: a trusted pickle is now really loaded."""
    if not trusted and version_usage(version):
        raise Conflict(
            f"{version} is in use ({', '.join(version_usage(version))}); move traffic off it before untrusting it",
            field="trusted",
        )
    path = artifact_path(version.sha256)
    try:
        result = artifact_validate(path=path, filename=version.filename, size=version.size, trusted=trusted)
        fields = validation_fields(result, signature_override=version.signature if not result.signature else None)
    except ArtifactRejected as exc:
        fields = {"validation_status": ValidationStatus.INVALID, "validation_error": exc.message}
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().select_related("model__team").get(pk=version.pk)
        before = {"trusted": version.trusted, "validation_status": version.validation_status}
        version.trusted = trusted
        version.trusted_by = user if trusted else None
        version.trusted_at = timezone.now() if trusted else None
        for name, value in fields.items():
            setattr(version, name, value)
        version.save()
        audit_record(
            actor=user,
            action=AuditAction.TRUST if trusted else AuditAction.UNTRUST,
            target=version,
            team=version.model.team,
            changes={
                "trusted": {"from": before["trusted"], "to": trusted},
                "validation_status": {"from": before["validation_status"], "to": version.validation_status},
            },
            remote_addr=remote_addr,
        )
    return version


def version_update_metadata(
    *, version: ModelVersion, metadata: dict[str, Any], user: User, remote_addr: str | None = None
) -> ModelVersion:
    """Only metadata changes after upload: the artifact, format and number of a version are immutable."""
    with transaction.atomic():
        before = version.metadata
        version.metadata = metadata
        version.save(update_fields=["metadata"])
        audit_record(
            actor=user,
            action=AuditAction.UPDATE,
            target=version,
            team=version.model.team,
            changes={"metadata": {"from": before, "to": metadata}},
            remote_addr=remote_addr,
        )
    return version


def version_usage(version: ModelVersion) -> list[str]:
    """What still points at this version (deployments, rollouts), as readable phrases; empty when it is free."""
    uses: list[str] = []
    for relation in version._meta.related_objects:
        if relation.on_delete is not models.PROTECT and not hasattr(relation.related_model, "in_use_filter"):
            continue
        rows = relation.related_model._default_manager.filter(**{relation.field.name: version})
        # A model may say which of its rows count as use (active rollouts do; finished ones are history).
        rows = rows.filter(**getattr(relation.related_model, "in_use_filter", {}))
        uses.extend(f"{relation.related_model._meta.verbose_name} '{row}'" for row in rows[:5])
    return uses


def version_delete(*, version: ModelVersion, user: User, remote_addr: str | None = None) -> None:
    uses = version_usage(version)
    if uses:
        raise Conflict(f"{version} cannot be deleted while it is in use: {', '.join(uses)}")
    sha256 = version.sha256
    with transaction.atomic():
        audit_record(
            actor=user,
            action=AuditAction.DELETE,
            target=version,
            team=version.model.team,
            changes={"sha256": sha256},
            remote_addr=remote_addr,
        )
        try:
            version.delete()
        except ProtectedError as exc:
            raise Conflict(f"{version} cannot be deleted while it is in use") from exc
        artifacts_release([sha256])


def model_delete(*, model: Model, user: User, remote_addr: str | None = None) -> None:
    in_use = [f"v{v.version}: {', '.join(uses)}" for v in model.versions.all() if (uses := version_usage(v))]
    if in_use:
        raise Conflict(f"model '{model}' cannot be deleted while versions are in use ({'; '.join(in_use)})")
    sha256s = list(model.versions.values_list("artifact_id", flat=True))
    with transaction.atomic():
        audit_record(
            actor=user,
            action=AuditAction.DELETE,
            target=model,
            team=model.team,
            changes={"versions": model.versions.count()},
            remote_addr=remote_addr,
        )
        try:
            model.delete()
        except ProtectedError as exc:
            raise Conflict(f"model '{model}' cannot be deleted while it is deployed") from exc
        artifacts_release(sha256s)


def model_move(*, model: Model, team: Team, user: User, remote_addr: str | None = None) -> Model:
    """Hand a model over to another team with what belongs to it: its deployment, and the rollout policies that
    only this model uses. A policy that other deployments use too stays where it is, and the moved deployment stops
    pointing at it (a deployment never names another team's policy). One transaction, one audit entry.

    The registry sits below rollouts (import-linter): deployments and policies are reached through the model's
    reverse relations rather than by importing them.
    """
    if team.pk == model.team_id:
        raise ApplicationError(f"model '{model}' already belongs to team '{team}'", field="team")
    # Any: rollouts' Deployment and RolloutPolicy, which this layer may not import to name them.
    deployment_model: Any = Model._meta.get_field("deployment").related_model
    policy_model: Any = deployment_model._meta.get_field("default_policy").related_model
    with transaction.atomic():
        model = Model.objects.select_for_update().select_related("team").get(pk=model.pk)
        source = model.team
        deployment = deployment_model.objects.select_for_update().filter(model=model).first()
        moved_policies: list[str] = []
        detached_policy = None
        if deployment is not None and deployment.default_policy_id is not None:
            policy = policy_model.objects.select_for_update().get(pk=deployment.default_policy_id)
            if policy.deployments.exclude(pk=deployment.pk).exists():
                detached_policy = policy.name
                deployment.default_policy = None
            else:
                if policy_model.objects.filter(team=team, name=policy.name).exists():
                    raise Conflict(
                        f"team '{team}' already has a policy named '{policy.name}'; rename one of them first",
                        field="team",
                    )
                policy.team = team
                policy.save(update_fields=["team", "updated_at"])
                moved_policies.append(policy.name)
        if deployment is not None:
            deployment.team = team
            deployment.save(update_fields=["team", "default_policy", "updated_at"])
        model.team = team
        model.save(update_fields=["team", "updated_at"])
        audit_record(
            actor=user,
            action=AuditAction.UPDATE,
            target=model,
            team=source,
            changes={
                "team": {"from": source.slug, "to": team.slug},
                "moved": {
                    "deployment": deployment.pk if deployment is not None else None,
                    "policies": moved_policies,
                },
                "detached_policy": detached_policy,
            },
            remote_addr=remote_addr,
        )
    return model


def artifacts_release(sha256s: list[str]) -> None:
    """Drop artifacts no version points at any more; the files go once the transaction has committed."""
    unused = list(Artifact.objects.filter(sha256__in=sha256s, versions__isnull=True).values_list("sha256", flat=True))
    Artifact.objects.filter(sha256__in=unused).delete()
    for sha256 in unused:
        transaction.on_commit(partial(artifact_discard, sha256))


def artifacts_collect_orphans(*, min_age_s: int = 3600) -> int:
    """Delete stored files that no Artifact row names (left by a failed transaction) and stale partial uploads."""
    cutoff = time.time() - min_age_s
    removed = 0
    known = set(Artifact.objects.values_list("sha256", flat=True))
    for path in (artifact_root() / "sha256").glob("*/*"):
        if path.name not in known and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    for path in incoming_dir().glob("upload-*"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
