"""The live deployment page in a real browser, over real websockets: the ASGI application served by uvicorn, the
monitor ticked by hand over the in-memory Serve twin, its samples and log lines pushed through the Redis channel
layer.

Each test drives the page as a person would and checks what they would see: the numbers of the second that just
passed, charts that grew, log lines filtered by the server, rollout commands for deployers only, and a page that
recovers by itself after missing messages. Screenshots of each step land in var/screenshots/.
"""

import json
import random
import re
import time
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone
from playwright.sync_api import Page, expect

from controlplane.core.broadcast import group_name, redis_client, send_now, sequence_key
from controlplane.monitoring.models import MetricSample
from controlplane.rollouts.models import Deployment, Rollout, RolloutPolicy
from controlplane.rollouts.reconcile import reconcile
from controlplane.rollouts.services import rollout_summary
from serving.histogram import Histogram
from tests import factories
from tests.e2e.conftest import AsgiServer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
# Live rates cover the last two seconds when the monitor sampled both; ticks this far apart count one second alone.
RATE_WINDOW_S = 2


@pytest.fixture
def server_url(asgi_server: AsgiServer) -> str:
    return asgi_server.url


@pytest.fixture
def deployment(people, twin, off_the_loop) -> Deployment:
    """iris v1 serving on the twin, v2 uploaded and ready to roll out."""
    model = factories.make_model(people["team"], "iris", description="Iris species", tags=["tabular"])
    for number in (1, 2):
        factories.make_version(model, number)
    deployment = Deployment.objects.create(
        team=people["team"], model=model, stable_version=model.versions.get(version=1), created_by=people["deployer"]
    )
    off_the_loop(reconcile)
    return deployment


def replica_log(twin, app: str = "iris") -> str:
    """The log file of the replica serving `app` on the twin."""
    (replica,) = twin.status().applications[app].deployments["ModelServer"].replicas
    return replica.log_filename


def json_line(message: str, *, level: str = "INFO", version: int | None = 1) -> str:
    """A line as the model server's JSON logging writes it."""
    record = {"asctime": "2026-11-27 12:00:00,000", "levelname": level, "message": message, "replica": "r1"}
    if version is not None:
        record |= {"raylane_model": "iris", "raylane_version": version}
    return json.dumps(record)


def seed_history(deployment: Deployment) -> None:
    """Ten minutes of samples, one every 5 s, as if the monitor had run: v1 steady at ~30 req/s, v2 (a canary)
    from six minutes ago at ~3 req/s with a burst of errors. Each row stands for its 5 s."""
    noise = random.Random(7)
    now = timezone.now().replace(microsecond=0)
    rows = []
    for seconds_ago in range(600, 10, -5):
        at = now - timedelta(seconds=seconds_ago)
        for version, rate, latency_ms in ((1, 30, 6.0), (2, 3, 9.0)):
            if version == 2 and seconds_ago > 360:
                continue
            histogram = Histogram()
            requests = round(5 * rate * noise.uniform(0.8, 1.2))
            for _ in range(requests):
                histogram.observe(noise.expovariate(1 / latency_ms))
            errors = requests // 4 if version == 2 and 200 < seconds_ago < 240 else 0
            rows.append(
                MetricSample(
                    deployment=deployment, version=version, at=at, step_s=1, requests=requests, errors=errors,
                    latency_buckets=histogram.buckets, latency_sum_ms=histogram.sum, ongoing=noise.uniform(0, 2),
                    replicas_total=2, replicas_ready=2 if version == 1 or seconds_ago < 330 else 1,
                    replica_states={"RUNNING": 2},
                )
            )  # fmt: skip
    MetricSample.objects.bulk_create(rows)


def live_point(version: int, **fields) -> dict:
    """One version's second as the monitor pushes it (monitoring.bins.point)."""
    point = {
        "version": version, "at": timezone.now().replace(microsecond=0).isoformat(), "requests": 0, "rate": 0.0,
        "errors": 0, "error_rate": 0.0, "client_errors": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None,
        "mean_ms": None, "ongoing": 0.0, "replicas_total": 2, "replicas_ready": 2, "replicas_loading": 0,
        "replicas_failed": 0, "replica_states": {"RUNNING": 2}, "shadow_requests": 0, "shadow_agreements": 0,
    }  # fmt: skip
    return point | fields


