"""The REST API's resources, one small class each: a method per endpoint, typed results, nothing decided here.

Deployments are named by id or by their model's name (a model has at most one deployment); policies by id or by
name (names are unique per team). `find` methods return None where `get` raises NotFound: declarative tools compare
desired with current state through them.
"""

from __future__ import annotations

import builtins
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import httpx

from .errors import BadRequest, NotFound, error_from_response
from .transport import Transport, decoded, unreachable
from .types import (
    AuditEntry,
    Deployment,
    LogLine,
    Model,
    ModelVersion,
    Policy,
    Rollout,
    RolloutEvent,
    Team,
    Token,
    User,
    from_api,
)

UPLOAD_TIMEOUT_S = 900.0  # the server validates the file before it answers (RAYLANE_VALIDATION_TIMEOUT_S: 120 s)
Progress = Callable[[int, int], None]
DeploymentRef = int | str
PolicyRef = int | str


class Resource:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport


class Models(Resource):
    def list(
        self, *, team: str | None = None, tag: str | None = None, search: str | None = None, limit: int | None = None
    ) -> list[Model]:
        params = {"team": team, "tag": tag, "search": search, "ordering": "name"}
        return [from_api(Model, item) for item in self.transport.paginate("models/", params=params, limit=limit)]

    def get(self, name: str) -> Model:
        return from_api(Model, self.transport.get(f"models/{name}/", what=f"model '{name}'"))

    def find(self, name: str) -> Model | None:
        try:
            return self.get(name)
        except NotFound:
            return None

    def create(self, name: str, *, team: str, description: str = "", tags: Sequence[str] | None = None) -> Model:
        body = {"name": name, "team": team, "description": description, "tags": list(tags or [])}
        return from_api(Model, self.transport.post("models/", body))

    def update(self, name: str, *, description: str | None = None, tags: Sequence[str] | None = None) -> Model:
        changes = {key: value for key, value in (("description", description), ("tags", tags)) if value is not None}
        if tags is not None:
            changes["tags"] = list(tags)
        return from_api(Model, self.transport.patch(f"models/{name}/", changes, what=f"model '{name}'"))

    def delete(self, name: str) -> None:
        self.transport.delete(f"models/{name}/", what=f"model '{name}'")


class ProgressReader:
    """A file that reports how much of it was read (by httpx's multipart encoder, in chunks) to `progress`."""

    def __init__(self, handle: IO[bytes], total: int, progress: Progress | None) -> None:
        self.handle, self.total, self.progress, self.sent = handle, total, progress, 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.handle.read(size)
        self.sent += len(chunk)
        if self.progress is not None and chunk:
            self.progress(self.sent, self.total)
        return chunk

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        position = self.handle.seek(offset, whence)
        self.sent = position
        return position

    def tell(self) -> int:
        return self.handle.tell()

    def fileno(self) -> int:
        return self.handle.fileno()


