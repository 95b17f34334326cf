"""The monitor against the ServeCluster twin, on the real Postgres and Redis: samples stored and pushed, logs
tailed and filtered, history over REST, roll-ups and retention, slow clients dropped, /metrics."""

import json
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.utils import timezone

from controlplane.core.broadcast import group_name, redis_client, send_now, sequence_key
from controlplane.monitoring.collector import Monitor
from controlplane.monitoring.models import MetricSample
from controlplane.monitoring.services import prune_metrics, rollup_metrics
from serving.histogram import BUCKET_LABELS
from tests import factories

from .sockets import ORIGIN, connect, cookie_for

pytestmark = pytest.mark.django_db(transaction=True)


def replica_log(twin, app="iris") -> str:
    (replica,) = twin.status().applications[app].deployments["ModelServer"].replicas
    return replica.log_filename


def json_line(message, *, level="INFO", version=None, replica="r1") -> str:
    record = {"asctime": "2026-11-27 12:00:00,000", "levelname": level, "message": message, "replica": replica}
    if version is not None:
        record |= {"raylane_model": "iris", "raylane_version": version}
    return json.dumps(record)


def test_each_tick_stores_and_pushes_what_each_version_did(deployment, people, twin, monitor):
    viewer = cookie_for(people["viewer"])

    async def scenario():
        socket, connected, _ = await connect(f"/ws/deployments/{deployment.pk}/", ORIGIN, viewer)
        assert connected
        hello = await socket.receive_json_from(timeout=5)
        await sync_to_async(monitor.tick)()  # the baseline: nothing counted before the monitor started
        baseline = await socket.receive_json_from(timeout=5)
        twin.record_requests("iris", 1, count=40, latency_ms=3)
        twin.record_requests("iris", 1, code=500, count=2, latency_ms=30)
        twin.record_requests("iris", 1, code=400, count=1, latency_ms=1)
        await sync_to_async(monitor.tick)()
        counted = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return hello, baseline, counted

    hello, baseline, counted = async_to_sync(scenario)()
    metrics_stream = group_name("deployment", deployment.pk, "metrics")
    assert set(hello["streams"]) == {f"deployment-{deployment.pk}", metrics_stream}
    assert baseline["type"] == "metrics" and baseline["stream"] == metrics_stream
    assert baseline["seq"] == hello["streams"][metrics_stream] + 1 and counted["seq"] == baseline["seq"] + 1
    assert [v["requests"] for v in baseline["data"]["versions"]] == [0]
    (stable,) = counted["data"]["versions"]
    assert (stable["version"], stable["requests"], stable["errors"], stable["client_errors"]) == (1, 43, 2, 1)
    # rates and percentiles are over the last two seconds when the baseline was the second before (it had 0)
    assert stable["window_s"] in (1, 2) and stable["rate"] == round(43 / stable["window_s"], 3)
    assert stable["error_rate"] == round(2 / 43, 4)
    assert 2 < stable["p50_ms"] <= 5 and 20 < stable["p99_ms"] <= 50
    # the twin runs one replica per protocol application (v2 and v1), each reporting v1 loaded
    assert (stable["replicas_total"], stable["replicas_ready"]) == (2, 2)
    assert counted["data"]["replica_states"] == {"RUNNING": 2} and counted["data"]["stable_version"] == 1
    rows = MetricSample.objects.filter(deployment=deployment, step_s=1)
    assert sum(rows.values_list("requests", flat=True)) == 43
    assert len(rows.last().latency_buckets) == len(BUCKET_LABELS)

    history = factories.client_for(people["viewer"]).get(
        f"/api/v1/deployments/{deployment.pk}/metrics/", {"start": "-60", "step": "10"}
    )
    assert history.status_code == 200, history.json()
    body = history.json()
    assert body["source"] == "raw" and body["seq"] == counted["seq"]
    (series,) = body["series"]
    assert sum(point["requests"] for point in series["points"]) == 43 and series["version"] == 1


