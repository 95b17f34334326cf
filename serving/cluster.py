"""ServeCluster: the control plane's one door to Ray Serve, and the real one over the Ray dashboard.

``ServeCluster`` is the interface (modelled on Ray's own ``DeployProvider`` idea): desired state in (``apply``),
observed state out (``status``, ``metrics_text``, ``log_tail``), with the errors it raises (``ServeClusterError``,
``ClusterUnreachable``, ``ConfigRejected``). ``RayDashboardCluster`` implements it over the dashboard's REST API.
Its in-memory twin is ``serving.cluster_twin.InMemoryServeCluster``; the values ``status()`` returns are in
``serving.serve_status``. The same contract suite (tests/contract) runs against both implementations.

A declarative PUT replaces the whole Serve config: every call to ``apply`` must carry every application.
"""

from __future__ import annotations

import json
import os
import time
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from serving.head import LOOPBACK, HeadSettings
from serving.serve_status import ClusterStatus, parse_status

START_HINT = "start Ray with `make up` (or `python -m operations.ray_head start`), or set RAY_DASHBOARD_URL"


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
