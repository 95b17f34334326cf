"""ServeCluster: the control plane's one door to Ray Serve, and an in-memory twin with the same behaviour.

Modelled on Ray's own ``DeployProvider`` idea: an ABC with a real implementation over the dashboard REST API
(``RayDashboardCluster``) and a fake that records what it was given (``InMemoryServeCluster``). The same contract
suite (tests/contract) runs against both, so control-plane tests on the twin mean something.

A declarative PUT replaces the whole Serve config: every call to ``apply`` must carry every application.
"""

from __future__ import annotations

import fnmatch
import json
import os
import random
import string
import time
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from serving.ray_head import LOOPBACK, HeadSettings

START_HINT = "start Ray with `make up` (or `python -m serving.ray_head start`), or set RAY_DASHBOARD_URL"


LOG_POLL_LINES = 1000
LOG_READ_MAX_BYTES = 1 << 20


def _index_after(lines: list[str], last: str) -> int:
    """Where the lines after `last` start (0 when `last` scrolled out of the window: all of them are new)."""
    for index in range(len(lines) - 1, -1, -1):
        if lines[index] == last:
            return index + 1
    return 0


class ServeClusterError(Exception):
    """Anything that went wrong talking to Serve; the message is meant for the person reading the log."""


class ClusterUnreachable(ServeClusterError):
    """The dashboard did not answer (connection refused, timeout)."""


class ConfigRejected(ServeClusterError):
    """Ray refused a config; ``message`` is Ray's own text and ``status_code`` its HTTP status."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(f"Ray rejected the Serve config (HTTP {status_code}): {message}")
        self.message = message
        self.status_code = status_code


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


class ServeCluster(ABC):
    """Desired state in (``apply``), observed state out (``status``, ``metrics_text``, ``log_tail``)."""

    @abstractmethod
    def apply(self, config: dict) -> None:
        """Replace the whole Serve config with ``config`` (a ServeDeploySchema body)."""

    @abstractmethod
    def status(self) -> ClusterStatus: ...

    @abstractmethod
    def shutdown_serve(self, timeout_s: float = 90) -> None:
        """Delete every application and stop Serve's controller and proxies."""

    @abstractmethod
    def metrics_text(self, node_ip: str | None = None) -> str:
        """Prometheus text exposition from every metrics target, or only those on ``node_ip``."""

    def metrics_by_target(self) -> dict[str, str | ServeClusterError]:
        """Each metrics target's text, or the error it gave: one node that does not answer hides no other."""
        try:
            return {"cluster": self.metrics_text()}
        except ServeClusterError as error:
            return {"cluster": error}

    @abstractmethod
    def log_files(self, node_ip: str, glob: str = "serve/*") -> list[str]: ...

    @abstractmethod
    def log_tail(self, node_ip: str, filename: str, lines: int = 100) -> list[str]: ...

    def log_read(self, node_ip: str, filename: str, cursor: Any = None, *, backlog: int = 100) -> tuple[list[str], Any]:
        """Lines appended to a log file since `cursor`, and the cursor for the next call. Without a cursor: the
        last `backlog` lines. Over the log API, which has no offsets, the cursor is the last line read."""
        if cursor is None:
            lines = self.log_tail(node_ip, filename, lines=max(backlog, 1))
            return (lines[-backlog:] if backlog else []), (lines[-1] if lines else "")
        lines = self.log_tail(node_ip, filename, lines=LOG_POLL_LINES)
        lines = lines[_index_after(lines, cursor) :]
        return lines, (lines[-1] if lines else cursor)

    def wait_until_running(self, app_names: list[str], timeout_s: float, poll_s: float = 0.25) -> ClusterStatus:
        """Poll until every named app is RUNNING; fail fast on DEPLOY_FAILED with Ray's messages."""
        deadline = time.monotonic() + timeout_s
        while True:
            status = self.status()
            waiting = []
            for name in app_names:
                app = status.applications.get(name)
                if app is not None and app.status == "DEPLOY_FAILED":
                    raise ServeClusterError(f"Serve application {name!r} failed to deploy: {app.problems()}")
                if app is None or app.status != "RUNNING":
                    waiting.append(f"{name}: {app.status} ({app.problems()})" if app else f"{name}: not deployed")
            if not waiting:
                return status
            if time.monotonic() >= deadline:
                raise ServeClusterError(
                    f"Serve applications not RUNNING after {timeout_s:.0f} s: " + "; ".join(waiting)
                )
            time.sleep(poll_s)


