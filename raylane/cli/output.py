"""What the CLI prints: tables for people, JSON for scripts, one line per error, and the documented exit codes.

Pure functions of their inputs (no network, no global state), so they are tested on their own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rich.table import Table
from rich.text import Text

from ..errors import (
    ApiError,
    AuthError,
    NotConfigured,
    NotFound,
    PermissionDenied,
    ServerUnreachable,
)
from ..types import (
    AuditEntry,
    Deployment,
    LogLine,
    Model,
    ModelVersion,
    Policy,
    Rollout,
    RolloutEvent,
    RolloutUpdate,
    Token,
    as_json,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
EXIT_CODES_HELP = (
    "Exit codes: 0 ok · 1 the command failed, or a rollout was rolled back or aborted · 2 usage error · "
    "3 not logged in, token refused, or a role missing · 4 not found."
)


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, AuthError):  # also PermissionDenied and NotConfigured
        return EXIT_AUTH
    if isinstance(exc, NotFound):
        return EXIT_NOT_FOUND
    return EXIT_FAILED


def error_line(exc: BaseException) -> str:
    """One line that says what went wrong and, where it helps, what to do."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, NotConfigured | PermissionDenied):  # their messages say what is needed
        hint = ""
    elif isinstance(exc, AuthError):
        hint = " (log in again with `raylane login`, or set RAYLANE_TOKEN)"
    elif isinstance(exc, ServerUnreachable):
        hint = " (check the server URL: `raylane login URL`, RAYLANE_URL or --url)"
    elif isinstance(exc, ApiError) and exc.field and exc.field not in message:
        message = f"{exc.field}: {message}"
        hint = ""
    else:
        hint = ""
    return f"error: {message}{hint}"


def dumps(value: Any) -> str:
    return json.dumps(as_json(value), indent=2, ensure_ascii=False, sort_keys=False)


def dumps_line(value: Any) -> str:
    return json.dumps(as_json(value), ensure_ascii=False)


def when(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def clock(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%H:%M:%S") if moment else "--:--:--"


def size(count: int | None) -> str:
    if count is None:
        return "-"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"


def cell(value: Any) -> Text:
    """Table cells are plain text: a model's metadata or a log line never becomes Rich markup."""
    if value is None or value == "":
        return Text("-", style="dim")
    if isinstance(value, datetime):
        return Text(when(value))
    if isinstance(value, bool):
        return Text("yes" if value else "no")
    if isinstance(value, list | tuple):
        return Text(", ".join(str(item) for item in value) or "-")
    return Text(str(value))


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None) -> Table:
    grid = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*(cell(value) for value in row))
    return grid


def weights(from_version: int, to_version: int, stable_weight: int, candidate_weight: int) -> str:
    return f"v{from_version} {stable_weight}% · v{to_version} {candidate_weight}%"


def models_table(models: Sequence[Model]) -> Table:
    rows = [
        (m.name, m.team, m.latest_version, m.version_count, m.tags, m.owner, m.updated_at or m.created_at)
        for m in models
    ]
    return table(("model", "team", "latest", "versions", "tags", "owner", "updated"), rows)


def versions_table(versions: Sequence[ModelVersion], *, stable: int | None = None) -> Table:
    rows = [
        (
            f"{v.version}{' (stable)' if stable == v.version else ''}",
            v.format,
            v.validation_status + (f": {v.validation_error}" if v.validation_error else ""),
            v.deployable,
            size(v.size),
            v.sha256[:12],
            v.created_by,
            v.created_at,
        )
        for v in versions
    ]
    return table(("version", "format", "validation", "deployable", "size", "sha256", "by", "created"), rows)


def version_table(version: ModelVersion) -> Table:
    return versions_table([version])


def deployments_table(deployments: Sequence[Deployment]) -> Table:
    rows = [
        (d.id, d.model, d.team, d.stable_version, d.route, autoscaling_text(d.autoscaling), d.updated_at)
        for d in deployments
    ]
    return table(("id", "model", "team", "stable", "route", "replicas", "updated"), rows)