def test_log_lines_are_tailed_filtered_and_kept_for_late_joiners(deployment, people, twin, monitor):
    viewer = cookie_for(people["viewer"])
    filename = replica_log(twin)
    monitor.tick()  # starts at the end of the files: older lines are not news
    twin.write_log(filename, json_line("loaded v1 in 12 ms", version=1))
    twin.write_log(filename, json_line("v1 failed on a request", level="ERROR", version=1))
    monitor.tick()

    async def scenario():
        path = f"/ws/deployments/{deployment.pk}/logs/?level=warning"
        socket, connected, _ = await connect(path, ORIGIN, viewer)
        assert connected
        hello = await socket.receive_json_from(timeout=5)
        backlog = await socket.receive_json_from(timeout=5)
        twin.write_log(filename, json_line("odd input shape", level="WARNING", version=1))
        twin.write_log(filename, "a plain line from a print")
        await sync_to_async(monitor.tick)()
        live = await socket.receive_json_from(timeout=5)
        await socket.send_json_to({"filters": {"q": "PRINT"}})
        refiltered = await socket.receive_json_from(timeout=5)
        await socket.send_json_to({"filters": {"level": "LOUD"}})
        refused = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return hello, backlog, live, refiltered, refused

    hello, backlog, live, refiltered, refused = async_to_sync(scenario)()
    assert hello["group"] == f"deployment-{deployment.pk}-logs"
    assert [line["message"] for line in backlog["data"]["lines"]] == ["v1 failed on a request"]
    assert backlog["filters"]["level"] == "WARNING"
    assert live["type"] == "logs" and live["seq"] == hello["seq"] + 1
    assert [(line["message"], line["version"]) for line in live["data"]["lines"]] == [("odd input shape", 1)]
    assert [line["message"] for line in refiltered["data"]["lines"]] == ["a plain line from a print"]
    assert refused["type"] == "error" and refused["message"].startswith("level:")

    client = factories.client_for(people["viewer"])
    recent = client.get(f"/api/v1/deployments/{deployment.pk}/logs/", {"version": 1, "level": "error"}).json()
    assert [line["message"] for line in recent["lines"]] == ["v1 failed on a request"]
    assert recent["lines"][0]["replica"] == "r1" and recent["lines"][0]["model"] == "iris"
    bad = client.get(f"/api/v1/deployments/{deployment.pk}/logs/", {"level": "LOUD"})
    assert bad.status_code == 400 and "level" in bad.json()


def test_a_bad_filter_on_connect_is_named_then_closed(deployment, people):
    viewer = cookie_for(people["viewer"])

    async def scenario():
        path = f"/ws/deployments/{deployment.pk}/logs/?version=latest"
        socket, connected, _ = await connect(path, ORIGIN, viewer)
        await socket.receive_json_from(timeout=5)  # hello
        error = await socket.receive_json_from(timeout=5)
        closed = await socket.receive_output(timeout=5)
        return connected, error, closed

    connected, error, closed = async_to_sync(scenario)()
    assert connected and error["message"].startswith("version:")
    assert closed == {"type": "websocket.close", "code": 4400}


def test_a_client_too_slow_for_the_metrics_stream_is_told_and_dropped(deployment, people):
    stream = group_name("deployment", deployment.pk, "metrics")
    viewer = cookie_for(people["viewer"])

    async def scenario():
        socket, _, _ = await connect(f"/ws/deployments/{deployment.pk}/", ORIGIN, viewer)
        await socket.receive_json_from(timeout=5)
        await sync_to_async(send_now)(stream, "metrics", {"versions": []})
        first = await socket.receive_json_from(timeout=5)
        # two messages the channel layer dropped for this client (its channel was full)
        await sync_to_async(redis_client().incrby)(sequence_key(stream), 2)
        await sync_to_async(send_now)(stream, "metrics", {"versions": []})
        resync = await socket.receive_json_from(timeout=5)
        closed = await socket.receive_output(timeout=5)
        return first, resync, closed

    first, resync, closed = async_to_sync(scenario)()
    assert first["type"] == "metrics"
    assert resync == {"type": "resync", "stream": stream, "missed": 2, "reason": "reading too slowly"}
    assert closed == {"type": "websocket.close", "code": 4008}