class Versions(Resource):
    def list(self, model: str, *, sha256: str | None = None, limit: int | None = None) -> list[ModelVersion]:
        items = self.transport.paginate(
            f"models/{model}/versions/",
            params={"sha256": sha256, "ordering": "version"},
            limit=limit,
            what=f"model '{model}'",
        )
        return [from_api(ModelVersion, item) for item in items]

    def get(self, model: str, version: int) -> ModelVersion:
        body = self.transport.get(f"models/{model}/versions/{version}/", what=f"version {version} of model '{model}'")
        return from_api(ModelVersion, body)

    def upload(
        self,
        model: str,
        path: str | os.PathLike[str],
        *,
        metadata: dict[str, Any] | None = None,
        signature: dict[str, Any] | None = None,
        filename: str | None = None,
        progress: Progress | None = None,
    ) -> ModelVersion:
        """Upload a file as the model's next version. The server checks and load-tests it before it answers, so
        the version returned carries the verdict (`validation_status`: valid, needs_trust, runtime_missing; a file
        that cannot be loaded is refused with BadRequest naming the problem). `progress(sent, total)` is called as
        the bytes go out."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no model file at {path}")
        form = {key: json.dumps(value) for key, value in (("metadata", metadata), ("signature", signature)) if value}
        total = path.stat().st_size
        with path.open("rb") as handle:
            reader = ProgressReader(handle, total, progress)
            body = self.transport.request(
                "POST",
                f"models/{model}/versions/",
                what=f"model '{model}'",
                files={"artifact": (filename or path.name, reader, "application/octet-stream")},
                data=form,
                timeout=UPLOAD_TIMEOUT_S,
            )
        return from_api(ModelVersion, body)

    def trust(self, model: str, version: int, *, trusted: bool = True) -> ModelVersion:
        """Team admins: allow (or withdraw) a version whose format can run code; the server load-tests it again."""
        body = self.transport.post(
            f"models/{model}/versions/{version}/trust/",
            {"trusted": trusted},
            what=f"version {version} of model '{model}'",
        )
        return from_api(ModelVersion, body)

    def update_metadata(self, model: str, version: int, metadata: dict[str, Any]) -> ModelVersion:
        body = self.transport.patch(
            f"models/{model}/versions/{version}/", {"metadata": metadata}, what=f"version {version} of model '{model}'"
        )
        return from_api(ModelVersion, body)

    def delete(self, model: str, version: int) -> None:
        self.transport.delete(f"models/{model}/versions/{version}/", what=f"version {version} of model '{model}'")

    def download(self, model: str, version: int, destination: str | os.PathLike[str]) -> Path:
        """The artifact's bytes into `destination` (a folder keeps the original filename)."""
        target = Path(destination)
        if target.is_dir():
            target = target / self.get(model, version).filename
        what = f"version {version} of model '{model}'"
        path = f"/api/v1/models/{model}/versions/{version}/download/"
        try:
            with self.transport.http.stream("GET", path, timeout=UPLOAD_TIMEOUT_S) as response:
                if response.status_code >= 400:
                    response.read()
                    raise error_from_response(response.status_code, decoded(response), what=what)
                with target.open("wb") as handle:
                    for chunk in response.iter_bytes():
                        handle.write(chunk)
        except httpx.HTTPError as exc:
            raise unreachable(self.transport.url, exc) from exc
        return target


