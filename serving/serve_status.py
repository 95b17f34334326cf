"""What Ray Serve reports about itself, as frozen values: ``parse_status`` turns the dashboard's
``GET /api/serve/applications/`` body into a ``ClusterStatus`` of applications, their deployments and replicas.

Every ``ServeCluster`` (``serving.cluster``, ``serving.cluster_twin``) answers ``status()`` with these, and the
control plane reads them (reconcile's drift check, the monitor's topology); nothing here talks to Ray.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ReplicaStatus:
    replica_id: str
    state: str
    pid: int | None  # Ray omits it while a replica is STARTING
    actor_name: str
    node_id: str
    node_ip: str
    start_time_s: float
    log_file_path: str

    @property
    def log_filename(self) -> str:
        """The name ``log_tail`` takes: Ray reports the path relative to the logs folder with a leading slash."""
        return self.log_file_path.lstrip("/")


@dataclass(frozen=True)
class DeploymentStatus:
    name: str
    status: str
    message: str
    status_trigger: str
    target_num_replicas: int
    replicas: tuple[ReplicaStatus, ...]


@dataclass(frozen=True)
class ApplicationStatus:
    name: str
    status: str
    message: str
    route_prefix: str | None
    deployments: dict[str, DeploymentStatus]
    deployed_config: dict | None

    def replica_ids(self) -> set[str]:
        return {replica.replica_id for deployment in self.deployments.values() for replica in deployment.replicas}

    def problems(self) -> str:
        """The app's message and each unhealthy deployment's message, for error reports."""
        parts = [self.message] if self.message else []
        parts += [f"{name}: {d.message}" for name, d in self.deployments.items() if d.message]
        return "; ".join(parts) or "(Ray gave no message)"


@dataclass(frozen=True)
class ClusterStatus:
    applications: dict[str, ApplicationStatus]
    proxies: dict
    controller_alive: bool


def _fields(record: dict, defaults: dict[str, Any]) -> dict[str, Any]:
    return {name: record.get(name, default) for name, default in defaults.items()}


_REPLICA = {"state": "", "pid": None, "actor_name": "", "node_id": "", "node_ip": "", "start_time_s": 0.0}
_DEPLOYMENT = {"status": "", "message": "", "status_trigger": "", "target_num_replicas": 0}


def parse_status(body: dict) -> ClusterStatus:
    """Turn ``GET /api/serve/applications/`` into frozen dataclasses."""
    applications = {}
    for app_name, app in (body.get("applications") or {}).items():
        deployments = {
            name: DeploymentStatus(
                name=name,
                replicas=tuple(
                    ReplicaStatus(
                        replica["replica_id"],
                        log_file_path=replica.get("log_file_path", ""),
                        **_fields(replica, _REPLICA),
                    )
                    for replica in deployment.get("replicas") or ()
                ),
                **_fields(deployment, _DEPLOYMENT),
            )
            for name, deployment in (app.get("deployments") or {}).items()
        }
        applications[app_name] = ApplicationStatus(
            app_name,
            deployments=deployments,
            deployed_config=app.get("deployed_app_config"),
            **_fields(app, {"status": "", "message": "", "route_prefix": None}),
        )
    controller_alive = bool((body.get("controller_info") or {}).get("actor_id"))
    return ClusterStatus(applications, body.get("proxies") or {}, controller_alive)