def test_minutes_roll_up_and_old_samples_are_pruned(deployment, people, settings):
    now = timezone.now().replace(second=30, microsecond=0)
    minute = now.replace(second=0) - timedelta(minutes=2)
    buckets = [0] * len(BUCKET_LABELS)
    buckets[3] = 10  # ≤ 5 ms
    for second in range(0, 60, 10):
        MetricSample.objects.create(
            deployment=deployment, version=1, at=minute + timedelta(seconds=second), requests=10,
            errors=1, latency_buckets=buckets, ongoing=second / 10, replicas_ready=2, replicas_total=2,
        )  # fmt: skip
    old = MetricSample.objects.create(
        deployment=deployment, version=1, at=now - timedelta(hours=7), requests=5, latency_buckets=buckets
    )
    assert rollup_metrics(now=now) == 1
    assert rollup_metrics(now=now) == 0, "a rolled-up minute is not rolled up again"
    rollup = MetricSample.objects.get(step_s=60)
    assert (rollup.at, rollup.requests, rollup.errors, rollup.replicas_ready) == (minute, 60, 6, 2)
    assert rollup.latency_buckets[3] == 60 and rollup.ongoing == pytest.approx(2.5)

    series = factories.client_for(people["viewer"]).get(
        f"/api/v1/deployments/{deployment.pk}/metrics/",
        {"start": (minute - timedelta(minutes=5)).isoformat(), "end": now.isoformat(), "step": 300},
    )
    assert series.json()["source"] == "rollup" and series.json()["series"][0]["points"][0]["requests"] == 60

    settings.RAYLANE_METRICS_RAW_RETENTION_S = 6 * 3600
    assert prune_metrics(now=now)["raw"] == 1
    assert not MetricSample.objects.filter(pk=old.pk).exists()
    assert prune_metrics(now=now + timedelta(days=31))["rollups"] == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "yesterday"}, "start"),
        ({"start": "-60", "end": "-120"}, "start"),
        ({"step": "0"}, "step"),
        ({"start": "-86400", "step": "1"}, "step"),
        ({"version": "two"}, "version"),
    ],
)
def test_bad_history_queries_name_the_field(deployment, people, params, field):
    response = factories.client_for(people["viewer"]).get(f"/api/v1/deployments/{deployment.pk}/metrics/", params)
    assert response.status_code == 400 and field in response.json(), response.json()


def test_times_with_any_offset_are_read_as_utc(deployment, people):
    """PostgreSQL refuses offsets beyond ±15:59: history reads times as every API filter does, in UTC."""
    url = f"/api/v1/deployments/{deployment.pk}/metrics/"
    response = factories.client_for(people["viewer"]).get(url, {"end": "2026-11-27T10:00:00+23:00"})
    assert response.status_code == 200 and response.json()["end"] == "2026-11-26T11:00:00+00:00"


def test_history_is_scoped_to_the_team(deployment, people):
    for suffix in ("metrics", "logs", "events"):
        url = f"/api/v1/deployments/{deployment.pk}/{suffix}/"
        assert factories.client_for(people["foreign_deployer"]).get(url).status_code == 404
        assert factories.client_for(people["viewer"]).get(url).status_code == 200


def test_only_one_monitor_leads_and_an_unreachable_cluster_stores_nothing(deployment, twin, monitor):
    other = Monitor(cluster=twin, prometheus_url="")
    assert monitor.lead() and not other.lead()
    monitor.release()
    assert other.lead()
    other.release()
    twin.reachable = False
    assert monitor.tick() == {}
    assert not MetricSample.objects.exists(), "no data is not zero traffic"
    from controlplane.monitoring.collector import heartbeat

    assert "unreachable" in heartbeat()["error"]


