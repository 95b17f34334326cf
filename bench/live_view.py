#!/usr/bin/env python
"""How fast the live view follows the data plane, against a running `make up`.

    .venv/bin/python -m bench.live_view [--trials 5] [--rate 40]

It uploads, trusts and deploys a small Python model that prints one line per request (`bench-talk`), logs in as
the demo admin (var/demo-admin.json) and opens the deployment's websockets like the console does. Each trial:
traffic starts at --rate requests/s, runs a few seconds and stops; one marked request is sent. Measured:

- traffic start → the first websocket sample that shows it, and stop → the first sample at 0;
- the marked request → its print on the logs socket;
- the baseline, in the same run: the same request → Ray's own metrics endpoint showing it (what a Prometheus
  scraping Ray could see at best), so the table shows what the monitor adds on top of Ray.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import statistics
import threading
import time
import zipfile
from pathlib import Path

import requests
import websockets

from serving.cluster import RayDashboardCluster
from serving.metrics_reader import REQUESTS, parse_text

ROOT = Path(__file__).resolve().parent.parent
MODEL = "bench-talk"
TALKING_MODEL = b"""import numpy as np

def predict(rows):
    print(f"bench-talk asked about {float(rows[0][0]):.4f}")
    return np.zeros(len(rows), dtype=np.int64)
