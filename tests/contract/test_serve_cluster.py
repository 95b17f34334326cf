"""One contract for every ServeCluster: the in-memory twin and a real local Ray must behave alike.

The real head is shared by the whole session, so each test applies the full config it needs first; configs are
chosen so that consecutive tests reuse running replicas and stay fast on 2 cores.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import requests

from serving.cluster import (
    ClusterUnreachable,
    ConfigRejected,
    RayDashboardCluster,
    ServeCluster,
    ServeClusterError,
)
from serving.cluster_twin import InMemoryServeCluster
from serving.head import HeadSettings, read_token
from serving.serve_status import ClusterStatus

ECHO = "tests.contract.echo_app:app"
BROKEN = "tests.contract.no_such_module:app"
RUNNING_TIMEOUT_S = 90
CLOSED_PORT_URL = "http://127.0.0.1:9"


@dataclass
class Harness:
    cluster: ServeCluster
    unreachable: ServeCluster
    serve_port: int
    serve_url: str | None  # Serve's HTTP ingress; only the real cluster has one

    def config(self, *apps: dict) -> dict:
        return {"http_options": {"host": "127.0.0.1", "port": self.serve_port}, "applications": list(apps)}

    def apply_and_wait(self, *apps: dict) -> ClusterStatus:
        self.cluster.apply(self.config(*apps))
        return self.cluster.wait_until_running([app["name"] for app in apps], RUNNING_TIMEOUT_S)


@pytest.fixture(params=["twin", pytest.param("ray", marks=pytest.mark.ray)])
def harness(request: pytest.FixtureRequest) -> Harness:
    serve_port = HeadSettings().serve_port + 100
    if request.param == "twin":
        return Harness(
            InMemoryServeCluster(broken_import_paths=(BROKEN,)), InMemoryServeCluster(reachable=False), serve_port, None
        )
    settings: HeadSettings = request.getfixturevalue("ray_cluster")
    cluster = RayDashboardCluster(settings.dashboard_url, auth_token=read_token(settings), ray_dir=settings.ray_dir)
    serve_port = settings.ports["serve_http"]
    return Harness(
        cluster, RayDashboardCluster(CLOSED_PORT_URL, timeout_s=2), serve_port, f"http://127.0.0.1:{serve_port}"
    )


def echo(name: str, reply: str = "hello", num_cpus: float = 0.1, import_path: str = ECHO, replicas: int = 1) -> dict:
    deployment = {"name": "Echo", "num_replicas": replicas, "user_config": {"reply": reply}}
    return {
        "name": name,
        "route_prefix": f"/{name}",
        "import_path": import_path,
        "deployments": [deployment | {"ray_actor_options": {"num_cpus": num_cpus}}],
    }


def running_replicas(status: ClusterStatus, app: str) -> dict[str, int | None]:
    """Replica id → pid of the app's RUNNING replicas (replaced ones linger as STOPPING while they drain)."""
    deployments = status.applications[app].deployments.values()
    return {r.replica_id: r.pid for d in deployments for r in d.replicas if r.state == "RUNNING"}


def eventually(check: Callable[[], object], timeout_s: float, what: str, poll_s: float = 0.1) -> object:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout_s} s")
        time.sleep(poll_s)


def test_apply_runs_every_application_on_its_route(harness: Harness) -> None:
    harness.apply_and_wait(echo("alpha"), echo("beta"))

    def settled() -> ClusterStatus | None:
        # RUNNING can be reported a moment before the replica list shows the pid, or while an app of an earlier
        # config is still being deleted: wait for the steady state instead of sampling a transition.
        status = harness.cluster.status()
        if set(status.applications) != {"alpha", "beta"}:
            return None
        pids = [pid for name in ("alpha", "beta") for pid in running_replicas(status, name).values()]
        return status if len(pids) == 2 and all(isinstance(pid, int) for pid in pids) else None

    status = eventually(settled, timeout_s=RUNNING_TIMEOUT_S, what="both applications settled")

    assert {name: app.route_prefix for name, app in status.applications.items()} == {"alpha": "/alpha", "beta": "/beta"}
    for name in ("alpha", "beta"):
        app = status.applications[name]
        assert app.status == "RUNNING"
        assert app.deployed_config is not None and app.deployed_config["import_path"] == ECHO
        assert app.deployments["Echo"].target_num_replicas == 1
        assert [type(pid) for pid in running_replicas(status, name).values()] == [int]
    assert status.controller_alive


