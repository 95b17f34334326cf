"""Issue 10: canary analysis that outsiders cannot poison. Anyone who can reach the inference port can pin a
version with X-Raylane-Version and send bodies the server refuses; neither may fail (or pass) a candidate's
analysis, which reads only the weighted split's answers. Driven through the production path: the twin's exported
metrics, the monitor's samples in Postgres, the observer and the engine."""

import time

import pytest

from controlplane.rollouts.models import Deployment, Rollout
from controlplane.rollouts.services import rollout_tick
from tests.integration.rollouts.conftest import start_canary

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(canary_world):
    analysis = {"interval_s": 1, "min_requests": 10, "max_error_rate": 0.05, "max_p99_ms": 500}
    return canary_world(first_weight=20, analysis=analysis)


def flood_and_tick(rollout_id, twin, monitor, *, healthy: bool, limit: int = 20) -> Rollout:
    monitor.tick()  # the baseline
    for _ in range(limit):
        rollout = Rollout.objects.get(pk=rollout_id)
        if rollout.phase in ("succeeded", "failed"):
            return rollout
        candidate = rollout.to_number
        # The weighted split: what real clients get from the candidate and from the stable version.
        twin.record_requests("iris", candidate, code=200 if healthy else 500, count=40, latency_ms=5)
        twin.record_requests("iris", rollout.from_number, count=100, latency_ms=5)
        # The flood: pinned requests the candidate fails on, slowly, and malformed bodies refused with 400 and 413
        # (slow to read: big bodies), both pinned and through the split.
        twin.record_requests("iris", candidate, code=500, count=2000, latency_ms=9000, routed="pinned")
        twin.record_requests("iris", candidate, code=400, count=2000, latency_ms=9000, routed="pinned")
        twin.record_requests("iris", candidate, code=400, count=2000, latency_ms=9000, routed="split")
        twin.record_requests("iris", candidate, code=413, count=500, latency_ms=9000, routed="split")
        time.sleep(1.05)  # analyses run once per interval_s of wall-clock time (as in test_rollout_api)
        monitor.tick()
        rollout_tick(rollout_id=rollout_id)
    raise AssertionError(f"the rollout did not finish: {Rollout.objects.get(pk=rollout_id).phase}")


def test_pinned_request_flood_with_malformed_bodies_does_not_roll_back_a_healthy_canary(
    world, twin, monitor, committed
):
    rollout_id = start_canary(world, committed)
    rollout = committed(flood_and_tick, rollout_id, twin, monitor, healthy=True)
    assert rollout.phase == "succeeded", [e.message for e in rollout.events.all()]
    assert Deployment.objects.get().stable_version.version == 2
    analyses = [e for e in rollout.events.all() if e.kind == "analysis"]
    assert analyses and all(e.data["candidate_errors"] == 0 for e in analyses), [e.data for e in analyses]


def test_the_flood_does_not_hide_a_candidate_that_fails_the_split(world, twin, monitor, committed):
    rollout_id = start_canary(world, committed)
    rollout = committed(flood_and_tick, rollout_id, twin, monitor, healthy=False)
    assert rollout.phase == "failed"
    assert Deployment.objects.get().stable_version.version == 1
