"""InMemoryServeCluster: the in-memory twin of a Ray Serve cluster, with the behaviour of the real one.

It validates a config as the dashboard does, then pretends every replica starts at once, keeping Ray's replica
identity rules (see the class). The control plane's tests drive it (``RAYLANE_SERVE_CLUSTER=memory``, which
``controlplane.rollouts.serve_target`` reads), and the contract suite (tests/contract) runs the same checks against it
and against ``RayDashboardCluster``, so tests on the twin mean something.
"""

from __future__ import annotations

import fnmatch
import json
import random
import string
import time
from copy import deepcopy
from typing import Any

from serving.cluster import START_HINT, ClusterUnreachable, ConfigRejected, ServeCluster, ServeClusterError
from serving.head import LOOPBACK
from serving.serve_status import ApplicationStatus, ClusterStatus, DeploymentStatus, ReplicaStatus


def _restart_key(app: dict, deployment: dict) -> str:
    """What makes Ray replace replicas rather than reconfigure them (ray/serve/_private/version.py)."""
    fields = {key: app.get(key) for key in ("import_path", "runtime_env", "args")}
    keys = ("ray_actor_options", "placement_group_bundles", "placement_group_strategy", "max_replicas_per_node")
    fields |= {key: deployment.get(key) for key in (*keys, "version")}
    return json.dumps(fields, sort_keys=True, default=str)


def _target_replicas(deployment: dict) -> int:
    autoscaling = deployment.get("autoscaling_config")
    if isinstance(autoscaling, dict) or deployment.get("num_replicas") == "auto":
        autoscaling = autoscaling or {}
        return int(autoscaling.get("initial_replicas") or autoscaling.get("min_replicas") or 1)
    return int(deployment.get("num_replicas", 1))