def test_user_config_change_reconfigures_replicas_in_place(harness: Harness) -> None:
    before = harness.apply_and_wait(echo("alpha"), echo("beta"))

    harness.cluster.apply(harness.config(echo("alpha", reply="changed"), echo("beta")))
    applied_at = time.monotonic()
    if harness.serve_url:
        answer = eventually(
            lambda: (
                (body := requests.get(f"{harness.serve_url}/alpha", timeout=2).json())["reply"] == "changed" and body
            ),
            timeout_s=1.0,
            what="the new user_config reaching the replica",
            poll_s=0.02,
        )
        print(f"\nuser_config change visible over HTTP after {time.monotonic() - applied_at:.2f} s")
        assert running_replicas(before, "alpha") == {answer["replica"]: answer["pid"]}
    after = harness.cluster.wait_until_running(["alpha", "beta"], RUNNING_TIMEOUT_S)

    assert running_replicas(after, "alpha") == running_replicas(before, "alpha")
    assert running_replicas(after, "beta") == running_replicas(before, "beta")
    assert after.applications["alpha"].deployed_config["deployments"][0]["user_config"] == {"reply": "changed"}


def test_invalid_config_is_rejected_with_rays_message_and_changes_nothing(harness: Harness) -> None:
    before = harness.apply_and_wait(echo("alpha"), echo("beta"))

    with pytest.raises(ConfigRejected) as rejected:
        harness.cluster.apply(harness.config({"name": "alpha", "route_prefix": "/alpha"}))

    assert rejected.value.status_code == 400
    assert "import_path" in rejected.value.message
    after = harness.cluster.status()
    assert {name: running_replicas(after, name) for name in after.applications} == {
        name: running_replicas(before, name) for name in ("alpha", "beta")
    }


def test_unreachable_cluster_says_where_and_how_to_start_ray(harness: Harness) -> None:
    with pytest.raises(ClusterUnreachable) as unreachable:
        harness.unreachable.status()
    with pytest.raises(ClusterUnreachable):
        harness.unreachable.apply(harness.config(echo("alpha")))

    assert "make up" in str(unreachable.value) and "RAY_DASHBOARD_URL" in str(unreachable.value)
    if isinstance(harness.unreachable, RayDashboardCluster):
        assert CLOSED_PORT_URL in str(unreachable.value)


def test_replica_log_is_listed_and_tailed(harness: Harness) -> None:
    status = harness.apply_and_wait(echo("alpha"), echo("beta"))
    replica = status.applications["alpha"].deployments["Echo"].replicas[0]

    assert replica.log_filename in harness.cluster.log_files(replica.node_ip, glob="serve/*")
    lines = harness.cluster.log_tail(replica.node_ip, replica.log_filename, lines=50)
    assert lines and all(isinstance(line, str) for line in lines)
    assert any(replica.replica_id in line for line in lines), lines
    with pytest.raises(ServeClusterError):
        harness.cluster.log_tail(replica.node_ip, "serve/no_such_file.log")


def test_log_read_returns_each_new_line_once(harness: Harness) -> None:
    """What the monitor tails: the local files from an offset and, as for a node elsewhere, the log API."""
    status = harness.apply_and_wait(echo("alpha"), echo("beta"))
    replica = status.applications["alpha"].deployments["Echo"].replicas[0]
    readers = [harness.cluster]
    if isinstance(harness.cluster, RayDashboardCluster):
        readers.append(RayDashboardCluster(harness.cluster.dashboard_url, auth_token=harness.cluster.auth_token))

    def say(marker: str) -> None:
        if harness.serve_url is None:
            harness.cluster.write_log(replica.log_filename, f"echo says {marker}")
        else:
            requests.get(f"{harness.serve_url}/alpha", params={"say": marker}, timeout=10).raise_for_status()

    for reader in readers:
        backlog, cursor = reader.log_read(replica.node_ip, replica.log_filename, None, backlog=3)
        assert len(backlog) <= 3
        markers = [f"{type(reader).__name__}-{time.time_ns()}-{n}" for n in range(3)]
        seen: list[str] = []
        deadline = time.monotonic() + 10
        for marker in markers:
            say(marker)
        while time.monotonic() < deadline and len([m for m in markers if any(m in line for line in seen)]) < 3:
            lines, cursor = reader.log_read(replica.node_ip, replica.log_filename, cursor)
            seen += lines
            time.sleep(0.2)
        found = [marker for line in seen for marker in markers if marker in line]
        assert found == markers, f"{type(reader).__name__} read {found} of {markers}"


