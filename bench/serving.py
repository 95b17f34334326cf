#!/usr/bin/env python
"""Serving throughput: Raylane's model server against a plain ASGI server and bare Ray Serve, in one run.

    .venv/bin/python -m bench.serving [--duration 15] [--connections 16]

Needs `wrk` (Debian: apt-get install wrk). Starts its own Ray head (ports +200, files in /tmp/rl-bench-ray) in the
same throughput-optimized mode `make up` uses, and stops it at the end. Prints one table; ratios are against
baselines measured in this same run, since absolute numbers vary ±20% between runs on this machine.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from operations import ray_head
from serving.cluster import RayDashboardCluster
from serving.config import LOGGING_CONFIG, ArtifactSource, Batching, FleetSpec, ModelSpec, VersionSpec, serve_config
from serving.head import HeadSettings, read_token
from serving.metrics_reader import CounterDeltas, parse_text

ROOT = Path(__file__).resolve().parent.parent
BODY = '{"instances": [[5.1, 3.5, 1.4, 0.2]]}'
PLAIN_PORT = 8190


@dataclass
class Result:
    name: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


def train(folder: Path, kind: str) -> list[tuple[str, Path]]:
    """Two versions of an iris classifier: a logistic regression (~50 µs a call) or a 50-tree forest (~2 ms)."""
    import skops.io
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    stored = []
    for seed in (0, 1):
        if kind == "forest":
            model = RandomForestClassifier(n_estimators=50, random_state=seed).fit(features, labels)
        else:
            model = LogisticRegression(max_iter=500 + seed, random_state=seed).fit(features, labels)
        path = folder / f"iris-{seed}.skops"
        skops.io.dump(model, path)
        sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        target = folder / "store" / "sha256" / sha256[:2] / sha256
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
        stored.append((sha256, path))
    return stored


def wrk(name: str, url: str, duration: int, connections: int) -> Result:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(f"wrk.method = 'POST'\nwrk.body = '{BODY}'\nwrk.headers['Content-Type'] = 'application/json'\n")
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    script.unlink()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    return Result(name, rate, latency(output, "50%"), latency(output, "99%"), errors)


def latency(output: str, percentile: str) -> float:
    value, unit = re.search(rf"{re.escape(percentile)}\s+([\d.]+)(us|ms|s)", output).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wait_http(url: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if requests.post(url, data=BODY, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} did not answer within {timeout_s} s")


class MonitorLoad:
    """What the monitor asks of the cluster every second, in a thread: Serve's status, every node's metrics (parsed
    as the monitor does) and every replica's new log lines. Its cost on the data plane is the row's ratio."""

    def __init__(self, settings: HeadSettings) -> None:
        self.cluster = RayDashboardCluster(
            settings.dashboard_url, auth_token=read_token(settings), ray_dir=settings.ray_dir
        )
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.passes: list[float] = []

    def run(self) -> None:
        deltas, cursors = CounterDeltas(), {}
        while not self.stopping.wait(1 - time.time() % 1):
            started = time.monotonic()
            status = self.cluster.status()
            texts = self.cluster.metrics_by_target()
            deltas.step([r for text in texts.values() if isinstance(text, str) for r in parse_text(text)], time.time())
            for app in status.applications.values():
                for deployment in app.deployments.values():
                    for replica in deployment.replicas:
                        name = replica.log_filename
                        _, cursors[name] = self.cluster.log_read(replica.node_ip, name, cursors.get(name), backlog=0)
            self.passes.append(time.monotonic() - started)

    def __enter__(self) -> MonitorLoad:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
        if self.passes:
            print(f"monitor passes: {len(self.passes)}, median {statistics.median(self.passes) * 1000:.0f} ms")


def weight_change_latency(cluster, base_config_for, url: str, rounds: int = 5) -> list[float]:
    """Seconds from the start of `apply` until every answer comes from the newly weighted version."""
    timings = []
    for round_number in range(rounds):
        target = 2 if round_number % 2 == 0 else 1
        config = base_config_for({1: 100 - 100 * (target == 2), 2: 100 * (target == 2)})
        started = time.monotonic()
        cluster.apply(config)
        session = requests.Session()
        while True:
            answers = {session.post(url, data=BODY, timeout=5).headers.get("X-Raylane-Version") for _ in range(10)}
            if answers == {str(target)}:
                break
        timings.append(time.monotonic() - started)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--model", choices=["logistic", "forest"], default="logistic")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    folder = Path(tempfile.mkdtemp(prefix="rl-bench-"))
    (v1_sha, v1_path), (v2_sha, _) = train(folder, args.model)
    settings = HeadSettings.from_env(
        {"RAYLANE_RAY_DIR": "/tmp/rl-bench-ray", "RAYLANE_RAY_PORT_OFFSET": "200"}, external_cluster=None
    )
    results: list[Result] = []
    plain = None
    try:
        ray_head.start_head(settings)
        cluster = RayDashboardCluster(settings.dashboard_url, auth_token=read_token(settings), timeout_s=60)
        base = f"http://127.0.0.1:{settings.ports['serve_http']}"

        environment = {**os.environ, "BENCH_MODEL_PATH": str(v1_path), "PYTHONPATH": str(ROOT)}
        plain = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bench.apps:plain_asgi", "--port", str(PLAIN_PORT), "--no-access-log",
             "--log-level", "warning"],
            env=environment, cwd=ROOT,
        )  # fmt: skip
        wait_http(f"http://127.0.0.1:{PLAIN_PORT}/predict")
        results.append(wrk("plain ASGI (Starlette, 1 uvicorn worker)", f"http://127.0.0.1:{PLAIN_PORT}/predict",
                           args.duration, args.connections))  # fmt: skip
        plain.terminate()
        plain.wait()
        plain = None

        def config_for(weights: dict[int, int], batching: bool = False) -> dict:
            model = ModelSpec(
                name="iris",
                versions=(VersionSpec(1, "skops", v1_sha), VersionSpec(2, "skops", v2_sha)),
                weights=tuple(weights.items()),
                batching=Batching(enabled=batching, max_batch_size=16, batch_wait_timeout_s=0.002),
                protocols=("v1",),
            )
            config = serve_config(
                FleetSpec(
                    models=(model,),
                    artifacts=ArtifactSource(shared_path=str(folder / "store")),
                    http_port=settings.ports["serve_http"],
                )
            )
            config["applications"].append(
                {
                    "name": "bare",
                    "route_prefix": "/bare",
                    "import_path": "bench.apps:bare_serve_app",
                    "args": {"path": str(v1_path)},
                    "deployments": [{"name": "BareModel", "ray_actor_options": {"num_cpus": 0.25}}],
                    "logging_config": dict(LOGGING_CONFIG),  # the same logging as Raylane's apps: no access log
                }
            )
            return config

        cluster.apply(config_for({1: 90, 2: 10}))
        cluster.wait_until_running(["iris.v1", "bare", "_raylane"], timeout_s=180)
        wait_http(f"{base}/bare")
        wait_http(f"{base}/v1/models/iris:predict")
        results.append(wrk("bare Ray Serve deployment (same mode)", f"{base}/bare", args.duration, args.connections))
        results.append(wrk("Raylane 90/10 split, no batching", f"{base}/v1/models/iris:predict", args.duration,
                           args.connections))  # fmt: skip
        with MonitorLoad(settings):
            results.append(wrk("  the same, monitor sampling every second", f"{base}/v1/models/iris:predict",
                               args.duration, args.connections))  # fmt: skip
        cluster.apply(config_for({1: 90, 2: 10}, batching=True))
        time.sleep(2)
        results.append(wrk("Raylane 90/10 split, batching on", f"{base}/v1/models/iris:predict", args.duration,
                           args.connections))  # fmt: skip
        timings = weight_change_latency(cluster, config_for, f"{base}/v1/models/iris:predict")
    finally:
        if plain is not None:
            plain.terminate()
        ray_head.stop_head(settings)
        shutil.rmtree(folder, ignore_errors=True)

    plain_rate, bare_rate = results[0].requests_per_s, results[1].requests_per_s
    print(
        f"\nwrk -t1 -c{args.connections} -d{args.duration}s, one iris row per request, {args.model} model, "
        f"{os.cpu_count()} cores\n"
    )
    header = ("path", "req/s", "p50 ms", "p99 ms", "errors", "× plain", "× bare")
    print(f"| {header[0]:<44} | " + " | ".join(f"{cell:>7}" for cell in header[1:]) + " |")
    print(f"|{'-' * 46}|" + "|".join("-" * 9 for _ in header[1:]) + "|")
    for result in results:
        print(
            f"| {result.name:<44} | {result.requests_per_s:>7.0f} | {result.p50_ms:>7.1f} | {result.p99_ms:>7.1f} | "
            f"{result.errors:>7} | {result.requests_per_s / plain_rate:>7.2f} | "
            f"{result.requests_per_s / bare_rate:>7.2f} |"
        )
    print(
        f"\nweight change → all traffic on the new version: median {statistics.median(timings):.2f} s, "
        f"max {max(timings):.2f} s over {len(timings)} changes (from the start of the PUT)"
    )


if __name__ == "__main__":
    main()