class InMemoryServeCluster(ServeCluster):
    """The twin: validates like the dashboard, then pretends every replica starts at once.

    Replica identity follows Ray's measured semantics: a ``user_config`` change reconfigures replicas in place
    (same ids and pids), a change of ``ray_actor_options``, ``import_path``, ``runtime_env`` or ``args`` replaces
    them, scaling keeps existing replicas, and apps missing from a new body disappear. The twin only knows the
    deployments a config names; an app without a ``deployments`` list gets one deployment named after its
    import path's attribute. ``broken_import_paths`` go DEPLOY_FAILED, as a missing module would in Ray.
    """

    def __init__(self, *, node_ip: str = LOOPBACK, reachable: bool = True, broken_import_paths: tuple = ()) -> None:
        self.node_ip = node_ip
        self.node_id = "f" * 56
        self.reachable = reachable
        self.broken_import_paths = set(broken_import_paths)
        self.applied: list[dict] = []
        self.reconfigure_calls: dict[tuple[str, str], int] = {}
        self.logs: dict[str, list[str]] = {}
        self._apps: dict[str, ApplicationStatus] = {}
        self._random = random.Random(0)
        self._next_pid = 20000
        self.requests: dict[tuple[str, int, int, str], int] = {}
        self.latencies: dict[tuple[str, int, str], list[float]] = {}

    def _check_reachable(self) -> None:
        if not self.reachable:
            raise ClusterUnreachable(f"The in-memory Serve cluster is marked unreachable; {START_HINT}")

    def _log(self, filename: str, line: str) -> None:
        self.logs.setdefault(filename, []).append(f"INFO {time.strftime('%Y-%m-%d %H:%M:%S')} {line}")

    def _start_replica(self, app_name: str, deployment_name: str, user_config: Any) -> ReplicaStatus:
        replica_id = "".join(self._random.choices(string.ascii_lowercase + string.digits, k=8))
        self._next_pid += 1
        replica = ReplicaStatus(
            replica_id=replica_id,
            state="RUNNING",
            pid=self._next_pid,
            actor_name=f"SERVE_REPLICA::{app_name}#{deployment_name}#{replica_id}",
            node_id=self.node_id,
            node_ip=self.node_ip,
            start_time_s=time.time(),
            log_file_path=f"/serve/replica_{app_name}_{deployment_name}_{replica_id}.log",
        )
        self._log(replica.log_filename, f"{deployment_name} {replica_id} -- Started replica (pid {replica.pid}).")
        if user_config is not None:
            self._reconfigure(app_name, deployment_name, replica, user_config)
        return replica

    def _reconfigure(self, app_name: str, deployment_name: str, replica: ReplicaStatus, user_config: Any) -> None:
        key = (app_name, deployment_name)
        self.reconfigure_calls[key] = self.reconfigure_calls.get(key, 0) + 1
        self._log(replica.log_filename, f"{deployment_name} {replica.replica_id} -- reconfigure({user_config!r})")

    def _deploy(self, app: dict) -> ApplicationStatus:
        name, route_prefix = app.get("name", "default"), app.get("route_prefix", "/")
        if app["import_path"] in self.broken_import_paths:
            message = f"ModuleNotFoundError: No module named {app['import_path'].split(':')[0]!r}"
            return ApplicationStatus(name, "DEPLOY_FAILED", message, route_prefix, {}, app)
        old = self._apps.get(name)
        old_app = (old.deployed_config or {}) if old else {}
        old_configs = {deployment["name"]: deployment for deployment in old_app.get("deployments", [])}
        deployments = {}
        for config in app.get("deployments") or [{"name": app["import_path"].rsplit(":", 1)[-1]}]:
            deployment_name, user_config = config["name"], config.get("user_config")
            previous = old.deployments.get(deployment_name) if old else None
            old_config = old_configs.get(deployment_name) if previous else None
            replicas = list(previous.replicas) if previous else []
            if old_config and _restart_key(old_app, old_config) != _restart_key(app, config):
                replicas = []
            elif old_config and old_config.get("user_config") != user_config:
                for replica in replicas:
                    self._reconfigure(name, deployment_name, replica, user_config)
            target = _target_replicas(config)
            replicas = replicas[:target]
            replicas += [self._start_replica(name, deployment_name, user_config) for _ in range(target - len(replicas))]
            deployments[deployment_name] = DeploymentStatus(
                deployment_name, "HEALTHY", "", "CONFIG_UPDATE_COMPLETED", target, tuple(replicas)
            )
        return ApplicationStatus(name, "RUNNING", "", route_prefix, deployments, app)

    def apply(self, config: dict) -> None:
        self._check_reachable()
        from pydantic import ValidationError
        from ray.serve.schema import ServeDeploySchema

        try:
            ServeDeploySchema.model_validate(config)
        except ValidationError as error:
            raise ConfigRejected(repr(error), 400) from error  # what the dashboard answers: 400 with repr(e)
        self.applied.append(deepcopy(config))
        self._apps = {app.get("name", "default"): self._deploy(deepcopy(app)) for app in config["applications"]}

    def status(self) -> ClusterStatus:
        self._check_reachable()
        proxies = {self.node_id: {"node_id": self.node_id, "node_ip": self.node_ip, "status": "HEALTHY"}}
        return ClusterStatus(dict(self._apps), proxies if self._apps else {}, controller_alive=bool(self._apps))

    def shutdown_serve(self, timeout_s: float = 90) -> None:
        self._check_reachable()
        self._apps = {}

    def record_requests(
        self,
        model: str,
        version: int,
        *,
        code: int = 200,
        count: int = 1,
        latency_ms: float = 5.0,
        routed: str = "split",
    ) -> None:
        """Pretend the model server answered requests: they show up in `metrics_text` as its replicas export them
        (`routed`: "split" or "pinned"; the latency of 4xx answers is exported as "rejected", as the server does)."""
        key = (model, version, code, routed)
        self.requests[key] = self.requests.get(key, 0) + count
        latency_routed = "rejected" if 400 <= code < 500 else routed
        self.latencies.setdefault((model, version, latency_routed), []).extend([latency_ms] * count)

    def _model_server_lines(self) -> list[str]:
        """What model server replicas export: every version in their user_config loads at once in the twin."""
        lines = ["# TYPE ray_raylane_version_ready gauge", "# TYPE ray_raylane_requests gauge"]
        first_replica: dict[str, str] = {}
        for app in self._apps.values():
            for deployment in app.deployments.values():
                config: dict[str, Any] = next(
                    (d for d in (app.deployed_config or {}).get("deployments", []) if d.get("name") == deployment.name),
                    {},
                )
                versions = (config.get("user_config") or {}).get("versions") or []
                model = app.name.split(".", 1)[0]
                for replica in deployment.replicas:
                    first_replica.setdefault(model, replica.replica_id)
                    for spec in versions:
                        labels = f'model="{model}",version="{spec["version"]}",replica="{replica.replica_id}"'
                        lines.append(f"ray_raylane_version_ready{{{labels}}} 1.0")
        for (model, version, code, routed), count in sorted(self.requests.items()):
            replica_id = first_replica.get(model, "x")
            labels = f'model="{model}",version="{version}",code="{code}",routed="{routed}",replica="{replica_id}"'
            lines.append(f"ray_raylane_requests{{{labels}}} {float(count)}")
        lines.append("# TYPE ray_raylane_request_latency_ms_bucket gauge")
        for (model, version, routed), latencies in sorted(self.latencies.items()):
            replica_id = first_replica.get(model, "x")
            for bound in ("5", "10", "20", "50", "100", "200", "500", "1000", "+Inf"):
                limit = float("inf") if bound == "+Inf" else float(bound)
                inside = sum(1 for value in latencies if value <= limit)
                labels = f'model="{model}",version="{version}",routed="{routed}",le="{bound}",replica="{replica_id}"'
                lines.append(f"ray_raylane_request_latency_ms_bucket{{{labels}}} {float(inside)}")
        return lines

    def metrics_text(self, node_ip: str | None = None) -> str:
        self._check_reachable()
        lines = [*self._model_server_lines(), "# TYPE ray_serve_deployment_replica_healthy gauge"]
        for app in self._apps.values():
            for deployment in app.deployments.values():
                for replica in deployment.replicas:
                    if node_ip in (None, replica.node_ip):
                        labels = (
                            f'application="{app.name}",deployment="{deployment.name}",replica="{replica.replica_id}"'
                        )
                        lines.append(f"ray_serve_deployment_replica_healthy{{{labels}}} 1.0")
        return "\n".join(lines) + "\n"

    def _check_node(self, node_ip: str) -> None:
        if node_ip != self.node_ip:
            raise ServeClusterError(f"Cannot find matching node_id for a given node ip {node_ip}")

    def log_files(self, node_ip: str, glob: str = "serve/*") -> list[str]:
        self._check_reachable()
        self._check_node(node_ip)
        return sorted(name for name in self.logs if fnmatch.fnmatch(name, glob))

    def log_read(self, node_ip: str, filename: str, cursor: Any = None, *, backlog: int = 100) -> tuple[list[str], Any]:
        self.log_tail(node_ip, filename, lines=1)  # the same errors
        lines = self.logs[filename]
        start = len(lines) - min(backlog, len(lines)) if cursor is None else int(cursor)
        return lines[start:], len(lines)

    def write_log(self, filename: str, line: str) -> None:
        """A replica writes a line (as the model server's JSON logging would)."""
        self.logs.setdefault(filename, []).append(line)

    def log_tail(self, node_ip: str, filename: str, lines: int = 100) -> list[str]:
        self._check_reachable()
        self._check_node(node_ip)
        if filename not in self.logs:
            raise ServeClusterError(f"Log file {filename} on node {node_ip}: a file is not found")
        return self.logs[filename][-lines:]