def version_row(page: Page, version: int):  # type: ignore[no-untyped-def]
    return page.locator(f'.live-table tr[data-version="{version}"]')


def chart_line(page: Page, chart: str, version: int):  # type: ignore[no-untyped-def]
    """A version's entry in a chart's legend: `data-points` counts the points its line draws in the window."""
    return page.locator(f'[data-chart="{chart}"] .chart-legend [data-version="{version}"]')


def open_live_view(page: Page, deployment: Deployment) -> None:
    page.goto(f"/deployments/{deployment.pk}")
    expect(page.get_by_role("heading", name="iris", level=1)).to_be_visible()
    expect(page.locator(".connection")).to_have_text("live")


def test_a_viewer_watches_numbers_charts_and_logs_live(
    page: Page, people, deployment, twin, monitor, log_in, screenshot, off_the_loop
) -> None:
    log_in("viewer")
    page.goto("/models/iris")
    page.get_by_role("link", name="Live view").click()
    expect(page).to_have_url(re.compile(rf"/deployments/{deployment.pk}$"))
    expect(page.locator(".connection")).to_have_text("live")
    expect(page.get_by_text("no rollout in progress")).to_be_visible()

    off_the_loop(monitor.tick)  # the baseline: nothing counted before the monitor started
    expect(version_row(page, 1).locator('[data-metric="rate"]')).to_have_text("0")
    twin.record_requests("iris", 1, count=40, latency_ms=3)
    time.sleep(RATE_WINDOW_S)
    off_the_loop(monitor.tick)
    row = version_row(page, 1)
    expect(row.locator('[data-metric="rate"]')).to_have_text("40")
    expect(row.locator('[data-metric="error-rate"]')).to_have_text("0 %")
    expect(row.locator('[data-metric="replicas"]')).to_contain_text("2/2 ready")
    expect(row).to_contain_text("stable")
    for chart in ("rate", "p99", "errors", "replicas"):
        line = chart_line(page, chart, 1)
        expect(line).to_have_attribute("data-points", re.compile(r"^[1-9]"))
    expect(page.locator(".legend")).to_contain_text("v1 · stable")

    filename = replica_log(twin)
    twin.record_requests("iris", 1, count=40, latency_ms=3)
    twin.write_log(filename, json_line("loaded v1 in 12 ms"))
    twin.write_log(filename, json_line("v1 failed on a request", level="ERROR"))
    off_the_loop(monitor.tick)
    logs = page.get_by_role("log")
    expect(logs.get_by_text("loaded v1 in 12 ms")).to_be_visible()
    expect(logs.get_by_text("v1 failed on a request")).to_be_visible()
    screenshot("live-1-viewer")

    page.get_by_label("Minimum level").select_option("ERROR")
    expect(logs.get_by_text("loaded v1 in 12 ms")).to_have_count(0)
    expect(logs.get_by_text("v1 failed on a request")).to_be_visible()
    twin.write_log(filename, json_line("odd input shape", level="WARNING"))
    twin.write_log(filename, json_line("v1 timed out", level="CRITICAL"))
    off_the_loop(monitor.tick)
    expect(logs.get_by_text("v1 timed out")).to_be_visible()
    expect(logs.get_by_text("odd input shape")).to_have_count(0)
    expect(page.locator(".logs-tools")).to_contain_text("2 lines")
    screenshot("live-2-errors-only")


def at_newest_line(page: Page) -> bool:
    return page.get_by_role("log").evaluate("pane => pane.scrollHeight - pane.scrollTop - pane.clientHeight < 30")


