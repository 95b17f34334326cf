"""Rollouts through the API against the in-memory ServeCluster twin, ticked by hand (the real worker and Ray are
covered by tests/integration/ray_rollouts)."""

import pytest

from controlplane.accounts.models import AuditEntry
from controlplane.rollouts.models import Deployment, Rollout, RolloutEvent, RolloutPolicy
from controlplane.rollouts.services import rollout_tick
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(people, twin, django_capture_on_commit_callbacks):
    model = factories.make_model(people["team"], "iris")
    for number in (1, 2, 3):
        factories.make_version(model, number, status="valid" if number != 3 else "needs_trust")
    canary = RolloutPolicy.objects.create(
        team=people["team"],
        name="canary",
        strategy="canary",
        steps=[{"weight": 10, "pause_s": 0}, {"weight": 50, "pause_s": 0}, {"weight": 100, "pause_s": 0}],
        analysis={"interval_s": 1, "min_requests": 10, "max_error_rate": 0.05},
    )
    with django_capture_on_commit_callbacks(execute=True):
        deployment = Deployment.objects.create(
            team=people["team"], model=model, stable_version=model.versions.get(version=1)
        )
    return {"deployment": deployment, "canary": canary, "client": factories.client_for(people["deployer"])}


def start(world, version=2, policy=None):
    return world["client"].post(
        f"/api/v1/deployments/{world['deployment'].pk}/rollouts/",
        {"version": version, "policy": (policy or world["canary"]).pk},
        format="json",
    )


def tick_until(rollout_id, twin, monitor, *, phase, healthy=True, limit=30):
    """Traffic on the twin, sampled by the monitor, analysed by the engine: the production path, by hand."""
    import time

    monitor.tick()  # the baseline
    for _ in range(limit):
        rollout = Rollout.objects.get(pk=rollout_id)
        if rollout.phase == phase:
            return rollout
        twin.record_requests("iris", rollout.to_number, code=200 if healthy else 500, count=50)
        twin.record_requests("iris", rollout.from_number, count=100)
        time.sleep(1.05)  # analyses run once per interval_s of wall-clock time
        monitor.tick()
        rollout_tick(rollout_id=rollout_id)
    raise AssertionError(f"never reached {phase}: {Rollout.objects.get(pk=rollout_id).phase}")