def autoscaling_text(autoscaling: dict[str, Any]) -> str:
    if not autoscaling:
        return "-"
    low, high = autoscaling.get("min_replicas"), autoscaling.get("max_replicas")
    return f"{low}" if low == high else f"{low}-{high}"


def policies_table(policies: Sequence[Policy]) -> Table:
    rows = [(p.id, p.name, p.team, p.strategy, steps_text(p.steps), p.on_failure) for p in policies]
    return table(("id", "name", "team", "strategy", "steps", "on failure"), rows)


def steps_text(steps: Sequence[dict[str, Any]]) -> str:
    shown = []
    for step in steps:
        pause = step.get("pause_s")
        shown.append(f"{step.get('weight')}%" + (" (wait)" if pause is None else f"/{pause}s" if pause else ""))
    return " → ".join(shown) or "-"


def rollouts_table(rollouts: Sequence[Rollout]) -> Table:
    rows = [
        (
            r.id,
            r.model,
            f"v{r.from_version} → v{r.to_version}",
            r.phase,
            weights(r.from_version, r.to_version, r.stable_weight, r.candidate_weight),
            r.reason,
            r.created_at,
        )
        for r in rollouts
    ]
    return table(("id", "model", "versions", "phase", "traffic", "reason", "started"), rows)


def rollout_summary(rollout: Rollout) -> list[str]:
    strategy = rollout.policy_snapshot.get("strategy", "")
    steps = rollout.policy_snapshot.get("steps") or []
    step = f", step {rollout.step_index + 1}/{len(steps)}" if strategy == "canary" and rollout.step_index >= 0 else ""
    lines = [
        f"rollout {rollout.id}  {rollout.model}  v{rollout.from_version} → v{rollout.to_version}  "
        f"{rollout.phase} ({strategy}{step})",
        "traffic   "
        + weights(rollout.from_version, rollout.to_version, rollout.stable_weight, rollout.candidate_weight),
    ]
    if rollout.reason:
        lines.append(f"reason    {rollout.reason}")
    if rollout.allowed_commands:
        lines.append(f"commands  {', '.join(rollout.allowed_commands)}")
    return lines


def event_line(event: RolloutEvent) -> str:
    return f"{clock(event.at)}  {event.kind:<10} {event.message}"


def update_line(update: RolloutUpdate) -> str:
    traffic = weights(update.from_version, update.to_version, update.stable_weight, update.candidate_weight)
    return f"{event_line(update.event)}  [{traffic}]"


def outcome_line(rollout: Rollout) -> str:
    if rollout.succeeded:
        return f"rollout {rollout.id} succeeded: v{rollout.to_version} of {rollout.model} is the stable version"
    return f"rollout {rollout.id} {rollout.phase}: {rollout.reason or 'no reason recorded'}"


def tokens_table(tokens: Sequence[Token]) -> Table:
    rows = [
        (t.id, t.name, f"{t.key_prefix}…", t.is_active, t.created_at, t.expires_at, t.last_used_at, t.revoked_at)
        for t in tokens
    ]
    return table(("id", "name", "key", "active", "created", "expires", "last used", "revoked"), rows)


def audit_table(entries: Sequence[AuditEntry]) -> Table:
    rows = [
        (e.at, e.actor_username, e.action, f"{e.target_type} {e.target_repr}".strip(), e.team_slug, changes_text(e))
        for e in entries
    ]
    return table(("at", "actor", "action", "target", "team", "changes"), rows)


def changes_text(entry: AuditEntry, limit: int = 80) -> str:
    text = json.dumps(entry.changes, ensure_ascii=False, separators=(",", ":")) if entry.changes else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def log_line(line: LogLine) -> str:
    version = f"v{line.version}" if line.version is not None else "-"
    replica = line.replica.rsplit("#", 1)[-1][:12] if line.replica else "-"
    return f"{clock(line.at)} {line.level:<8} {version:<4} {replica:<12} {line.message}"
