"""The whole machine for rollout tests: the real Postgres test database, Redis, a real Celery worker process (with
beat) and the real local Ray head; the test process talks to them only through the API, like a user."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings
from django.db import connection

from controlplane.celery import app as celery_app
from serving.ray_head import HeadSettings

ROW = [5.1, 3.5, 1.4, 0.2]


class Worker:
    def __init__(self, environment: dict[str, str], folder: Path) -> None:
        self.environment, self.folder = environment, folder
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = (self.folder / "worker.log").open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "controlplane",
                "worker",
                "-B",
                "--pool",
                "solo",
                "-Q",
                self.environment["RAYLANE_TASK_QUEUE"],
                "--loglevel",
                "INFO",
                "--schedule",
                str(self.folder / "beat-schedule"),
                "--hostname",
                f"live-{os.getpid()}@%h",
            ],
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
        return (self.folder / "worker.log").read_text(errors="replace")[-4000:]


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
    worker = Worker(environment, live_root)
    worker.start()
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = False, queue
    shared = ("RAY_AUTH_TOKEN_PATH", "RAYLANE_RAY_DIR", "RAYLANE_RAY_PORT_OFFSET")
    saved = {name: os.environ.get(name) for name in shared}
    os.environ.update({name: environment[name] for name in shared})
    yield {"worker": worker, "base": f"http://127.0.0.1:{port}", "environment": environment}
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous
    worker.stop()


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


class Traffic:
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

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=20)

    def served(self, version: int) -> int:
        return sum(count for (answered, status), count in self.answers.items() if answered == str(version))
