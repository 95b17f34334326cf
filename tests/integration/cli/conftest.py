"""The SDK and the `raylane` command against a whole running system, as a user has it: the ASGI web process (uvicorn,
HTTP and websockets) beside the live rollout suite's Celery worker, monitor and real Ray head
(tests/integration/live/conftest.py), on this run's Postgres test database and Redis.

The tests talk to it only over HTTP, as the SDK does, so they hold no database transaction: the module's team, users
and tokens are written once, committed, and the module's data is flushed at its end (as a transactional test's is).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command

import raylane
from controlplane.accounts.choices import Role
from controlplane.accounts.services import token_create
from tests import factories
from tests.integration.live.conftest import Worker, live, live_root  # noqa: F401  (fixtures reused, not copied)

RAYLANE = Path(sys.executable).parent / "raylane"  # the console script `make install` puts in the venv
TEAM = "cli"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class WebProcess(Worker):
    """`uvicorn controlplane.asgi:application`, as the Procfile's web process, bound to the live environment."""

    name = "web"

    def __init__(self, environment: dict[str, str], folder: Path) -> None:
        super().__init__(environment, folder)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            *(sys.executable, "-m", "uvicorn", "controlplane.asgi:application", "--host", "127.0.0.1"),
            *("--port", str(self.port), "--no-access-log", "--lifespan", "off", "--log-level", "warning"),
        ]

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"the web process exited:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the web process did not answer within {timeout_s} s:\n{self.log()}")


@pytest.fixture(scope="module")
def web(live, live_root) -> Iterator[WebProcess]:  # noqa: F811
    server = WebProcess(live["environment"], live_root)
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def cast(web, django_db_blocker) -> Iterator[dict[str, str]]:
    """A team with a deployer and an admin, and an API token each; everything the module wrote is flushed after."""
    with django_db_blocker.unblock():
        deployer, admin = factories.make_user("cli-deployer"), factories.make_user("cli-admin")
        factories.make_team(TEAM, {deployer: Role.DEPLOYER, admin: Role.ADMIN})
        keys = {
            name: token_create(user=user, name="cli tests")[1]
            for name, user in (("deployer", deployer), ("admin", admin))
        }
    yield keys
    try:
        with raylane.Client(web.url, keys["deployer"]) as client:
            for deployment in client.deployments.list():  # the worker takes them off Ray
                client.undeploy(deployment.id)
    finally:
        with django_db_blocker.unblock():
            call_command("flush", interactive=False, verbosity=0)


@pytest.fixture(scope="module")
def sdk(web, live, cast) -> Iterator[raylane.Client]:  # noqa: F811
    with raylane.Client(web.url, cast["deployer"], serve_url=live["base"]) as client:
        yield client


@pytest.fixture(scope="module")
def admin_sdk(web, live, cast) -> Iterator[raylane.Client]:  # noqa: F811
    with raylane.Client(web.url, cast["admin"], serve_url=live["base"]) as client:
        yield client


class Cli:
    """Runs the installed `raylane` command in a process of its own, with the deployer's token in the environment
    (as a user's shell would have it) and a config folder of its own."""

    def __init__(self, url: str, token: str, serve_url: str, folder: Path) -> None:
        self.folder = folder
        self.environment = {
            **{key: value for key, value in os.environ.items() if not key.startswith("RAYLANE_")},
            "RAYLANE_URL": url,
            "RAYLANE_TOKEN": token,
            "RAYLANE_SERVE_URL": serve_url,
            "RAYLANE_CONFIG": str(folder / "config.json"),
            "COLUMNS": "200",
        }

    def env(self, **changes: str | None) -> dict[str, str]:
        merged = {**self.environment, **changes}
        return {key: value for key, value in merged.items() if value is not None}

    def __call__(
        self, *args: str, timeout: float = 120, input: str | None = None, **env: str | None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(RAYLANE), *args], capture_output=True, text=True, timeout=timeout, input=input, env=self.env(**env)
        )

    def start(self, *args: str, **env: str | None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(RAYLANE), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env(**env)
        )


@pytest.fixture(scope="module")
def cli(web, live, cast, tmp_path_factory) -> Cli:  # noqa: F811
    return Cli(web.url, cast["deployer"], live["base"], tmp_path_factory.mktemp("cli-home"))