def test_the_logs_pane_follows_the_newest_line_unless_scrolled_up_or_paused(
    page: Page, deployment, twin, monitor, log_in, off_the_loop
) -> None:
    log_in("viewer")
    open_live_view(page, deployment)
    filename = replica_log(twin)
    off_the_loop(monitor.tick)  # the monitor starts reading at the end of the files
    for number in range(1, 61):
        twin.write_log(filename, json_line(f"request {number} answered"))
    off_the_loop(monitor.tick)
    logs = page.get_by_role("log")
    expect(logs.get_by_text("request 60 answered")).to_be_attached()
    assert at_newest_line(page)

    logs.evaluate("pane => { pane.scrollTop = 0; pane.dispatchEvent(new Event('scroll')); }")
    twin.write_log(filename, json_line("request 61 answered"))
    off_the_loop(monitor.tick)
    expect(logs.get_by_text("request 61 answered")).to_be_attached()
    assert logs.evaluate("pane => pane.scrollTop") == 0, "reading older lines: the pane stays where it is"
    page.get_by_role("button", name="↓ Newest lines").click()
    expect(page.get_by_role("button", name="↓ Newest lines")).to_be_hidden()
    assert at_newest_line(page)

    page.get_by_role("button", name="Pause").click()
    twin.write_log(filename, json_line("request 62 answered"))
    off_the_loop(monitor.tick)
    resume = page.get_by_role("button", name="Resume (1 new)")
    expect(resume).to_be_visible()
    expect(logs.get_by_text("request 62 answered")).to_have_count(0)
    resume.click()
    expect(logs.get_by_text("request 62 answered")).to_be_attached()

    for number in range(1, 1101):
        twin.write_log(filename, json_line(f"burst {number}"))
    off_the_loop(monitor.tick)
    expect(logs.get_by_text("burst 1100", exact=True)).to_be_attached()
    expect(page.locator(".logs-tools")).to_contain_text("1000 lines")
    expect(logs.locator(".log-line")).to_have_count(1000)
    expect(logs.get_by_text("burst 100", exact=True)).to_have_count(0)
    expect(logs.get_by_text("burst 101", exact=True)).to_be_attached()

    page.get_by_label("Message contains").fill("BURST 7")
    expect(page.locator(".logs-tools")).to_contain_text(re.compile(r"^\d+ lines"))
    expect(logs.get_by_text("request 62 answered")).to_have_count(0)
    expect(logs.get_by_text("burst 1097", exact=True)).to_be_attached()


@pytest.fixture
def canary(people) -> RolloutPolicy:
    """A canary that waits for a person after its first step."""
    return RolloutPolicy.objects.create(
        team=people["team"],
        name="canary",
        strategy="canary",
        steps=[{"weight": 10, "pause_s": None}, {"weight": 100, "pause_s": 0}],
        analysis={"interval_s": 1, "min_requests": 10, "max_error_rate": 0.05},
    )


def start_rollout(deployment: Deployment, policy: RolloutPolicy, user, off_the_loop) -> Rollout:  # type: ignore[no-untyped-def]
    client = factories.client_for(user)
    response = off_the_loop(
        lambda: client.post(
            f"/api/v1/deployments/{deployment.pk}/rollouts/", {"version": 2, "policy": policy.pk}, format="json"
        )
    )
    assert response.status_code == 201, response.json()
    return Rollout.objects.get(pk=response.json()["id"])


