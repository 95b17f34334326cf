"""What the rollout engine sees: per-version request, error and latency deltas and readiness, read from the
cumulative metrics the model server replicas export through Ray (until the monitor stores samples in Postgres).

Counters are cumulative per replica and restart from zero with it, so deltas are taken per replica and a value
lower than last time counts as a restart (the whole new value is the delta).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from serving.config import app_name

from .engine import Observation, VersionStats

REQUESTS = "ray_raylane_requests"
BUCKETS = "ray_raylane_request_latency_ms_bucket"
READY = "ray_raylane_version_ready"
SHADOW_REQUESTS = "ray_raylane_shadow_requests"
SHADOW_AGREEMENTS = "ray_raylane_shadow_agreements"


@dataclass(frozen=True)
class Sample:
    name: str
    replica: str
    version: int
    label: str  # status code for requests, `le` for buckets, "" otherwise
    value: float


def samples(text: str, model: str) -> list[Sample]:
    wanted = {REQUESTS, BUCKETS, READY, SHADOW_REQUESTS, SHADOW_AGREEMENTS}
    found = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name not in wanted or sample.labels.get("model") != model:
                continue
            replica = sample.labels.get("replica") or sample.labels.get("WorkerId", "")
            label = sample.labels.get("code") or sample.labels.get("le") or ""
            try:
                version = int(sample.labels.get("version", ""))
            except ValueError:
                continue
            found.append(Sample(sample.name, replica, version, label, sample.value))
    return found


def deltas(current: list[Sample], previous: dict[str, float]) -> tuple[dict[tuple, float], dict[str, float]]:
    """Per (metric, version, label) increase since `previous` (a snapshot keyed per replica), and the new snapshot."""
    totals: dict[tuple, float] = defaultdict(float)
    snapshot: dict[str, float] = {}
    for sample in current:
        if sample.name == READY:
            continue
        key = f"{sample.name}|{sample.replica}|{sample.version}|{sample.label}"
        before = previous.get(key, 0.0)
        totals[(sample.name, sample.version, sample.label)] += (
            sample.value - before if sample.value >= before else sample.value
        )
        snapshot[key] = sample.value
    return totals, snapshot


def p99(totals: dict[tuple, float], version: int) -> float | None:
    buckets = sorted(
        ((float(label), count) for (name, v, label), count in totals.items() if name == BUCKETS and v == version),
        key=lambda pair: pair[0],
    )
    if not buckets or buckets[-1][1] <= 0:
        return None
    target = 0.99 * buckets[-1][1]
    return next(bound for bound, cumulative in buckets if cumulative >= target)


def stats(totals: dict[tuple, float], version: int) -> VersionStats:
    by_code = {label: count for (name, v, label), count in totals.items() if name == REQUESTS and v == version}
    requests = int(sum(by_code.values()))
    errors = int(sum(count for code, count in by_code.items() if code.startswith("5")))
    return VersionStats(requests=requests, errors=errors, p99_ms=p99(totals, version))


def observe(
    *,
    metrics_text: str,
    model: str,
    stable: int,
    candidate: int,
    replica_ids: set[str],
    previous: dict[str, float],
    candidate_failed: str = "",
) -> tuple[Observation, dict[str, float]]:
    """The observation since `previous`, and the snapshot to pass next time. `replica_ids` are the model server
    replicas that must all report the candidate loaded before it may take traffic."""
    current = samples(metrics_text, model)
    totals, snapshot = deltas(current, previous)
    ready_replicas = {s.replica for s in current if s.name == READY and s.version == candidate and s.value >= 1}
    failed_replicas = {s.replica for s in current if s.name == READY and s.version == candidate and s.value < 0}
    ready = bool(replica_ids) and replica_ids <= ready_replicas
    if failed_replicas and not candidate_failed:
        candidate_failed = (
            f"v{candidate} failed to load on {len(failed_replicas)} replica(s); GET /v2/models/{model} names the reason"
        )
    observation = Observation(
        candidate_ready=ready,
        candidate_failed=candidate_failed,
        candidate=stats(totals, candidate),
        stable=stats(totals, stable),
        shadow_requests=int(totals.get((SHADOW_REQUESTS, candidate, ""), 0)),
        shadow_agreements=int(totals.get((SHADOW_AGREEMENTS, candidate, ""), 0)),
    )
    return observation, snapshot


def server_apps(model: str) -> list[str]:
    return [app_name(model, protocol) for protocol in ("v2", "v1")]