class Deployments(Resource):
    def list(self, *, team: str | None = None, model: str | None = None) -> list[Deployment]:
        params = {"team": team, "model": model, "ordering": "model__name"}
        return [from_api(Deployment, item) for item in self.transport.paginate("deployments/", params=params)]

    def id_of(self, ref: DeploymentRef) -> int:
        """A deployment's id from its id or its model's name."""
        if isinstance(ref, int) or ref.isdigit():
            return int(ref)
        found = self.find(ref)
        if found is None:
            raise NotFound(f"model '{ref}' has no deployment (or none of your teams can see it)", status=404)
        return found.id

    def get(self, ref: DeploymentRef) -> Deployment:
        if isinstance(ref, str) and not ref.isdigit():
            found = self.find(ref)
            if found is None:
                raise NotFound(f"model '{ref}' has no deployment (or none of your teams can see it)", status=404)
            return found
        return from_api(Deployment, self.transport.get(f"deployments/{int(ref)}/", what=f"deployment {ref}"))

    def find(self, model: str) -> Deployment | None:
        """The deployment of a model, by the model's name."""
        found = self.transport.get("deployments/", params={"model": model})
        results = found.get("results", []) if isinstance(found, dict) else found
        return from_api(Deployment, results[0]) if results else None

    def create(self, model: str, *, version: int | None = None, **options: Any) -> Deployment:
        """Serve `model` at `version` (options: autoscaling, resources, batching, default_policy, pooled, pins,
        require_key, limits)."""
        body = {"model": model, "stable_version": version, **options}
        return from_api(Deployment, self.transport.post("deployments/", body, what=f"model '{model}'"))

    def update(self, ref: DeploymentRef, **changes: Any) -> Deployment:
        deployment_id = self.id_of(ref)
        body = self.transport.patch(f"deployments/{deployment_id}/", changes, what=f"deployment {ref}")
        return from_api(Deployment, body)

    def delete(self, ref: DeploymentRef) -> None:
        deployment_id = self.id_of(ref)
        self.transport.delete(f"deployments/{deployment_id}/", what=f"deployment {ref}")

    def rollback(self, ref: DeploymentRef, version: int) -> Deployment:
        """Serve `version` at 100% at once, aborting any active rollout."""
        deployment_id = self.id_of(ref)
        body = self.transport.post(
            f"deployments/{deployment_id}/rollback/", {"version": version}, what=f"deployment {ref}"
        )
        return from_api(Deployment, body)

    def events(
        self, ref: DeploymentRef, *, since: str | None = None, limit: int | None = None
    ) -> builtins.list[RolloutEvent]:
        deployment_id = self.id_of(ref)
        body = self.transport.get(
            f"deployments/{deployment_id}/events/", params={"since": since, "limit": limit}, what=f"deployment {ref}"
        )
        return [from_api(RolloutEvent, event) for event in body.get("events", [])]

    def logs(
        self,
        ref: DeploymentRef,
        *,
        version: int | None = None,
        replica: str | None = None,
        level: str | None = None,
        q: str | None = None,
        limit: int | None = None,
    ) -> builtins.list[LogLine]:
        """The replicas' recent log lines the server keeps, filtered, oldest first."""
        deployment_id = self.id_of(ref)
        params = {"version": version, "replica": replica, "level": level, "q": q, "limit": limit}
        body = self.transport.get(f"deployments/{deployment_id}/logs/", params=params, what=f"deployment {ref}")
        return [from_api(LogLine, line) for line in body.get("lines", [])]

    def metrics(self, ref: DeploymentRef, **params: Any) -> dict[str, Any]:
        """Per-version metric series (params: start, end, step, version), as the API returns them."""
        deployment_id = self.id_of(ref)
        return self.transport.get(f"deployments/{deployment_id}/metrics/", params=params, what=f"deployment {ref}")


class Policies(Resource):
    def list(self, *, team: str | None = None, strategy: str | None = None) -> list[Policy]:
        params = {"team": team, "strategy": strategy, "ordering": "name"}
        return [from_api(Policy, item) for item in self.transport.paginate("policies/", params=params)]

    def get(self, ref: PolicyRef, *, team: str | None = None) -> Policy:
        if isinstance(ref, int) or ref.isdigit():
            return from_api(Policy, self.transport.get(f"policies/{int(ref)}/", what=f"policy {ref}"))
        matches = [policy for policy in self.list(team=team) if policy.name == ref]
        if not matches:
            raise NotFound(f"policy '{ref}' not found (or none of your teams can see it)", status=404)
        if len(matches) > 1:
            teams = ", ".join(sorted(policy.team for policy in matches))
            raise BadRequest(
                f"policy '{ref}' exists in several teams ({teams}): name the team or use its id", status=400
            )
        return matches[0]

    def find(self, name: str, *, team: str) -> Policy | None:
        try:
            return self.get(name, team=team)
        except NotFound:
            return None

    def create(self, *, team: str, name: str, **settings: Any) -> Policy:
        """settings: strategy, steps, analysis, on_failure, progress_deadline_s, shadow_percent, auto_promote_s,
        keep_warm_s, description; or step_weight/max_weight/interval_s for simple canary stepping."""
        return from_api(Policy, self.transport.post("policies/", {"team": team, "name": name, **settings}))

    def update(self, ref: PolicyRef, *, team: str | None = None, **changes: Any) -> Policy:
        policy_id = self.get(ref, team=team).id if isinstance(ref, str) and not ref.isdigit() else int(ref)
        return from_api(Policy, self.transport.patch(f"policies/{policy_id}/", changes, what=f"policy {ref}"))

    def delete(self, ref: PolicyRef, *, team: str | None = None) -> None:
        policy_id = self.get(ref, team=team).id if isinstance(ref, str) and not ref.isdigit() else int(ref)
        self.transport.delete(f"policies/{policy_id}/", what=f"policy {ref}")