def test_a_canary_walks_to_100_percent_and_becomes_stable(world, twin, monitor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = start(world)
    assert response.status_code == 201, response.json()
    rollout_id = response.json()["id"]
    assert response.json()["phase"] == "pending" and response.json()["candidate_weight"] == 0
    user_config = twin.status().applications["iris"].deployed_config["deployments"][0]["user_config"]
    assert user_config["weights"] == {"1": 100, "2": 0}, "the candidate loads at 0% first"

    with django_capture_on_commit_callbacks(execute=True):
        rollout = tick_until(rollout_id, twin, monitor, phase="succeeded")
    assert Deployment.objects.get().stable_version.version == 2
    kinds = list(RolloutEvent.objects.filter(rollout_id=rollout_id).values_list("kind", flat=True))
    assert kinds[:2] == ["started", "ready"] and "succeeded" in kinds
    assert [e["data"]["weight"] for e in response_events(world, rollout_id) if e["kind"] == "step"] == [10, 50, 100]
    user_config = twin.status().applications["iris"].deployed_config["deployments"][0]["user_config"]
    assert user_config["weights"] == {"2": 100}
    assert rollout.finished_at is not None


def response_events(world, rollout_id):
    return world["client"].get(f"/api/v1/rollouts/{rollout_id}/").json()["events"]


def test_a_failing_candidate_is_rolled_back_and_the_event_names_the_threshold(
    world, twin, monitor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        rollout_id = start(world).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        rollout = tick_until(rollout_id, twin, monitor, phase="failed", healthy=False)
    user_config = twin.status().applications["iris"].deployed_config["deployments"][0]["user_config"]
    assert user_config["weights"] == {"1": 100}, "traffic is back on the stable version"
    assert rollout.candidate_weight == 0
    assert Deployment.objects.get().stable_version.version == 1
    failed = [e for e in response_events(world, rollout_id) if e["kind"] == "analysis"][-1]
    assert "error rate 100.0% > max 5.0%" in failed["message"]
    assert failed["data"]["candidate_errors"] > 0


def test_commands_and_their_illegal_transitions(world, twin):
    client = world["client"]
    rollout_id = start(world).json()["id"]
    assert start(world).status_code == 409
    assert "already has an active rollout" in start(world).json()["detail"]
    assert client.post(f"/api/v1/rollouts/{rollout_id}/resume/").status_code == 409
    paused = client.post(f"/api/v1/rollouts/{rollout_id}/pause/")
    assert paused.status_code == 200 and paused.json()["phase"] == "paused"
    rollout_tick(rollout_id=rollout_id)
    assert Rollout.objects.get(pk=rollout_id).phase == "paused", "a paused rollout does not move by itself"
    assert client.post(f"/api/v1/rollouts/{rollout_id}/resume/").json()["phase"] == "pending"
    aborted = client.post(f"/api/v1/rollouts/{rollout_id}/abort/")
    assert aborted.status_code == 200 and aborted.json()["phase"] == "aborted"
    assert client.post(f"/api/v1/rollouts/{rollout_id}/abort/").status_code == 409
    assert AuditEntry.objects.filter(target_type="rollouts.rollout").count() >= 4


def test_promote_skips_the_remaining_steps_once_the_candidate_is_loaded(
    world, twin, monitor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        rollout_id = start(world).json()["id"]
    refused = world["client"].post(f"/api/v1/rollouts/{rollout_id}/pause/")
    assert refused.status_code == 200
    world["client"].post(f"/api/v1/rollouts/{rollout_id}/resume/")
    rollout_tick(rollout_id=rollout_id)
    assert Rollout.objects.get(pk=rollout_id).phase == "pending", "no sample shows the candidate loaded yet"
    monitor.tick()  # the twin loads at once: the monitor's sample shows the candidate ready on every replica
    rollout_tick(rollout_id=rollout_id)
    promoted = world["client"].post(f"/api/v1/rollouts/{rollout_id}/promote/")
    assert promoted.status_code == 200 and promoted.json()["phase"] == "succeeded"
    assert Deployment.objects.get().stable_version.version == 2


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"version": 9, "policy": True}, "version", "has no version 9"),
        ({"version": 3, "policy": True}, "version", "not deployable"),
        ({"version": 1, "policy": True}, "version", "already the stable version"),
        ({"version": 2}, "policy", "no default policy"),
        ({"version": 2, "policy": 999999}, "policy", "does not exist"),
    ],
)
def test_bad_starts_name_the_field(world, payload, field, message):
    if payload.get("policy") is True:
        payload = {**payload, "policy": world["canary"].pk}
    response = world["client"].post(f"/api/v1/deployments/{world['deployment'].pk}/rollouts/", payload, format="json")
    assert response.status_code == 400
    assert message in response.json()[field][0]


def test_rollback_to_any_earlier_version_in_one_call(world, twin, django_capture_on_commit_callbacks):
    client = world["client"]
    rollout_id = start(world).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/deployments/{world['deployment'].pk}/rollback/", {"version": 2}, format="json")
    assert response.status_code == 200 and response.json()["stable_version"] == 2
    assert Rollout.objects.get(pk=rollout_id).phase == "aborted"
    user_config = twin.status().applications["iris"].deployed_config["deployments"][0]["user_config"]
    assert user_config["weights"] == {"2": 100}


def test_viewers_and_other_teams_cannot_roll_out(world, people, client_for):
    url = f"/api/v1/deployments/{world['deployment'].pk}/rollouts/"
    payload = {"version": 2, "policy": world["canary"].pk}
    assert client_for(people["viewer"]).post(url, payload, format="json").status_code == 403
    assert client_for(people["foreign_deployer"]).post(url, payload, format="json").status_code == 404
    rollout_id = start(world).json()["id"]
    assert client_for(people["viewer"]).post(f"/api/v1/rollouts/{rollout_id}/abort/").status_code == 403
    assert client_for(people["foreign_deployer"]).get(f"/api/v1/rollouts/{rollout_id}/").status_code == 404
    assert client_for(people["viewer"]).get(f"/api/v1/rollouts/{rollout_id}/").status_code == 200


def test_stalled_rollouts_get_their_tick_chain_back(world, twin, monkeypatch):
    from django.utils import timezone

    from controlplane.rollouts import services

    scheduled = []
    monkeypatch.setattr(services.rollouts, "schedule_tick", lambda rollout_id, countdown: scheduled.append(rollout_id))
    rollout_id = start(world).json()["id"]
    assert services.rollouts_resume_stalled() == []  # just started: not stalled
    Rollout.objects.filter(pk=rollout_id).update(last_tick_at=timezone.now() - timezone.timedelta(minutes=5))
    assert services.rollouts_resume_stalled() == [rollout_id] and scheduled == [rollout_id]
    rollout_tick(rollout_id=rollout_id)
    assert services.rollouts_resume_stalled() == []
