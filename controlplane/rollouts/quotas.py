"""What a deployment reserves on the cluster, and whether a team's deployments stay within its quota.

The numbers follow serving.config's layout of the Serve config, because that is what Ray actually reserves:
- each protocol (v2, v1) is its own application whose ModelServer runs up to `max_replicas` replicas with the
  deployment's resources, so a shared-mode deployment reserves protocols × max_replicas × resources whatever the
  number of versions its replicas hold in process;
- in dedicated mode those replicas are light routers (ROUTER_CPUS each), and every version held (the stable one,
  plus the candidate of an active rollout) gets `max_replicas` replicas of its own with the deployment's resources;
- a pooled model is served by the shared pool, which belongs to the platform and not to the team: it reserves
  nothing of the team's quota;
- a deployment without a stable version is a record only and reserves nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from controlplane.accounts.models import Team, TeamQuota
from controlplane.core.errors import ApplicationError
from serving.config import PROTOCOLS, ROUTER_CPUS, Autoscaling, Resources

from .desired import needs_dedicated_mode


@dataclass(frozen=True)
class Reservation:
    replicas: int = 0
    cpus: float = 0.0
    gpus: float = 0.0
    custom: dict[str, float] = field(default_factory=dict)

    def __add__(self, other: Reservation) -> Reservation:
        custom = dict(self.custom)
        for name, amount in other.custom.items():
            custom[name] = custom.get(name, 0.0) + amount
        return Reservation(
            replicas=self.replicas + other.replicas,
            cpus=self.cpus + other.cpus,
            gpus=self.gpus + other.gpus,
            custom=custom,
        )


def reservation(
    *, autoscaling: dict[str, Any], resources: dict[str, Any], pooled: bool, versions_held: int
) -> Reservation:
    """The most a deployment can hold on the cluster with these settings (see the module docstring)."""
    if pooled or versions_held <= 0:
        return Reservation()
    scaling = Autoscaling(**autoscaling)
    needs = Resources(**resources)
    front = len(PROTOCOLS) * scaling.max_replicas
    if needs_dedicated_mode(needs):
        carriers = versions_held * scaling.max_replicas
        return Reservation(
            replicas=front + carriers,
            cpus=front * ROUTER_CPUS + carriers * needs.num_cpus,
            gpus=carriers * needs.num_gpus,
            custom={name: carriers * amount for name, amount in needs.custom.items()},
        )
    return Reservation(
        replicas=front,
        cpus=front * needs.num_cpus,
        gpus=front * needs.num_gpus,
        custom={name: front * amount for name, amount in needs.custom.items()},
    )


def total(reservations: Iterable[Reservation]) -> Reservation:
    result = Reservation()
    for item in reservations:
        result = result + item
    return result


def amount(value: float) -> str:
    return f"{value:g}"


def quota_check(
    *, team: Team, others: Reservation, old: Reservation, new: Reservation, field_for: dict[str, str]
) -> None:
    """Refuse a change of one deployment (`old` → `new`) that takes the team over its quota, `others` being what
    the team's other deployments reserve. A change that does not add to a dimension already over its quota (an
    admin lowered the quota) is let through, so a team can always scale down. `field_for` names the request field
    to blame per dimension ("replicas", "cpus", "gpus", "custom")."""
    quota = TeamQuota.objects.filter(team=team).first()
    if quota is None:
        return
    before, after = others + old, others + new
    limits: list[tuple[str, str, float | None, float, float, float]] = [
        ("replicas", "replicas", quota.max_replicas, before.replicas, after.replicas, others.replicas),
        ("cpus", "CPUs", quota.max_cpus, before.cpus, after.cpus, others.cpus),
        ("gpus", "GPUs", quota.max_gpus, before.gpus, after.gpus, others.gpus),
    ]
    for name, limit in sorted((quota.max_custom or {}).items()):
        limits.append(
            (
                "custom",
                f"of custom resource '{name}'",
                limit,
                before.custom.get(name, 0.0),
                after.custom.get(name, 0.0),
                others.custom.get(name, 0.0),
            )
        )
    for dimension, unit, limit, was, will, elsewhere in limits:
        if limit is None or will <= limit + 1e-9 or will <= was + 1e-9:
            continue
        blamed = field_for.get(dimension, "resources")
        raise ApplicationError(
            f"{blamed}: team {team.slug} would use {amount(will)} {unit}; its quota is {amount(limit)}"
            f" ({amount(elsewhere)} taken by its other deployments)",
            field=blamed,
        )