def test_a_deployer_steers_the_rollout_and_a_viewer_watches_it(
    page: Page, open_page, people, deployment, canary, log_in, screenshot, off_the_loop
) -> None:
    seed_history(deployment)
    rollout = start_rollout(deployment, canary, people["deployer"], off_the_loop)
    log_in("viewer")
    open_live_view(page, deployment)
    card = page.locator(".rollout-card")
    expect(card.get_by_role("heading")).to_have_text(f"Rollout #{rollout.pk}: v1 → v2")
    expect(card.locator(".phase")).to_have_text("pending")
    expect(card).to_contain_text("candidate 0 % · stable v1 100 %")
    expect(card.get_by_role("button")).to_have_count(0)
    expect(card).to_contain_text("need the deployer role in team ml")
    expect(chart_line(page, "rate", 2)).to_have_attribute("data-points", re.compile(r"^[1-9]\d"))
    expect(page.locator(".events .event").first).to_have_attribute("data-kind", "started")

    deployer = open_page()
    log_in("deployer", on=deployer)
    open_live_view(deployer, deployment)
    commands = deployer.get_by_role("group", name="Rollout commands")
    # Exactly the commands the engine allows while pending (the rollout's allowed_commands), no others.
    expect(commands.get_by_role("button")).to_have_text(["Pause", "Abort"])

    # A second of traffic in which v2 fails on a replica: the row says so.
    stream = group_name("deployment", deployment.pk, "metrics")
    summary = rollout_summary(Rollout.objects.get(pk=rollout.pk))  # as the monitor sends it
    versions = [
        live_point(1, requests=31, rate=31.0, p50_ms=3.1, p95_ms=7.9, p99_ms=9.6, ongoing=1.0),
        live_point(2, replicas_ready=1, replicas_failed=1, replica_states={"RUNNING": 1, "UNHEALTHY": 1}),
    ]
    message = {
        "deployment": deployment.pk, "at": versions[0]["at"], "step_s": 1, "stable_version": 1, "rollout": summary,
        "replica_states": {"RUNNING": 2}, "versions": versions,
    }  # fmt: skip
    off_the_loop(lambda: send_now(stream, "metrics", message))
    for viewer_or_deployer in (page, deployer):
        failing = version_row(viewer_or_deployer, 2)
        expect(failing).to_have_class(re.compile("row-failed"))
        expect(failing.locator('[data-metric="replicas"]')).to_have_text("1/2 ready1 failed")
        expect(version_row(viewer_or_deployer, 1).locator('[data-metric="p99"]')).to_have_text("9.6 ms")

    commands.get_by_role("button", name="Pause").click()
    expect(deployer.get_by_role("status").filter(has_text=f"Rollout #{rollout.pk} paused")).to_be_visible()
    expect(deployer.locator(".rollout-card .phase")).to_have_text("paused")
    expect(page.locator(".rollout-card .phase")).to_have_text("paused")  # the viewer, over the websocket
    expect(page.locator(".events .event").first).to_have_attribute("data-kind", "paused")
    expect(commands.get_by_role("button")).to_have_text(["Resume", "Promote", "Abort"])

    commands.get_by_role("button", name="Promote").click()  # the monitor has not seen v2 loaded: refused
    expect(deployer.get_by_role("alert")).to_have_text("cannot promote: the candidate is not loaded on every replica")
    expect(deployer.locator(".rollout-card .phase")).to_have_text("paused")
    screenshot("live-3-deployer-rollout", of=deployer)
    screenshot("live-4-viewer-rollout")

    commands.get_by_role("button", name="Abort").click()
    dialog = deployer.get_by_role("dialog", name=f"Abort rollout #{rollout.pk}?")
    expect(dialog).to_contain_text("All traffic goes back to v1")
    screenshot("live-4b-abort-confirmation", of=deployer)
    dialog.get_by_role("button", name="Keep it going").click()  # changing one's mind changes nothing
    expect(dialog).to_have_count(0)
    assert Rollout.objects.get(pk=rollout.pk).phase == "paused"
    commands.get_by_role("button", name="Abort").click()
    dialog.get_by_role("button", name="Abort rollout").click()
    expect(deployer.get_by_role("status").filter(has_text=f"Rollout #{rollout.pk} aborted")).to_be_visible()
    expect(deployer.locator(".rollout-card")).to_have_count(0)
    expect(page.locator(".rollout-card")).to_have_count(0)
    expect(page.get_by_text("no rollout in progress")).to_be_visible()
    expect(page.locator(".events .event").first).to_have_attribute("data-kind", "aborted")
    assert Rollout.objects.get(pk=rollout.pk).phase == "aborted"
    screenshot("live-5-viewer-after-abort")


