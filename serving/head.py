"""Where the local Ray head is, for anyone who talks to it: ``HeadSettings.from_env()`` (its folder, ports after
``port_offset``, dashboard URL, GCS address, token file), ``read_token`` and ``HeadError``.

Nothing here starts or stops a process: ``operations.ray_head`` does that with these settings, and
``serving.cluster`` reads them to find the local dashboard and its token. What the settings encode:

- Every port is explicit and moved by ``port_offset``, also those only the environment sets (HAProxy, Serve's
  direct-ingress ranges and fallback proxy, dashboard/autoscaler metrics). Ranges are 100 wide: offset by 100s.
- With token auth (``RAYLANE_RAY_AUTH=token``, the default) the head keeps a random token in
  ``<ray dir>/auth_token`` (0600); the dashboard then wants ``Authorization: Bearer <token>``.
- Session files live under ``RAYLANE_RAY_DIR``; Unix socket paths stop at 107 bytes (HAProxy: 97), so the folder
  must be short (``validate()``); HAProxy's files move to /tmp when it is too long for them.
- ``RAY_ADDRESS`` or ``RAY_DASHBOARD_URL`` naming another cluster means no local head is managed
  (``external_cluster``).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
# Pinned so that port_offset moves them too; not settings because nobody needs to pick them one by one.
# fmt: off
FIXED_PORTS = {
    "ray_client_server": 10001, "min_worker": 10002, "max_worker": 10099,
    "haproxy_stats": 8404, "haproxy_metrics": 9101, "fallback_proxy_http": 8500, "fallback_proxy_grpc": 9500,
    "direct_ingress_http_min": 30000, "direct_ingress_http_max": 30099,
    "direct_ingress_grpc_min": 40000, "direct_ingress_grpc_max": 40099,
    "autoscaler_metrics": 44217, "dashboard_metrics": 44227, "dashboard_agent_http": 52365,
    "dashboard_agent_grpc": 52366, "runtime_env_agent": 52367, "node_manager": 52368, "object_manager": 52369,
}
# fmt: on
_RAY_SOCKET_SUFFIX = len("/ray/session_2025-11-27_09-12-34_123456_4194304/sockets/dash_TaskEventsHead")
_HAPROXY_SOCKET_SUFFIX = len("/haproxy/" + "0" * 56 + "/metrics.sock")
_MAX_SOCKET_PATH = 107
_MAX_HAPROXY_SOCKET_PATH = 97  # HAProxy 2.8 refuses longer ones: "socket path ... too long (max 97)"


class HeadError(Exception):
    """The local Ray head could not be started, checked or stopped; the message says what to do."""


@dataclass(frozen=True)
class HeadSettings:
    """Where and how the local head runs. Port fields are base ports; ``ports`` applies ``port_offset``."""

    ray_dir: Path = PROJECT_ROOT / "var" / "ray"
    gcs_port: int = 6380
    dashboard_port: int = 8265
    metrics_port: int = 8266
    serve_port: int = 8080
    num_cpus: int = field(default_factory=lambda: os.cpu_count() or 1)
    port_offset: int = 0
    auth: str = "token"
    serve_log_buffer: int = 1
    ingress_drain_s: float = 30.0
    external_cluster: str | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> HeadSettings:
        env = dict(os.environ if environ is None else environ)
        settings = cls(
            ray_dir=Path(env.get("RAYLANE_RAY_DIR") or cls.ray_dir).resolve(),
            gcs_port=int(env.get("RAYLANE_RAY_GCS_PORT", cls.gcs_port)),
            dashboard_port=int(env.get("RAYLANE_RAY_DASHBOARD_PORT", cls.dashboard_port)),
            metrics_port=int(env.get("RAYLANE_RAY_METRICS_PORT", cls.metrics_port)),
            serve_port=int(env.get("RAYLANE_SERVE_PORT", cls.serve_port)),
            num_cpus=int(env.get("RAYLANE_RAY_NUM_CPUS") or os.cpu_count() or 1),
            port_offset=int(env.get("RAYLANE_RAY_PORT_OFFSET", 0)),
            auth=env.get("RAYLANE_RAY_AUTH", cls.auth).lower(),
            serve_log_buffer=int(env.get("RAYLANE_SERVE_LOG_BUFFER", cls.serve_log_buffer)),
            ingress_drain_s=float(env.get("RAYLANE_SERVE_INGRESS_DRAIN_S", cls.ingress_drain_s)),
        )
        settings = replace(settings, **overrides)
        if "external_cluster" not in overrides:
            settings = replace(settings, external_cluster=_external_cluster(settings, env))
        if settings.auth not in ("token", "off"):
            raise HeadError(f"RAYLANE_RAY_AUTH={settings.auth!r}: use 'token' or 'off'")
        return settings

    @property
    def ports(self) -> dict[str, int]:
        """Every port the head opens, after ``port_offset``."""
        base = {"gcs": self.gcs_port, "dashboard": self.dashboard_port, "metrics_export": self.metrics_port}
        base |= {"serve_http": self.serve_port, **FIXED_PORTS}
        return {name: port + self.port_offset for name, port in base.items()}

    @property
    def temp_dir(self) -> Path:
        return self.ray_dir / "ray"

    @property
    def haproxy_dir(self) -> Path:
        """HAProxy's files; in /tmp only when ray_dir is too long for its socket paths."""
        if len(str(self.ray_dir)) + _HAPROXY_SOCKET_SUFFIX <= _MAX_HAPROXY_SOCKET_PATH:
            return self.ray_dir / "haproxy"
        return Path("/tmp") / f"rl-haproxy-{hashlib.sha256(str(self.ray_dir).encode()).hexdigest()[:8]}"

    @property
    def token_path(self) -> Path:
        return self.ray_dir / "auth_token"

    @property
    def gcs_address(self) -> str:
        return f"{LOOPBACK}:{self.ports['gcs']}"

    @property
    def dashboard_url(self) -> str:
        return f"http://{LOOPBACK}:{self.ports['dashboard']}"

    def validate(self) -> None:
        if len(str(self.ray_dir)) + _RAY_SOCKET_SUFFIX > _MAX_SOCKET_PATH:
            raise HeadError(
                f"RAYLANE_RAY_DIR={self.ray_dir} is too long: Ray's Unix socket paths under it would exceed "
                f"{_MAX_SOCKET_PATH} bytes. Use a folder of at most {_MAX_SOCKET_PATH - _RAY_SOCKET_SUFFIX} "
                "characters, e.g. RAYLANE_RAY_DIR=/tmp/raylane-ray"
            )


def _endpoint(value: str) -> str:
    parsed = urlsplit(value if "://" in value else f"tcp://{value}")
    return f"{(parsed.hostname or '').replace('localhost', LOOPBACK)}:{parsed.port}"


def _external_cluster(settings: HeadSettings, env: dict[str, str]) -> str | None:
    """The RAY_ADDRESS / RAY_DASHBOARD_URL naming a cluster other than this head, if any."""
    ours = {"RAY_ADDRESS": settings.gcs_address, "RAY_DASHBOARD_URL": settings.dashboard_url}
    for name, own in ours.items():
        value = env.get(name, "").strip()
        if value and (value == "auto" or _endpoint(value) != _endpoint(own)):
            return f"{name}={value}"
    return None


def read_token(settings: HeadSettings) -> str | None:
    if settings.auth != "token" or not settings.token_path.exists():
        return None
    return settings.token_path.read_text().strip()
