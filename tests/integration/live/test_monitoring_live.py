"""Live monitoring end to end: real Ray Serve replicas → Ray's metrics and log files → the monitor process →
Postgres and the Redis channel layer → a websocket in this process, as a browser would have it."""

import time

import pytest
import requests
from asgiref.sync import async_to_sync, sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile

from controlplane.monitoring.models import MetricSample
from tests import factories
from tests.integration.monitoring.sockets import ORIGIN, connect, cookie_for

from .conftest import answers, wait_until, zip_of

pytestmark = [pytest.mark.ray, pytest.mark.django_db(transaction=True)]

# A model that says what it was asked, as a print: Serve sends a replica's prints to its log file.
TALKING_MODEL = b"""import numpy as np

def predict(rows):
    print(f"asked about {float(rows[0][0]):.3f}")
    return np.zeros(len(rows), dtype=np.int64)
"""
REQUESTS = 37
SAMPLES_WITHIN_S = 3.0
LOG_LINE_WITHIN_S = 2.0


@pytest.fixture
def talking(people, live_settings):
    client = factories.client_for(people["deployer"])
    name = f"talk-{int(time.time() * 1000) % 10**8}"
    assert client.post("/api/v1/models/", {"name": name, "team": "ml"}, format="json").status_code == 201
    upload = SimpleUploadedFile("talk.zip", zip_of({"model.py": TALKING_MODEL}))
    response = client.post(f"/api/v1/models/{name}/versions/", {"artifact": upload}, format="multipart")
    assert response.status_code == 201, response.json()
    trusted = factories.client_for(people["admin"]).post(f"/api/v1/models/{name}/versions/1/trust/", {"trusted": True})
    assert trusted.json()["deployable"]
    deployment = client.post("/api/v1/deployments/", {"model": name, "stable_version": 1}, format="json").json()
    url = f"{live_settings['base']}/v1/models/{name}:predict"
    wait_until(lambda: answers(url) == "1", timeout_s=180, what=f"{name} v1 serving")
    return {"deployment": deployment["id"], "url": url, "monitor": live_settings["monitor"]}


async def next_message(socket, until: float) -> dict | None:
    """The next message before the monotonic time `until`, else None. (A timed-out `receive_from` would cancel the
    consumer; `receive_nothing` only looks.)"""
    while time.monotonic() < until:
        if not await socket.receive_nothing(timeout=0.05, interval=0.01):
            return await socket.receive_json_from(timeout=5)
    return None


async def drain(socket, seconds: float) -> list[dict]:
    messages, until = [], time.monotonic() + seconds
    while (message := await next_message(socket, until)) is not None:
        messages.append(message)
    return messages


def test_requests_show_up_as_samples_and_a_print_as_a_log_line(talking, people):
    viewer = cookie_for(people["viewer"])
    deployment = talking["deployment"]
    marker = 7.125

    def send_requests() -> float:
        session = requests.Session()
        for index in range(REQUESTS):
            row = [marker if index == REQUESTS - 1 else 5.1, 3.5, 1.4, 0.2]
            response = session.post(talking["url"], json={"instances": [row]}, timeout=10)
            assert response.status_code == 200, response.text
        return time.monotonic()

    async def scenario():
        metrics, connected, _ = await connect(f"/ws/deployments/{deployment}/", ORIGIN, viewer)
        logs, logs_connected, _ = await connect(f"/ws/deployments/{deployment}/logs/?q=asked", ORIGIN, viewer)
        assert connected and logs_connected, "the websockets refused a viewer"
        await metrics.receive_json_from(timeout=5)  # hello
        await logs.receive_json_from(timeout=5)  # hello
        await logs.receive_json_from(timeout=5)  # the backlog
        # the warm-up requests of the fixture are counted by now: start from a quiet second
        await drain(metrics, 3.5)
        done_at = await sync_to_async(send_requests)()

        # Both sockets at once, noting when each thing arrived.
        counted, counted_at, line, line_at = 0, None, None, None
        until = done_at + max(SAMPLES_WITHIN_S, LOG_LINE_WITHIN_S) + 3
        while (counted < REQUESTS or line is None) and time.monotonic() < until:
            message = await next_message(metrics, time.monotonic() + 0.05) if counted < REQUESTS else None
            if message and message["type"] == "metrics":
                counted += sum(v["requests"] for v in message["data"]["versions"] if v["version"] == 1)
                counted_at = time.monotonic()
            if line is None and (message := await next_message(logs, time.monotonic() + 0.05)):
                line = next((x for x in message["data"]["lines"] if f"{marker:.3f}" in x["message"]), None)
                line_at = time.monotonic()
        samples_after_s = counted_at - done_at if counted_at else None
        line_after_s = line_at - done_at if line_at else None
        await metrics.disconnect()
        await logs.disconnect()
        return counted, samples_after_s, line, line_after_s

    counted, samples_after_s, line, line_after_s = async_to_sync(scenario)()
    print(f"\n{REQUESTS} requests counted {samples_after_s} s after the last; log line after {line_after_s} s")
    assert counted == REQUESTS, f"the samples counted {counted} of {REQUESTS} requests"
    assert samples_after_s <= SAMPLES_WITHIN_S, f"the last requests were counted only after {samples_after_s:.1f} s"
    assert line is not None, "the model's print never reached the logs socket" + talking["monitor"].log()
    assert line["version"] == 1 and line["level"] == "INFO" and line["replica"]
    assert line_after_s <= LOG_LINE_WITHIN_S, f"the log line arrived after {line_after_s:.1f} s"

    stored = MetricSample.objects.filter(deployment_id=deployment, version=1, step_s=1)
    assert stored.filter(requests__gt=0).exists()
    history = factories.client_for(people["viewer"]).get(f"/api/v1/deployments/{deployment}/metrics/").json()
    assert history["source"] == "raw" and history["series"][0]["version"] == 1
    assert sum(p["requests"] for p in history["series"][0]["points"]) >= REQUESTS
    recent = factories.client_for(people["viewer"]).get(f"/api/v1/deployments/{deployment}/logs/", {"q": "7.125"})
    assert [x["message"] for x in recent.json()["lines"]] == [line["message"]]