def test_missed_messages_make_the_page_reload_the_history(
    page: Page, people, deployment, canary, twin, monitor, log_in, off_the_loop
) -> None:
    log_in("viewer")
    open_live_view(page, deployment)
    off_the_loop(monitor.tick)
    expect(version_row(page, 1)).to_be_visible()

    # Two metrics messages lost on the way (the channel layer dropped them for this slow client): the server says
    # resync and closes (4008); the page reconnects and loads the history again.
    metrics_stream = group_name("deployment", deployment.pk, "metrics")
    redis_client().incrby(sequence_key(metrics_stream), 2)
    with page.expect_request(re.compile(r"/metrics/\?")):
        off_the_loop(monitor.tick)
    expect(page.locator(".connection")).to_have_text("live")
    twin.record_requests("iris", 1, count=12, latency_ms=3)
    time.sleep(RATE_WINDOW_S)
    off_the_loop(monitor.tick)
    expect(version_row(page, 1).locator('[data-metric="rate"]')).to_have_text("12")

    # A rollout event lost: the page sees the jump in the numbers itself and reloads the events.
    redis_client().incrby(sequence_key(group_name("deployment", deployment.pk)), 3)
    with page.expect_request(re.compile(r"/events/\?")):
        start_rollout(deployment, canary, people["deployer"], off_the_loop)
    expect(page.locator(".events .event").first).to_have_attribute("data-kind", "started")
    expect(page.locator(".rollout-card .phase")).to_have_text("pending")


def test_an_ended_session_sends_the_live_page_to_the_login_form(
    page: Page, deployment, monitor, log_in, off_the_loop
) -> None:
    log_in("viewer")
    open_live_view(page, deployment)
    Session.objects.all().delete()
    redis_client().incrby(sequence_key(group_name("deployment", deployment.pk, "metrics")), 2)
    off_the_loop(monitor.tick)  # the gap closes the socket; reconnecting without a session is refused (4401)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Your session ended. Log in again.")).to_be_visible()


def test_someone_outside_the_team_is_told_there_is_no_access(page: Page, deployment, log_in, screenshot) -> None:
    log_in("outsider")
    page.goto(f"/deployments/{deployment.pk}")
    expect(page.get_by_role("alert")).to_contain_text("No access")
    expect(page.locator(".connection")).to_have_count(0)
    screenshot("live-6-no-access")


def test_the_page_says_when_the_server_is_gone_and_catches_up_when_it_is_back(
    page: Page, deployment, twin, monitor, asgi_server: AsgiServer, log_in, screenshot, off_the_loop
) -> None:
    log_in("viewer")
    open_live_view(page, deployment)
    off_the_loop(monitor.tick)
    expect(version_row(page, 1)).to_be_visible()

    asgi_server.stop()
    indicator = page.locator(".connection")
    expect(indicator).to_have_text("reconnecting…")
    twin.record_requests("iris", 1, count=9, latency_ms=3)
    time.sleep(RATE_WINDOW_S)
    off_the_loop(monitor.tick)  # sent while nobody listens: the page catches up from the history
    screenshot("live-7-reconnecting")

    with page.expect_request(re.compile(r"/metrics/\?")):
        asgi_server.start()
    expect(indicator).to_have_text("live")
    rate_line = chart_line(page, "rate", 1)
    expect(rate_line).to_have_attribute("data-points", re.compile(r"^[1-9]"))
    twin.record_requests("iris", 1, count=5, latency_ms=3)
    time.sleep(RATE_WINDOW_S)
    off_the_loop(monitor.tick)
    expect(version_row(page, 1).locator('[data-metric="rate"]')).to_have_text("5")


def overview_row(page: Page, model: str):  # type: ignore[no-untyped-def]
    return page.locator(f'.overview-table tr[data-model="{model}"]')


