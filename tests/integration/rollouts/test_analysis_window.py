"""The analysis window (issue 14): what an analysis reads from the monitor's samples, through the production path
(the twin's exported metrics, the monitor's samples in Postgres, the observer, the engine, the services' save).

The measured defect: every analysis consumed its window, an inconclusive one too, so at a small canary weight each
window held too few of the candidate's requests and the evidence was thrown away again and again until the rollout
paused ("inconclusive: ... requests seen") while traffic flowed; and the first analysis of a step ran at the next
tick over samples from before the traffic moved, which hold none of the candidate's requests at its first step.
"""

import time

import pytest

from controlplane.rollouts.models import Rollout
from controlplane.rollouts.services import rollout_tick
from tests.integration.rollouts.conftest import start_canary

pytestmark = pytest.mark.django_db

ANALYSIS = {"interval_s": 1, "min_requests": 20, "max_error_rate": 0.05, "max_p99_ratio": 3}


@pytest.fixture
def world(canary_world):
    return canary_world(first_weight=10, analysis=ANALYSIS)


def analyses(rollout_id: int) -> list:
    return list(Rollout.objects.get(pk=rollout_id).events.filter(kind="analysis").order_by("id"))


def test_a_quiet_canary_accumulates_its_requests_instead_of_pausing(world, twin, monitor, committed):
    """8 candidate requests a second at 10%, 20 needed: the old window (consumed by each inconclusive analysis) saw
    8 every time and paused the rollout; the window now stays open until 20 are in, then judges them all once."""
    rollout_id = start_canary(world, committed)
    monitor.tick()  # the counters' baseline
    recorded = 0
    for _ in range(12):
        rollout = Rollout.objects.get(pk=rollout_id)
        if not rollout.active:
            break
        if rollout.candidate_weight:
            twin.record_requests("iris", 2, count=8, latency_ms=4)
            recorded += 8
        twin.record_requests("iris", 1, count=72, latency_ms=4)
        time.sleep(1.05)  # analyses run once per interval_s of wall-clock time
        monitor.tick()
        committed(rollout_tick, rollout_id=rollout_id)
    rollout = Rollout.objects.get(pk=rollout_id)
    events = analyses(rollout_id)
    assert rollout.phase == "succeeded", [(e.data["verdict"], e.message) for e in events]
    verdicts = [event.data["verdict"] for event in events]
    assert "inconclusive" in verdicts and "failed" not in verdicts
    first_pass = events[verdicts.index("passed")]
    assert first_pass.data["candidate_requests"] >= 20, "the inconclusive windows' requests were judged, not lost"
    inconclusive = [event for event in events[: verdicts.index("passed")]]
    assert all(0 < event.data["candidate_requests"] < 20 for event in inconclusive), [e.message for e in inconclusive]
    judged = sum(event.data["candidate_requests"] for event in events if event.data["verdict"] != "inconclusive")
    assert judged <= recorded, "a judged window is never judged again"


def test_the_first_analysis_of_a_step_reads_requests_at_the_new_weight(world, twin, monitor, committed):
    """The samples taken while the candidate served 0% are behind the window when it starts serving, and the first
    analysis waits a whole interval of requests at the new weight: it never judges (or says "0 requests" of) a
    candidate by the time before traffic reached it."""
    rollout_id = start_canary(world, committed)
    monitor.tick()
    pending_stable = 0
    for tick in range(6):  # the pending phase: stable traffic only, sampled, then the candidate is ready and stepped
        twin.record_requests("iris", 1, count=100, latency_ms=4)
        pending_stable += 100
        time.sleep(1.05)
        monitor.tick()
        if tick >= 2:  # two seconds of samples before the rollout's first tick
            committed(rollout_tick, rollout_id=rollout_id)
        if Rollout.objects.get(pk=rollout_id).candidate_weight == 10:
            break
    assert Rollout.objects.get(pk=rollout_id).candidate_weight == 10
    assert analyses(rollout_id) == [], "no analysis at the moment traffic moves"
    for _ in range(3):
        twin.record_requests("iris", 2, count=30, latency_ms=4)
        twin.record_requests("iris", 1, count=270, latency_ms=4)
        time.sleep(1.05)
        monitor.tick()
        committed(rollout_tick, rollout_id=rollout_id)
        if analyses(rollout_id):
            break
    first = analyses(rollout_id)[0]
    assert first.data["verdict"] == "passed", first.message
    assert first.data["candidate_requests"] == 30, first.message
    assert first.data["stable_requests"] == 270, f"not the {pending_stable} of the pending phase: {first.message}"


def test_the_api_takes_the_judgment_settings_and_names_a_wrong_one(world):
    client = world["client"]
    body = {"team": "ml", "name": "judged", "strategy": "canary", "steps": [{"weight": 10, "pause_s": 5}]}
    created = client.post(
        "/api/v1/policies/", {**body, "analysis": {"max_p_value": 0.001, "min_latency_delta_ms": 1}}, format="json"
    )
    assert created.status_code == 201, created.json()
    assert created.json()["analysis"]["max_p_value"] == 0.001
    assert created.json()["analysis"]["min_latency_delta_ms"] == 1
    defaults = client.post("/api/v1/policies/", {**body, "name": "defaults", "analysis": {}}, format="json").json()
    assert (defaults["analysis"]["max_p_value"], defaults["analysis"]["min_latency_delta_ms"]) == (0.01, 5.0)
    refused = client.post("/api/v1/policies/", {**body, "name": "lax", "analysis": {"max_p_value": 0.9}}, format="json")
    assert refused.status_code == 400
    assert refused.json()["analysis"] == ["max_p_value must be from 0.0001 to 0.5, not 0.9"]
