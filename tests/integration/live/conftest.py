"""The whole machine for rollout tests: the real Postgres test database, Redis, a real Celery worker process (with
beat) and the real local Ray head; the test process talks to them only through the API, like a user."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections import Counter
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings
from django.db import connection

from controlplane.celery import app as celery_app
from serving.head import HeadSettings

ROW = [5.1, 3.5, 1.4, 0.2]


class Worker:
    """A Celery worker with beat, as `make up` runs them (`name`, `command` and `log` make it any other process)."""

    name = "worker"

    def __init__(self, environment: dict[str, str], folder: Path) -> None:
        self.environment, self.folder = environment, folder
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        queue, schedule = self.environment["RAYLANE_TASK_QUEUE"], str(self.folder / "beat-schedule")
        return [
            *(sys.executable, "-m", "celery", "-A", "controlplane", "worker", "-B", "--pool", "solo"),
            *("-Q", queue, "--loglevel", "INFO", "--schedule", schedule, "--hostname", f"live-{os.getpid()}@%h"),
        ]

    def start(self) -> None:
        log = (self.folder / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen(
            self.command(),
            env=self.environment,
            cwd=django_settings.BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would: no cleanup, no acknowledgement."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return (self.folder / f"{self.name}.log").read_text(errors="replace")[-4000:]


class MonitorProcess(Worker):
    """`python manage.py monitor`: the rollout analysis reads the samples it stores."""

    name = "monitor"

    def command(self) -> list[str]:
        return [sys.executable, "manage.py", "monitor"]


@pytest.fixture(scope="module")
def live_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("live")


@pytest.fixture(scope="module")
def live(ray_cluster: HeadSettings, live_root: Path, django_db_setup, django_db_blocker):
    """A worker bound to this run's test database, a private queue and the test Ray head."""
    database = connection.settings_dict
    queue = f"raylane-live-{os.getpid()}"
    port = ray_cluster.ports["serve_http"]
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "controlplane.settings.test",
        "DATABASE_URL": (
            f"postgres://{database['USER'] or 'postgres'}:{database['PASSWORD'] or ''}"
            f"@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{database['NAME']}"
        ),
        "RAYLANE_EAGER_TASKS": "0",
        "RAYLANE_TASK_QUEUE": queue,
        "RAYLANE_SERVE_CLUSTER": "ray",
        "RAY_DASHBOARD_URL": ray_cluster.dashboard_url,
        "RAY_AUTH_TOKEN_PATH": str(ray_cluster.token_path),
        "RAYLANE_RAY_DIR": str(ray_cluster.ray_dir),  # where the metrics targets of the test head are listed
        "RAYLANE_RAY_PORT_OFFSET": str(ray_cluster.port_offset),
        "RAYLANE_SERVE_PORT": str(port),
        "RAYLANE_ARTIFACT_ROOT": str(live_root / "artifacts"),
        "RAYLANE_ARTIFACT_SHARED_PATH": str(live_root / "artifacts"),
        "RAYLANE_ROLLOUT_AUTO_TICK": "1",
        "RAYLANE_ROLLOUT_STALLED_S": "4",
    }
    worker, monitor = Worker(environment, live_root), MonitorProcess(environment, live_root)
    worker.start()
    monitor.start()
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = False, queue
    shared = ("RAY_AUTH_TOKEN_PATH", "RAYLANE_RAY_DIR", "RAYLANE_RAY_PORT_OFFSET")
    saved = {name: os.environ.get(name) for name in shared}
    os.environ.update({name: environment[name] for name in shared})
    yield {"worker": worker, "monitor": monitor, "base": f"http://127.0.0.1:{port}", "environment": environment}
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous
    worker.stop()
    monitor.stop()


@pytest.fixture
def artifact_root(settings, live_root: Path) -> Path:
    """The worker is started once per module, so every test of it shares one artifact store."""
    settings.RAYLANE_ARTIFACT_ROOT = live_root / "artifacts"
    settings.RAYLANE_ARTIFACT_SHARED_PATH = str(live_root / "artifacts")
    return settings.RAYLANE_ARTIFACT_ROOT


@pytest.fixture
def live_settings(settings, live, ray_cluster):
    settings.RAYLANE_SERVE_CLUSTER = "ray"
    settings.RAY_DASHBOARD_URL = ray_cluster.dashboard_url
    settings.RAYLANE_SERVE_PORT = ray_cluster.ports["serve_http"]
    settings.RAYLANE_ROLLOUT_AUTO_TICK = True
    return live


class LoadGenerator:
    """A bounded background request loop: at most `limit_s` seconds, stops by itself; records every answer."""

    def __init__(self, url: str, *, limit_s: float = 120, pause_s: float = 0.01) -> None:
        self.url, self.limit_s, self.pause_s = url, limit_s, pause_s
        self.answers: Counter = Counter()
        self.failures: list[str] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        session, deadline = requests.Session(), time.monotonic() + self.limit_s
        while not self.stopping.is_set() and time.monotonic() < deadline:
            try:
                response = session.post(self.url, json={"instances": [ROW]}, timeout=10)
                self.answers[(response.headers.get("X-Raylane-Version"), response.status_code)] += 1
                if response.status_code != 200:
                    self.failures.append(f"{response.status_code} v{response.headers.get('X-Raylane-Version')}")
            except requests.RequestException as exc:
                self.failures.append(f"connection: {exc}")
            time.sleep(self.pause_s)

    def __enter__(self) -> LoadGenerator:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=20)

    def served(self, version: int) -> int:
        return sum(count for (answered, status), count in self.answers.items() if answered == str(version))


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def answers(url: str, row: list[float] = ROW) -> str | None:
    """The version that answered a prediction, or None when it failed."""
    try:
        response = requests.post(url, json={"instances": [row]}, timeout=5)
    except requests.RequestException:
        return None
    return response.headers.get("X-Raylane-Version") if response.status_code == 200 else None


def wait_until(predicate, *, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
