"""The monitor: once a second, what every deployed version did (from Ray's metrics and Serve's status) goes to
Postgres and to the deployment's websocket group, and new replica log lines go to the deployment's log stream.

One monitor runs at a time (a Redis lease); a second one waits, so running two by mistake never doubles counts.
`Monitor.tick()` is one pass and is what the tests drive; `Monitor.run()` loops it on whole seconds.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
import requests
from django.conf import settings
from django.db import DatabaseError, close_old_connections

from controlplane.core.broadcast import group_name, redis_client, send_many
from controlplane.rollouts.desired import active_rollouts, served_versions
from controlplane.rollouts.models import Deployment, Rollout
from controlplane.rollouts.serve_target import serve_cluster
from controlplane.rollouts.services import rollout_summary
from serving.cluster import ServeCluster, ServeClusterError
from serving.config import parse_app_name
from serving.metrics_reader import FAMILIES, CounterDeltas, Reading, VersionSample, parse_prometheus_vector, parse_text
from serving.serve_status import ClusterStatus

from . import logs
from .bins import Bin, point
from .models import RAW_STEP_S, MetricSample

logger = logging.getLogger(__name__)
LEADER_KEY = "raylane:monitor:leader"
HEARTBEAT_KEY = "raylane:monitor:heartbeat"
LEASE_S = 10


@dataclass
class Fleet:
    """What the database says is deployed, by model name."""

    deployments: dict[str, Deployment] = field(default_factory=dict)
    expected: dict[str, set[int]] = field(default_factory=dict)  # versions that get a row even when idle
    rollouts: dict[str, Rollout] = field(default_factory=dict)

    @classmethod
    def load(cls) -> Fleet:
        fleet, active = cls(), active_rollouts("to_version")
        for deployment in Deployment.objects.select_related("model", "stable_version"):
            name, rollout = deployment.model.name, active.get(deployment.pk)
            fleet.deployments[name] = deployment
            if rollout is not None:
                fleet.rollouts[name] = rollout
            served = served_versions(deployment, rollout) if deployment.stable_version else []
            fleet.expected[name] = {version.version for version in served}
        return fleet


@dataclass(frozen=True)
class ReplicaLog:
    model: str | None  # None: a front-door (pool) replica, whose lines name their model themselves
    version: int | None  # a dedicated version's replica
    replica: str
    node_ip: str
    filename: str


@dataclass
class Topology:
    """Serve's replicas per model: which are alive (gauges of dead ones are ignored), their states, their logs."""

    live: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    servers: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # model server replicas
    states: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    logs: list[ReplicaLog] = field(default_factory=list)

    @classmethod
    def of(cls, status: ClusterStatus, fleet: Fleet) -> Topology:
        topology = cls()
        pooled = [name for name, deployment in fleet.deployments.items() if deployment.pooled]
        for app_name, app in status.applications.items():
            model, version = parse_app_name(app_name)
            owners = [model] if model is not None else pooled
            for deployment in app.deployments.values():
                for replica in deployment.replicas:
                    for owner in owners:
                        topology.live[owner].add(replica.replica_id)
                        topology.states[owner][replica.state] += 1
                        if version is None:  # not a dedicated version's own replica
                            topology.servers[owner].add(replica.replica_id)
                    if replica.log_filename and (model is None or model in fleet.deployments):
                        topology.logs.append(
                            ReplicaLog(model, version, replica.replica_id, replica.node_ip, replica.log_filename)
                        )
        return topology