"""


class Console:
    """The control plane as the browser sees it: a session cookie, CSRF, the API and websockets."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.http = requests.Session()
        admin = json.loads((ROOT / "var" / "demo-admin.json").read_text())
        self.http.get(f"{self.base}/")  # the CSRF cookie
        response = self.post("/api/v1/auth/login/", json={"username": admin["username"], "password": admin["password"]})
        response.raise_for_status()

    def post(self, path: str, **kwargs) -> requests.Response:
        headers = {"X-CSRFToken": self.http.cookies.get("csrftoken", ""), "Referer": f"{self.base}/"}
        return self.http.post(f"{self.base}{path}", headers=headers, timeout=60, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(f"{self.base}{path}", timeout=30, **kwargs)

    def socket(self, path: str):
        url = self.base.replace("http", "ws", 1) + path
        cookie = "; ".join(f"{name}={value}" for name, value in self.http.cookies.items())
        return websockets.connect(url, additional_headers={"Cookie": cookie, "Origin": self.base})

    def deploy_talking_model(self) -> int:
        found = self.get("/api/v1/deployments/", params={"model": MODEL}).json()["results"]
        if found:
            return found[0]["id"]
        team = self.get("/api/v1/teams/").json()["results"][0]["slug"]
        self.post("/api/v1/models/", json={"name": MODEL, "team": team})
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as handle:
            handle.writestr("model.py", TALKING_MODEL)
        upload = self.post(f"/api/v1/models/{MODEL}/versions/", files={"artifact": ("talk.zip", archive.getvalue())})
        version = upload.json()["version"]
        self.post(f"/api/v1/models/{MODEL}/versions/{version}/trust/", json={"trusted": True}).raise_for_status()
        response = self.post("/api/v1/deployments/", json={"model": MODEL, "stable_version": version})
        response.raise_for_status()
        return response.json()["id"]


class Ray:
    """The baseline: Ray's own metrics endpoint."""

    def __init__(self) -> None:
        self.cluster = RayDashboardCluster.from_env()

    def answered(self) -> float:
        return sum(r.value for r in parse_text(self.cluster.metrics_text()) if r.name == REQUESTS and r.model == MODEL)


def send(serve: str, row0: float = 5.1) -> None:
    body = {"instances": [[row0, 3.5, 1.4, 0.2]]}
    requests.post(f"{serve}/v1/models/{MODEL}:predict", json=body, timeout=10).raise_for_status()


def traffic(serve: str, rate: float, stop: threading.Event) -> None:
    session, period, next_at = requests.Session(), 1 / rate, time.monotonic()
    while not stop.is_set():
        session.post(f"{serve}/v1/models/{MODEL}:predict", json={"instances": [[5.1, 3.5, 1.4, 0.2]]}, timeout=10)
        next_at += period
        time.sleep(max(0.0, next_at - time.monotonic()))


async def first(socket, predicate, timeout_s: float = 15) -> float:
    """Seconds until a message satisfying `predicate` arrives."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        message = json.loads(await asyncio.wait_for(socket.recv(), timeout_s))
        if predicate(message):
            return time.monotonic() - started
    return float("nan")


def rate_of(message: dict) -> float | None:
    if message.get("type") != "metrics":
        return None
    return sum(version["rate"] for version in message["data"]["versions"])


async def trial(console: Console, deployment: int, serve: str, rate: float, index: int) -> dict[str, float]:
    async with (
        console.socket(f"/ws/deployments/{deployment}/") as metrics,
        console.socket(f"/ws/deployments/{deployment}/logs/?q=bench-talk") as logs,
    ):
        await metrics.recv()
        await logs.recv()
        await logs.recv()  # hello, backlog
        await first(metrics, lambda m: rate_of(m) == 0)  # a quiet second first
        await asyncio.sleep(random.random())  # traffic changes at any moment, not just after a sample
        stop = threading.Event()
        loop = threading.Thread(target=traffic, args=(serve, rate, stop), daemon=True)
        loop.start()
        seen_start = await first(metrics, lambda m: (rate_of(m) or 0) >= rate / 2)
        await asyncio.sleep(3)
        stop.set()
        loop.join()
        stopped_at = time.monotonic()
        seen_half = await first(metrics, lambda m: rate_of(m) is not None and rate_of(m) <= rate / 2)
        await first(metrics, lambda m: rate_of(m) == 0)
        seen_stop = time.monotonic() - stopped_at
        marker = 1 + index / 1000

        async def arrival(socket, predicate) -> float:
            while not predicate(json.loads(await socket.recv())):
                pass
            return time.monotonic()

        in_sample = asyncio.create_task(arrival(metrics, lambda m: (rate_of(m) or 0) > 0))
        in_log = asyncio.create_task(
            arrival(logs, lambda m: any(f"{marker:.4f}" in line["message"] for line in m["data"]["lines"]))
        )
        ray = Ray()
        before = await asyncio.to_thread(ray.answered)
        await asyncio.sleep(random.random())
        sent_at = time.monotonic()
        await asyncio.to_thread(send, serve, marker)
        while await asyncio.to_thread(ray.answered) <= before and time.monotonic() - sent_at < 15:
            await asyncio.sleep(0.02)
        in_ray = time.monotonic() - sent_at
        sampled_at, logged_at = await asyncio.wait_for(asyncio.gather(in_sample, in_log), 15)
    return {
        "start": seen_start,
        "stop": seen_stop,
        "half": seen_half,
        "ray": in_ray,
        "sample": sampled_at - sent_at,
        "log": logged_at - sent_at,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--serve", default="http://127.0.0.1:8080")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--rate", type=float, default=40.0, help="requests/s during a trial")
    args = parser.parse_args()
    console = Console(args.base)
    deployment = console.deploy_talking_model()
    deadline = time.monotonic() + 180
    while True:
        try:
            send(args.serve)
            break
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    results = [asyncio.run(trial(console, deployment, args.serve, args.rate, index)) for index in range(args.trials)]
    print(f"\nlive view latency, {args.trials} trials, {args.rate:.0f} req/s (seconds; median / max)")
    print(f"{'what':<44}{'median':>8}{'max':>8}{'× Ray':>8}")
    ray = statistics.median(r["ray"] for r in results)
    rows = [
        ("one request → Ray's metrics endpoint (baseline)", "ray"),
        ("one request → its sample on the websocket", "sample"),
        ("traffic starts → websocket shows the rate", "start"),
        ("traffic stops → websocket shows under half", "half"),
        ("traffic stops → websocket shows 0", "stop"),
        ("a print → the logs websocket", "log"),
    ]
    for label, key in rows:
        values = [r[key] for r in results]
        median = statistics.median(values)
        print(f"{label:<44}{median:>8.2f}{max(values):>8.2f}{median / ray:>8.2f}")


if __name__ == "__main__":
    main()