def test_control_plane_metrics_for_prometheus(deployment, people, settings, monitor, client):
    monitor.tick()
    assert client.get("/metrics").status_code == 401
    assert factories.client_for(people["admin"]).get("/metrics").status_code == 401, "team admins are not operators"
    settings.RAYLANE_METRICS_TOKEN = "scrape-me-123"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me-123")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert 'raylane_rollouts{phase="progressing"} 0.0' in text
    assert "raylane_reconcile_runs_total" in text and "raylane_reconcile_duration_seconds" in text
    lag = next(line for line in text.splitlines() if line.startswith("raylane_monitor_lag_seconds "))
    assert 0 <= float(lag.split()[1]) < 60
    assert factories.client_for(people["site_admin"]).get("/metrics").status_code == 200


@pytest.fixture
def http_endpoint():
    """`http_endpoint(answer)` serves GET on a free loopback port with `answer(path) -> (content_type, bytes)`;
    returns its base URL. Stands in for a node's metrics endpoint or a Prometheus."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    servers = []

    def start(answer) -> str:
        class Endpoint(BaseHTTPRequestHandler):
            def do_GET(self):
                content_type, body = answer(self.path)
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()


def test_every_node_is_scraped_and_one_that_does_not_answer_hides_no_other(http_endpoint):
    from serving.cluster import ClusterUnreachable, RayDashboardCluster

    node = b'ray_raylane_requests{model="iris",version="1",code="200",replica="r"} 3.0\n'
    up, down = http_endpoint(lambda path: ("text/plain", node)) + "/metrics", "http://127.0.0.1:9/metrics"
    cluster = RayDashboardCluster("http://127.0.0.1:9", timeout_s=2, metrics_urls=[up, down])
    results = cluster.metrics_by_target()
    assert "ray_raylane_requests" in results[up]
    assert isinstance(results[down], ClusterUnreachable) and "127.0.0.1:9" in str(results[down])


def test_with_prometheus_url_the_monitor_reads_ray_metrics_from_prometheus(deployment, twin, http_endpoint):
    """PROMETHEUS_URL: the readings come from an instant query; Serve's status still comes from the dashboard."""
    from urllib.parse import parse_qs, urlsplit

    replica = next(iter(twin.status().applications["iris"].deployments["ModelServer"].replicas)).replica_id
    totals = iter([10, 25])
    queries = []

    def prometheus(path: str) -> tuple[str, bytes]:
        queries.append(parse_qs(urlsplit(path).query)["query"][0])
        labels = {"__name__": "ray_raylane_requests", "model": "iris", "version": "1", "code": "200"}
        result = [{"metric": labels | {"replica": replica}, "value": [0, str(next(totals))]}]
        return "application/json", json.dumps(
            {"status": "success", "data": {"resultType": "vector", "result": result}}
        ).encode()

    monitor = Monitor(cluster=twin, prometheus_url=http_endpoint(prometheus) + "/")
    monitor.tick()
    published = monitor.tick()
    (stable,) = published[deployment.pk]["versions"]
    assert stable["requests"] == 15
    assert queries[0].startswith('{__name__=~"ray_raylane_requests|')


def test_a_deleted_deployment_takes_its_kept_log_lines_with_it(deployment, twin, monitor):
    from controlplane.monitoring import logs

    monitor.tick()
    twin.write_log(replica_log(twin), json_line("about to go", version=1))
    monitor.tick()
    assert logs.recent(deployment.pk)
    pk = deployment.pk
    deployment.delete()
    assert logs.recent(pk) == [] and not MetricSample.objects.filter(deployment_id=pk).exists()


def test_the_loop_outlives_redis_and_database_trouble(deployment, twin, monitor, monkeypatch, caplog):
    import redis

    calls = {"lead": 0}
    real_lead = monitor.lead

    def flaky_lead():
        calls["lead"] += 1
        if calls["lead"] == 1:
            raise redis.ConnectionError("Connection refused")
        return real_lead()

    monkeypatch.setattr(monitor, "lead", flaky_lead)
    with caplog.at_level("INFO", logger="controlplane.monitoring.collector"):
        monitor.run(stop_after_s=2.6)
    assert calls["lead"] >= 2, "the loop went on after Redis refused"
    assert MetricSample.objects.filter(deployment=deployment).exists()
    assert "waiting for the cluster: ConnectionError: Connection refused" in caplog.text
