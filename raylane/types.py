"""Typed results: one frozen dataclass per API object, built from the API's JSON by field name.

Fields the server adds later are ignored and fields it leaves out take their defaults, so an SDK and a server of
different versions still talk. Times (`*_at`, `at`) become timezone-aware datetimes. `as_json` turns any result
back into JSON-ready data (what `--json` prints).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")

ACTIVE_PHASES = ("pending", "progressing", "paused", "warm")
TERMINAL_PHASES = ("succeeded", "failed", "aborted")


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def is_time_field(name: str) -> bool:
    return name == "at" or name.endswith("_at")


def from_api(cls: type[T], data: Mapping[str, Any], **overrides: Any) -> T:
    """An instance of the dataclass `cls` from an API object; a field's `metadata["api"]` names its API key."""
    values: dict[str, Any] = {}
    for spec in fields(cls):  # type: ignore[arg-type]
        if spec.name in overrides:
            values[spec.name] = overrides[spec.name]
            continue
        key = spec.metadata.get("api", spec.name)
        if key not in data:
            continue
        value = data[key]
        values[spec.name] = parse_time(value) if is_time_field(spec.name) else value
    return cls(**values)


def as_json(value: Any) -> Any:
    """Dataclasses, lists and datetimes as plain JSON values (times in ISO 8601)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {spec.name: as_json(getattr(value, spec.name)) for spec in fields(value) if spec.repr}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): as_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(item) for item in value]
    return value


@dataclass(frozen=True)
class User:
    id: int | None = None
    username: str = ""
    email: str = ""
    is_superuser: bool = False
    teams: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Team:
    slug: str = ""
    name: str = ""
    my_role: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class Model:
    name: str = ""
    team: str = ""
    description: str = ""
    tags: list[str] = field(default_factory=list)
    owner: str | None = None
    latest_version: int | None = None
    version_count: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ModelVersion:
    model: str = ""
    version: int = 0
    filename: str = ""
    sha256: str = ""
    size: int = 0
    format: str = ""
    framework: str = ""
    framework_version: str | None = None
    signature: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    trusted: bool = False
    trusted_by: str | None = None
    trusted_at: datetime | None = None
    validation_status: str = ""
    validation_error: str = ""
    validation_details: dict[str, Any] | None = None
    deployable: bool = False
    created_by: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class Deployment:
    id: int = 0
    model: str = ""
    team: str = ""
    route: str = ""
    stable_version: int | None = None
    default_policy: int | None = None
    autoscaling: dict[str, Any] = field(default_factory=dict)
    batching: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    pooled: bool = False
    pins: str = ""
    require_key: bool = False
    limits: dict[str, Any] | None = None
    created_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Policy:
    id: int = 0
    team: str = ""
    name: str = ""
    description: str = ""
    strategy: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)
    analysis: dict[str, Any] = field(default_factory=dict)
    on_failure: str = ""
    progress_deadline_s: int | None = None
    shadow_percent: int | None = None
    auto_promote_s: int | None = None
    keep_warm_s: int | None = None
    created_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class RolloutEvent:
    id: int = 0
    at: datetime | None = None
    kind: str = ""
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    actor: str = field(default="", metadata={"api": "actor_username"})
    rollout: int | None = None


@dataclass(frozen=True)
class Rollout:
    id: int = 0
    deployment: int = 0
    model: str = ""
    from_version: int = 0
    to_version: int = 0
    policy: int | None = None
    policy_snapshot: dict[str, Any] = field(default_factory=dict)
    phase: str = ""
    stable_weight: int = 100
    candidate_weight: int = 0
    shadow_percent: int = 0
    step_index: int = -1
    reason: str = ""
    allowed_commands: list[str] = field(default_factory=list)
    created_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None
    events: tuple[RolloutEvent, ...] = ()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Rollout:
        events = tuple(from_api(RolloutEvent, event) for event in data.get("events") or ())
        return from_api(cls, data, events=events)

    @property
    def active(self) -> bool:
        return self.phase in ACTIVE_PHASES

    @property
    def finished(self) -> bool:
        return self.phase in TERMINAL_PHASES

    @property
    def succeeded(self) -> bool:
        return self.phase == "succeeded"


@dataclass(frozen=True)
class RolloutUpdate:
    """One event of a watched rollout, with where the rollout stood when it was pushed."""

    rollout: int
    phase: str
    from_version: int
    to_version: int
    candidate_weight: int
    stable_weight: int
    allowed_commands: list[str]
    event: RolloutEvent

    @property
    def finished(self) -> bool:
        return self.phase in TERMINAL_PHASES


@dataclass(frozen=True)
class Token:
    id: int = 0
    name: str = ""
    key_prefix: str = ""
    created_at: datetime | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    is_active: bool = True
    key: str | None = None  # only in the answer that created it


@dataclass(frozen=True)
class AuditEntry:
    id: int = 0
    at: datetime | None = None
    actor_id: int | None = None
    actor_username: str = ""
    action: str = ""
    target_type: str = ""
    target_id: str = ""
    target_repr: str = ""
    team_id: int | None = None
    team_slug: str = ""
    changes: dict[str, Any] = field(default_factory=dict)
    remote_addr: str | None = None


@dataclass(frozen=True)
class LogLine:
    at: datetime | None = None
    level: str = ""
    model: str | None = None
    version: int | None = None
    replica: str = ""
    request_id: str = ""
    message: str = ""


@dataclass(frozen=True)
class Prediction:
    """A model's answer. `predictions` is the v1 list (or, for v2, the first output reshaped to nested lists);
    `version` is the version that answered (the X-Raylane-Version header); `body` the whole JSON answer."""

    model: str
    version: int | None
    protocol: str
    predictions: Any
    outputs: list[dict[str, Any]] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict, repr=False)