class Monitor:
    def __init__(self, cluster: ServeCluster | None = None, *, prometheus_url: str | None = None) -> None:
        self.cluster = cluster or serve_cluster()
        self.prometheus_url = (settings.PROMETHEUS_URL if prometheus_url is None else prometheus_url).rstrip("/")
        self.deltas = CounterDeltas()
        self.log_cursors: dict[str, Any] = {}
        self.previous_rows: dict[tuple[int, int], MetricSample] = {}
        self.first_tick = True
        self.identity = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.session = requests.Session()
        self.last_error = ""
        self.sampled = False  # some pass has stored samples

    # --- sources -------------------------------------------------------------------------------------------------
    def readings(self) -> list[Reading]:
        if not self.prometheus_url:
            texts = self.cluster.metrics_by_target()
            failed = {target: result for target, result in texts.items() if isinstance(result, ServeClusterError)}
            if failed and len(failed) == len(texts):
                raise next(iter(failed.values()))
            for target, error in failed.items():
                self.note_error(f"{target}: {error}")  # the other nodes' samples still count
            return [item for result in texts.values() if isinstance(result, str) for item in parse_text(result)]
        query = '{__name__=~"' + "|".join(FAMILIES) + '"}'
        try:
            response = self.session.get(f"{self.prometheus_url}/api/v1/query", params={"query": query}, timeout=5)
            response.raise_for_status()
            return parse_prometheus_vector(response.json())
        except (requests.RequestException, ValueError) as exc:
            raise ServeClusterError(f"Prometheus at {self.prometheus_url} did not answer the query: {exc}") from exc

    # --- one pass ------------------------------------------------------------------------------------------------
    def tick(self, now: float | None = None) -> dict[int, dict[str, Any]]:
        """Sample, store, publish; returns what was published per deployment id (for tests and the log)."""
        now = time.time() if now is None else now
        started = time.monotonic()
        fleet = Fleet.load()
        try:
            status = self.cluster.status()
            readings = self.readings()
        except ServeClusterError as exc:
            self.note_error(str(exc))
            self.heartbeat(now, time.monotonic() - started, error=str(exc))
            return {}
        topology = Topology.of(status, fleet)
        samples = self.deltas.step(readings, now, topology.live)
        published = self.store_and_publish(fleet, topology, samples, now)
        self.tail_logs(fleet, topology)
        self.first_tick = False
        if self.last_error and self.sampled:
            logger.info("monitor sampling again")
        self.last_error, self.sampled = "", True
        self.heartbeat(now, time.monotonic() - started)
        return published

    def store_and_publish(
        self, fleet: Fleet, topology: Topology, samples: dict[tuple[str, int], VersionSample], now: float
    ) -> dict[int, dict[str, Any]]:
        at = datetime.fromtimestamp(int(now) - RAW_STEP_S, tz=UTC)
        rows, messages = [], {}
        for name, deployment in fleet.deployments.items():
            by_version = {version: sample for (model, version), sample in samples.items() if model == name}
            wanted = fleet.expected.get(name, set()) | {
                version for version, sample in by_version.items() if is_active(sample)
            }
            states = dict(topology.states.get(name, {}))
            versions = []
            for version in sorted(wanted):
                sample = by_version.get(version) or VersionSample(model=name, version=version)
                sample.replicas_total, sample.replica_states = len(topology.servers.get(name, ())), states
                row = MetricSample.of(sample, deployment=deployment, at=at, step_s=RAW_STEP_S, ongoing=sample.ongoing)
                rows.append(row)
                versions.append(self.live_point(row))
            rollout = fleet.rollouts.get(name)
            messages[deployment.pk] = {
                "deployment": deployment.pk,
                "at": at.isoformat(),
                "step_s": RAW_STEP_S,
                "stable_version": deployment.stable_version.version if deployment.stable_version else None,
                "rollout": rollout_summary(rollout) if rollout is not None else None,
                "replica_states": states,
                "versions": versions,
            }
        MetricSample.objects.bulk_create(rows)
        self.previous_rows = {(row.deployment_id, row.version): row for row in rows}
        send_many([(group_name("deployment", pk, "metrics"), "metrics", message) for pk, message in messages.items()])
        return messages

    def live_point(self, row: MetricSample) -> dict[str, Any]:
        """This second's counts, with rate, error rate and percentiles over the last two seconds.

        Ray exports a replica's metrics once a second on its own clock, so a one-second window holds zero or two
        exports now and then (and a flush can be exported half-way): charted raw, the rate dips to 0 and doubles.
        Two seconds, as Prometheus' rule of thumb of a rate window twice the scrape interval, smooth that out;
        the stored samples stay raw, so sums over any range are exact."""
        previous = self.previous_rows.get((row.deployment_id, row.version))
        window = Bin(version=row.version, at=row.at)
        if previous is not None and row.at - previous.at == timedelta(seconds=RAW_STEP_S):
            window.add(previous)
        window.add(row)
        shown = point(window, window.seconds)
        counts = {name: getattr(row, name) for name in ("requests", "errors", "client_errors")}
        return shown | counts | {"at": row.at.isoformat(), "window_s": window.seconds}

    def tail_logs(self, fleet: Fleet, topology: Topology) -> None:
        by_deployment: dict[int, list[dict[str, Any]]] = defaultdict(list)
        seen = set()
        for replica in topology.logs:
            seen.add(replica.filename)
            cursor = self.log_cursors.get(replica.filename)
            backlog = 0 if self.first_tick else 100  # on a restart the kept lines already hold the older ones
            try:
                lines, self.log_cursors[replica.filename] = self.cluster.log_read(
                    replica.node_ip, replica.filename, cursor, backlog=backlog
                )
            except ServeClusterError as exc:
                logger.debug("cannot read %s: %s", replica.filename, exc)
                continue
            for line in lines:
                record = logs.parse_line(line, replica=replica.replica, version=replica.version)
                if record is None:
                    continue
                model = replica.model or record.get("model")
                deployment = fleet.deployments.get(model) if model else None
                if deployment is None:
                    continue
                record["model"] = model
                by_deployment[deployment.pk].append(record)
        for filename in set(self.log_cursors) - seen:
            del self.log_cursors[filename]  # the replica is gone
        logs.keep(by_deployment)
        send_many(
            [(group_name("deployment", pk, "logs"), "logs", {"lines": lines}) for pk, lines in by_deployment.items()]
        )

    # --- health --------------------------------------------------------------------------------------------------
    def note_error(self, message: str) -> None:
        """Once per distinct problem; before the first good pass it is "waiting" (make up starts Ray alongside)."""
        if message != self.last_error:
            if self.sampled:
                logger.warning("monitor cannot sample: %s", message)
            else:
                logger.info("monitor waiting for the cluster: %s", message)
        self.last_error = message

    def heartbeat(self, now: float, duration_s: float, error: str = "") -> None:
        value = {"at": now, "duration_s": round(duration_s, 4), "error": error, "monitor": self.identity}
        redis_client().set(HEARTBEAT_KEY, json.dumps(value), ex=3600)

    # --- the loop ------------------------------------------------------------------------------------------------
    def lead(self) -> bool:
        """Take or keep the lease; False while another monitor holds it."""
        client = redis_client()
        if client.set(LEADER_KEY, self.identity, nx=True, ex=LEASE_S):
            return True
        holder = client.get(LEADER_KEY)
        if holder is not None and as_text(holder) == self.identity:
            client.expire(LEADER_KEY, LEASE_S)
            return True
        return False

    def release(self) -> None:
        client = redis_client()
        holder = client.get(LEADER_KEY)
        if holder is not None and as_text(holder) == self.identity:
            client.delete(LEADER_KEY)

    def run(self, *, stop_after_s: float | None = None) -> None:
        """A pass at every whole second: each raw sample is one second (RAW_STEP_S) of traffic."""
        deadline = time.monotonic() + stop_after_s if stop_after_s else None
        waiting_logged = False
        try:
            while deadline is None or time.monotonic() < deadline:
                # Whole intervals of wall-clock time: one sample per second, stamped with its second.
                time.sleep(RAW_STEP_S - (time.time() % RAW_STEP_S))
                close_old_connections()
                try:
                    if not self.lead():
                        if not waiting_logged:
                            holder = redis_client().get(LEADER_KEY)
                            logger.info("another monitor (%s) is running; waiting", as_text(holder) if holder else "?")
                            waiting_logged = True
                        self.first_tick = True  # counters restart from a baseline when this one takes over
                        self.deltas = CounterDeltas()
                        continue
                    waiting_logged = False
                    self.tick()
                except (DatabaseError, redis.RedisError) as exc:  # Postgres or Redis away: say so once, retry
                    self.note_error(f"{type(exc).__name__}: {exc}".strip())
                except Exception:  # one bad pass must not end monitoring; the next second tries again
                    logger.exception("monitor pass failed")
        finally:
            self.release()


def as_text(reply: bytes | str) -> str:
    """A Redis reply as text: redis-py types replies as bytes or str (decode_responses); this client gets bytes."""
    return reply.decode() if isinstance(reply, bytes) else reply


def is_active(sample: VersionSample) -> bool:
    """Worth a row though not stable or in a rollout (a version kept warm, pinned requests). Not "loading": a
    dropped version's readiness reads 0 as well."""
    return bool(
        sample.requests or sample.replicas_ready or sample.replicas_failed or sample.shadow_requests or sample.ongoing
    )


def heartbeat() -> dict[str, Any] | None:
    raw = redis_client().get(HEARTBEAT_KEY)
    return json.loads(raw) if raw else None


def lag_seconds(now: datetime | None = None) -> float | None:
    """Seconds since the monitor's last pass, None when no monitor ever ran."""
    beat = heartbeat()
    if beat is None:
        return None
    now = now or datetime.now(tz=UTC)
    return max(0.0, (now - datetime.fromtimestamp(beat["at"], tz=UTC)) / timedelta(seconds=1))