def test_the_overview_shows_every_deployment_live_with_problems_first(
    page: Page, people, deployment, canary, twin, monitor, log_in, screenshot, off_the_loop
) -> None:
    fraud = factories.make_model(people["team"], "fraud")
    factories.make_version(fraud, 1)
    fraud_deployment = Deployment.objects.create(
        team=people["team"], model=fraud, stable_version=fraud.versions.get(version=1), created_by=people["deployer"]
    )
    secret = factories.make_model(people["other_team"], "secret")
    factories.make_version(secret, 1)
    Deployment.objects.create(team=people["other_team"], model=secret, stable_version=secret.versions.get(version=1))
    off_the_loop(reconcile)
    rollout = start_rollout(deployment, canary, people["deployer"], off_the_loop)

    log_in("viewer")
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    iris, fraud_row = overview_row(page, "iris"), overview_row(page, "fraud")
    expect(iris).to_be_visible()
    expect(fraud_row).to_be_visible()
    expect(overview_row(page, "secret")).to_have_count(0)  # another team's deployment appears nowhere
    expect(page.get_by_text("secret")).to_have_count(0)
    expect(iris.locator('[data-column="stable"]')).to_have_text("v1 100 %")
    expect(iris.locator('[data-column="canary"]')).to_have_text("v2 0 %")
    expect(iris.locator('[data-column="state"]')).to_contain_text("pending")
    expect(iris.locator('[data-column="state"]')).to_contain_text(f"#{rollout.pk}")
    expect(fraud_row.locator('[data-column="state"]')).to_have_text("steady")
    expect(page.locator(".connection")).to_have_text("live")

    # Live numbers from the same websocket the live page reads.
    off_the_loop(monitor.tick)
    twin.record_requests("iris", 1, count=40, latency_ms=3)
    time.sleep(RATE_WINDOW_S)
    off_the_loop(monitor.tick)
    expect(iris.locator('[data-metric="rate"]')).to_have_text("40")
    expect(iris.locator('[data-metric="error-rate"]')).to_have_text("0 %")
    expect(iris.locator('[data-metric="replicas"]')).to_contain_text("running")
    expect(iris).to_contain_text("healthy")

    # fraud's version fails to load on a replica: its row stands out, first, and says why.
    failing = live_point(1, replicas_ready=1, replicas_failed=1, replica_states={"RUNNING": 1, "UNHEALTHY": 1})
    message = {
        "deployment": fraud_deployment.pk, "at": failing["at"], "step_s": 1, "stable_version": 1, "rollout": None,
        "replica_states": {"RUNNING": 1, "UNHEALTHY": 1}, "versions": [failing],
    }  # fmt: skip
    off_the_loop(lambda: send_now(group_name("deployment", fraud_deployment.pk, "metrics"), "metrics", message))
    expect(fraud_row).to_have_class(re.compile("row-problem"))
    expect(fraud_row.locator('[data-problem="failing_version"]')).to_have_text("v1 failed to load on 1 of 2 replicas")
    expect(fraud_row.locator('[data-problem="unhealthy_replicas"]')).to_have_text("1 replica is unhealthy")
    expect(page.locator(".overview-table tbody tr").first).to_have_attribute("data-model", "fraud")
    expect(page.get_by_text("1 needs attention")).to_be_visible()
    screenshot("overview-1-live")

    # Filters, kept in the URL.
    page.get_by_label("State").select_option("rolling")
    expect(overview_row(page, "fraud")).to_have_count(0)
    expect(overview_row(page, "iris")).to_be_visible()
    expect(page).to_have_url(re.compile(r"\?state=rolling$"))
    page.get_by_label("State").select_option("problem")
    expect(overview_row(page, "iris")).to_have_count(0)
    expect(overview_row(page, "fraud")).to_be_visible()
    page.get_by_label("Team").select_option("ml")
    expect(page).to_have_url(re.compile(r"state=problem&team=ml$|team=ml&state=problem$"))
    screenshot("overview-2-needs-attention")

    # The model's link opens its live page.
    page.get_by_role("link", name="fraud, live view").click()
    expect(page).to_have_url(re.compile(rf"/deployments/{fraud_deployment.pk}$"))
    expect(page.get_by_role("heading", name="fraud", level=1)).to_be_visible()