class Rollouts(Resource):
    """Rollouts as records; `raylane.rollouts.RolloutHandle` adds waiting and watching."""

    def list(
        self, *, deployment: int | None = None, phase: str | None = None, limit: int | None = None
    ) -> list[Rollout]:
        params = {"deployment": deployment, "phase": phase}
        return [Rollout.from_api(item) for item in self.transport.paginate("rollouts/", params=params, limit=limit)]

    def get(self, rollout_id: int) -> Rollout:
        return Rollout.from_api(self.transport.get(f"rollouts/{rollout_id}/", what=f"rollout {rollout_id}"))

    def start(self, deployment_id: int, version: int, *, policy: int | None = None) -> Rollout:
        body = self.transport.post(
            f"deployments/{deployment_id}/rollouts/",
            {"version": version, "policy": policy},
            what=f"deployment {deployment_id}",
        )
        return Rollout.from_api(body)

    def command(self, rollout_id: int, command: str) -> Rollout:
        """pause, resume, promote or abort; the engine refuses what the rollout's state does not allow (Conflict)."""
        body = self.transport.post(f"rollouts/{rollout_id}/{command}/", what=f"rollout {rollout_id}")
        return Rollout.from_api(body)


class Teams(Resource):
    def list(self) -> list[Team]:
        return [from_api(Team, item) for item in self.transport.paginate("teams/")]

    def get(self, slug: str) -> Team:
        return from_api(Team, self.transport.get(f"teams/{slug}/", what=f"team '{slug}'"))

    def create(self, slug: str, *, name: str | None = None) -> Team:
        return from_api(Team, self.transport.post("teams/", {"slug": slug, "name": name or slug}))

    def members(self, slug: str) -> builtins.list[dict[str, Any]]:
        return list(self.transport.paginate(f"teams/{slug}/members/", what=f"team '{slug}'"))

    def add_member(self, slug: str, username: str, role: str) -> dict[str, Any]:
        return self.transport.post(f"teams/{slug}/members/", {"user": username, "role": role}, what=f"team '{slug}'")

    def quota(self, slug: str) -> dict[str, Any]:
        return self.transport.get(f"teams/{slug}/quota/", what=f"team '{slug}'")


class Tokens(Resource):
    """Your own API tokens. Creating one needs a logged-in session (`raylane login --username`), or a site admin's
    token: a token cannot mint tokens."""

    def list(self) -> list[Token]:
        return [
            from_api(Token, item) for item in self.transport.paginate("tokens/", params={"ordering": "-created_at"})
        ]

    def create(self, name: str, *, expires_in_days: int | None = None) -> Token:
        lifetime = {} if expires_in_days is None else {"expires_in_days": expires_in_days}
        body = self.transport.post("tokens/", {"name": name, **lifetime})
        return from_api(Token, body)

    def revoke(self, token_id: int) -> None:
        self.transport.delete(f"tokens/{token_id}/", what=f"token {token_id}")


class Audit(Resource):
    def list(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        team: str | None = None,
        target_type: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int | None = 100,
    ) -> list[AuditEntry]:
        """Newest first."""
        params = {
            "action": action,
            "actor": actor,
            "team": team,
            "target_type": target_type,
            "since": since,
            "until": until,
            "ordering": "-at",
        }
        return [from_api(AuditEntry, item) for item in self.transport.paginate("audit/", params=params, limit=limit)]


def me(transport: Transport) -> User:
    return from_api(User, transport.get("auth/me/"))