def test_metrics_report_each_running_application(harness: Harness) -> None:
    harness.apply_and_wait(echo("alpha"), echo("beta"))

    def healthy_series() -> bool:
        text = harness.cluster.metrics_text()
        series = [line for line in text.splitlines() if line.startswith("ray_serve_deployment_replica_healthy{")]
        return all(any(f'application="{name}"' in line for line in series) for name in ("alpha", "beta"))

    eventually(healthy_series, timeout_s=30, what="replica health series for alpha and beta", poll_s=1)


def test_failed_deployment_raises_with_the_app_and_rays_message(harness: Harness) -> None:
    harness.apply_and_wait(echo("alpha"), echo("beta"))
    harness.cluster.apply(harness.config(echo("alpha"), echo("beta"), echo("broken", import_path=BROKEN)))

    with pytest.raises(ServeClusterError, match="broken") as failed:
        harness.cluster.wait_until_running(["alpha", "beta", "broken"], RUNNING_TIMEOUT_S)

    assert "no_such_module" in str(failed.value)


def test_scaling_keeps_the_replicas_that_already_run(harness: Harness) -> None:
    one = running_replicas(harness.apply_and_wait(echo("alpha"), echo("beta")), "alpha")

    harness.cluster.apply(harness.config(echo("alpha", replicas=2), echo("beta")))
    two = eventually(
        lambda: len(replicas := running_replicas(harness.cluster.status(), "alpha")) == 2 and replicas,
        timeout_s=RUNNING_TIMEOUT_S,
        what="alpha scaling to 2 replicas",
        poll_s=0.25,
    )
    harness.cluster.apply(harness.config(echo("alpha"), echo("beta")))
    back_to_one = eventually(
        lambda: len(replicas := running_replicas(harness.cluster.status(), "alpha")) == 1 and replicas,
        timeout_s=RUNNING_TIMEOUT_S,
        what="alpha scaling back to 1 replica",
        poll_s=0.25,
    )

    assert one.items() <= two.items()
    assert back_to_one.items() <= two.items()


def test_actor_options_change_replaces_only_that_apps_replicas(harness: Harness) -> None:
    before = harness.apply_and_wait(echo("alpha"), echo("beta"))

    harness.cluster.apply(harness.config(echo("alpha", num_cpus=0.2), echo("beta")))
    replaced = eventually(
        lambda: (
            (status := harness.cluster.status()).applications["alpha"].status == "RUNNING"
            and running_replicas(status, "alpha").keys().isdisjoint(running_replicas(before, "alpha"))
            and running_replicas(status, "alpha")
            and status
        ),
        timeout_s=RUNNING_TIMEOUT_S,
        what="alpha's replicas being replaced",
        poll_s=0.25,
    )

    assert running_replicas(replaced, "beta") == running_replicas(before, "beta")


def test_dropping_an_application_removes_only_it(harness: Harness) -> None:
    before = harness.apply_and_wait(echo("alpha"), echo("beta"))

    harness.cluster.apply(harness.config(echo("beta")))
    after = eventually(
        lambda: "alpha" not in (status := harness.cluster.status()).applications and status,
        timeout_s=RUNNING_TIMEOUT_S,
        what="alpha disappearing",
        poll_s=0.25,
    )

    assert after.applications["beta"].status == "RUNNING"
    assert running_replicas(after, "beta") == running_replicas(before, "beta")


def test_shutdown_removes_every_application_and_the_controller(harness: Harness) -> None:
    harness.apply_and_wait(echo("beta"))

    harness.cluster.shutdown_serve()

    status = harness.cluster.status()
    assert status.applications == {} and not status.controller_alive


def test_twin_records_configs_and_counts_reconfigure_calls() -> None:
    twin = InMemoryServeCluster()
    config = {"applications": [echo("alpha"), echo("beta")]}
    twin.apply(config)
    twin.apply({"applications": [echo("alpha", reply="changed"), echo("beta")]})
    twin.apply({"applications": [echo("alpha", reply="changed"), echo("beta")]})

    assert twin.applied[0] == config and len(twin.applied) == 3
    assert twin.reconfigure_calls == {("alpha", "Echo"): 2, ("beta", "Echo"): 1}