class RayDashboardCluster(ServeCluster):
    """A Ray cluster reached over its dashboard's REST API (``/api/serve/applications/``, ``/api/v0/logs``)."""

    def __init__(
        self,
        dashboard_url: str,
        *,
        timeout_s: float = 10,
        auth_token: str | None = None,
        metrics_urls: list[str] | None = None,
        ray_dir: Path | None = None,
    ) -> None:
        self.dashboard_url = dashboard_url.rstrip("/")
        self.auth_token = auth_token
        self.timeout_s = timeout_s
        self.metrics_urls = list(metrics_urls or [])
        self.ray_dir = ray_dir
        self._session = requests.Session()
        if auth_token:
            self._session.headers["Authorization"] = f"Bearer {auth_token}"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> RayDashboardCluster:
        """RAY_DASHBOARD_URL (default the local head), the token Ray would use, RAYLANE_RAY_METRICS_URLS."""
        env = os.environ if environ is None else environ
        head = HeadSettings.from_env(dict(env))
        url = env.get("RAY_DASHBOARD_URL") or head.dashboard_url
        local = urlsplit(url).hostname in (LOOPBACK, "localhost")
        token = env.get("RAY_AUTH_TOKEN")
        token_file = env.get("RAY_AUTH_TOKEN_PATH") or (str(head.token_path) if local else "")
        if not token and token_file and Path(token_file).exists():
            token = Path(token_file).read_text().strip()
        metrics_urls = [item.strip() for item in env.get("RAYLANE_RAY_METRICS_URLS", "").split(",") if item.strip()]
        return cls(url, auth_token=token, metrics_urls=metrics_urls, ray_dir=head.ray_dir if local else None)

    def _request(self, method: str, path: str, timeout_s: float | None = None, **kwargs: Any) -> requests.Response:
        url = f"{self.dashboard_url}{path}"
        try:
            response = self._session.request(method, url, timeout=timeout_s or self.timeout_s, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise ClusterUnreachable(
                f"Ray dashboard at {self.dashboard_url} is unreachable ({error}); {START_HINT}"
            ) from error
        if response.status_code in (401, 403):
            raise ServeClusterError(
                f"Ray dashboard at {self.dashboard_url} refused the request ({response.status_code}: "
                f"{response.text.strip()}). Token auth is on: set RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH, or run "
                "where the local head's auth_token file is readable."
            )
        return response

    def _fail(self, response: requests.Response, what: str) -> ServeClusterError:
        return ServeClusterError(
            f"{what} at {self.dashboard_url} answered HTTP {response.status_code}: {response.text}"
        )

    def apply(self, config: dict) -> None:
        # The first PUT starts Serve's controller and proxy before answering: allow it more than a status read.
        response = self._request("PUT", "/api/serve/applications/", timeout_s=max(self.timeout_s, 60), json=config)
        if 400 <= response.status_code < 500:
            raise ConfigRejected(response.text, response.status_code)
        if response.status_code != 200:
            raise self._fail(response, "PUT /api/serve/applications/")

    def status(self) -> ClusterStatus:
        response = self._request("GET", "/api/serve/applications/")
        if response.status_code != 200:
            raise self._fail(response, "GET /api/serve/applications/")
        return parse_status(response.json())

    def shutdown_serve(self, timeout_s: float = 90) -> None:
        # DELETE gives up after Ray's own 30 s while ingress replicas drain (30 s + 5 s in HAProxy mode) and still
        # answers 200, so poll until the controller is really gone.
        response = self._request("DELETE", "/api/serve/applications/", timeout_s=max(self.timeout_s, 60))
        if response.status_code != 200:
            raise self._fail(response, "DELETE /api/serve/applications/")
        deadline = time.monotonic() + timeout_s
        while (status := self.status()).controller_alive or status.applications:
            if time.monotonic() > deadline:
                raise ServeClusterError(
                    f"Serve at {self.dashboard_url} still runs {sorted(status.applications)} {timeout_s:.0f} s "
                    "after DELETE /api/serve/applications/"
                )
            time.sleep(0.5)

    def _metrics_targets(self) -> list[str]:
        if self.metrics_urls:
            return self.metrics_urls
        if self.ray_dir is None:
            raise ServeClusterError(
                f"No metrics targets for the remote cluster at {self.dashboard_url}: set RAYLANE_RAY_METRICS_URLS "
                "(comma-separated http://<node-ip>:<metrics-export-port>/metrics)"
            )
        discovery = self.ray_dir / "ray" / "prom_metrics_service_discovery.json"
        try:
            groups = json.loads(discovery.read_text())
        except (OSError, ValueError) as error:
            raise ServeClusterError(f"Cannot read Ray's metrics targets from {discovery}: {error}") from error
        return [f"http://{target}/metrics" for group in groups for target in group.get("targets", [])]

    def _scrape(self, url: str) -> str:
        try:
            response = self._session.get(url, timeout=self.timeout_s)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise ClusterUnreachable(f"Ray metrics endpoint {url} is unreachable ({error}); {START_HINT}") from error
        if response.status_code != 200:
            raise ServeClusterError(f"Ray metrics endpoint {url} answered HTTP {response.status_code}")
        return response.text

    def metrics_text(self, node_ip: str | None = None) -> str:
        urls = [url for url in self._metrics_targets() if not node_ip or urlsplit(url).hostname == node_ip]
        return "\n".join(self._scrape(url) for url in urls)

    def metrics_by_target(self) -> dict[str, str | ServeClusterError]:
        """Every node at once (a node's agent exports about 1 MB of Ray's own metrics per scrape, ~0.1 s)."""
        urls = self._metrics_targets()

        def scrape(url: str) -> str | ServeClusterError:
            try:
                return self._scrape(url)
            except ServeClusterError as error:
                return error

        with ThreadPoolExecutor(max_workers=min(16, max(1, len(urls)))) as pool:
            return dict(zip(urls, pool.map(scrape, urls), strict=True))

    def log_files(self, node_ip: str, glob: str = "serve/*") -> list[str]:
        response = self._request("GET", "/api/v0/logs", params={"node_ip": node_ip, "glob": glob})
        if response.status_code != 200:
            raise self._fail(response, f"Log listing for node {node_ip}")
        groups = response.json()["data"]["result"] or {}
        return sorted(name for names in groups.values() for name in names)

    def log_read(self, node_ip: str, filename: str, cursor: Any = None, *, backlog: int = 100) -> tuple[list[str], Any]:
        """On the local head the files are read directly from an offset; other nodes go through the log API."""
        path = self.ray_dir / "ray" / "session_latest" / "logs" / filename if self.ray_dir else None
        if node_ip not in (LOOPBACK, "localhost") or path is None or not path.exists():
            return super().log_read(node_ip, filename, None if isinstance(cursor, tuple) else cursor, backlog=backlog)
        with path.open("rb") as handle:
            identity, size = os.fstat(handle.fileno()).st_ino, os.fstat(handle.fileno()).st_size
            if isinstance(cursor, tuple) and cursor[0] == identity and cursor[1] <= size:
                handle.seek(cursor[1])
            elif cursor is None:
                handle.seek(max(0, size - LOG_READ_MAX_BYTES // 8))
            # else: rotated or truncated, so the new file from its start
            start = handle.tell()
            data = handle.read(LOG_READ_MAX_BYTES)
        complete = data.rfind(b"\n") + 1  # a line still being written waits for its newline
        offset, text = start + complete, data[:complete]
        if cursor is None and start > 0:
            text = text.partition(b"\n")[2]  # the first line was cut by the seek
        lines = text.decode(errors="replace").splitlines()
        if cursor is None:
            lines = lines[-backlog:] if backlog else []
        return lines, (identity, offset)

    def log_tail(self, node_ip: str, filename: str, lines: int = 100) -> list[str]:
        params = {"node_ip": node_ip, "filename": filename, "lines": lines}
        response = self._request("GET", "/api/v0/logs/file", params=params)
        if response.status_code != 200:
            raise self._fail(response, f"Log file {filename} on node {node_ip}")
        return response.text.splitlines()


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
                config = next(
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
            replica = first_replica.get(model, "x")
            labels = f'model="{model}",version="{version}",code="{code}",routed="{routed}",replica="{replica}"'
            lines.append(f"ray_raylane_requests{{{labels}}} {float(count)}")
        lines.append("# TYPE ray_raylane_request_latency_ms_bucket gauge")
        for (model, version, routed), latencies in sorted(self.latencies.items()):
            replica = first_replica.get(model, "x")
            for bound in ("5", "10", "20", "50", "100", "200", "500", "1000", "+Inf"):
                limit = float("inf") if bound == "+Inf" else float(bound)
                inside = sum(1 for value in latencies if value <= limit)
                labels = f'model="{model}",version="{version}",routed="{routed}",le="{bound}",replica="{replica}"'
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
