"""Rollouts end to end: API → Postgres → a real Celery worker → real Ray, under continuous traffic.

Each test sends a bounded background request loop through Ray Serve while the rollout runs and asserts that no
request failed except the candidate's own deliberate errors.
"""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from controlplane.rollouts.models import Deployment, Rollout
from tests import factories

from .conftest import LoadGenerator, answers, wait_until, zip_of

pytestmark = [pytest.mark.ray, pytest.mark.django_db(transaction=True)]

FLAKY_MODEL = b"""import random
import numpy as np

def predict(rows):
    if random.random() < 0.5:
        raise RuntimeError("deliberate failure")
    return np.zeros(len(rows), dtype=np.int64)
"""


@pytest.fixture
def setup(people, live_settings, model_files, tmp_path):
    """iris v1 (serving), v2 (a retrained classifier), v3 (fails half its requests, trusted by an admin)."""
    client = factories.client_for(people["deployer"])
    admin = factories.client_for(people["admin"])
    name = f"iris-{int(time.time() * 1000) % 10**8}"
    assert client.post("/api/v1/models/", {"name": name, "team": "ml"}, format="json").status_code == 201
    files = [
        ("v1.skops", model_files["skops"].read_bytes()),
        ("v2.skops", model_files["skops_v2"].read_bytes()),
        ("flaky.zip", zip_of({"model.py": FLAKY_MODEL})),
    ]
    for filename, data in files:
        response = client.post(
            f"/api/v1/models/{name}/versions/", {"artifact": SimpleUploadedFile(filename, data)}, format="multipart"
        )
        assert response.status_code == 201, response.json()
    assert admin.post(f"/api/v1/models/{name}/versions/3/trust/", {"trusted": True}).json()["deployable"]
    deployment = client.post("/api/v1/deployments/", {"model": name, "stable_version": 1}, format="json").json()
    url = f"{live_settings['base']}/v1/models/{name}:predict"
    wait_until(lambda: answers(url) == "1", timeout_s=180, what=f"{name} v1 serving")
    return {"client": client, "name": name, "deployment": deployment["id"], "url": url, "live": live_settings}


def policy(client, **fields) -> int:
    body = {"team": "ml", "name": f"p-{time.time_ns()}", **fields}
    response = client.post("/api/v1/policies/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def start(setup, version: int, policy_id: int) -> int:
    response = setup["client"].post(
        f"/api/v1/deployments/{setup['deployment']}/rollouts/", {"version": version, "policy": policy_id}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def finished(rollout_id: int, timeout_s: float = 120) -> Rollout:
    def done() -> Rollout | None:
        rollout = Rollout.objects.get(pk=rollout_id)
        return None if rollout.active else rollout

    return wait_until(done, timeout_s=timeout_s, what=f"rollout {rollout_id} to finish")


ANALYSIS = {"interval_s": 1, "min_requests": 5, "max_error_rate": 0.05}


def test_canary_under_traffic_promotes_with_no_failed_request(setup):
    canary = policy(
        setup["client"],
        strategy="canary",
        analysis=ANALYSIS,
        steps=[{"weight": 10, "pause_s": 2}, {"weight": 50, "pause_s": 2}, {"weight": 100, "pause_s": 0}],
    )
    with LoadGenerator(setup["url"]) as load:
        rollout = finished(start(setup, 2, canary))
        wait_until(lambda: answers(setup["url"]) == "2", timeout_s=10, what="v2 answering")
    assert rollout.phase == "succeeded", rollout.reason
    assert Deployment.objects.get(pk=setup["deployment"]).stable_version.version == 2
    steps = [e.data["weight"] for e in rollout.events.filter(kind="step")]
    assert steps == [10, 50, 100]
    assert load.failures == [] and load.served(1) > 0 and load.served(2) > 0


def test_a_candidate_that_fails_is_rolled_back_by_itself(setup):
    canary = policy(
        setup["client"],
        strategy="canary",
        analysis=ANALYSIS,
        steps=[{"weight": 20, "pause_s": 30}, {"weight": 100, "pause_s": 0}],
    )
    with LoadGenerator(setup["url"]) as load:
        rollout = finished(start(setup, 3, canary))
        time.sleep(2)  # traffic keeps flowing after the rollback
    assert rollout.phase == "failed"
    failed = rollout.events.filter(kind="analysis", data__verdict="failed").first()
    assert failed is not None and "error rate" in failed.message and "> max 5.0%" in failed.message
    assert failed.data["candidate_errors"] > 0
    assert all(failure == "500 v3" for failure in load.failures), set(load.failures)
    assert Deployment.objects.get(pk=setup["deployment"]).stable_version.version == 1
    assert answers(setup["url"]) == "1"


def test_blue_green_switches_atomically_and_rolls_back_in_one_call(setup):
    blue_green = policy(
        setup["client"],
        strategy="blue_green",
        analysis={**ANALYSIS, "min_shadow_agreement": 0.5},
        auto_promote_s=2,
        keep_warm_s=2,
    )
    with LoadGenerator(setup["url"]) as load:
        rollout = finished(start(setup, 2, blue_green))
        assert rollout.phase == "succeeded", rollout.reason
        assert {"shadowing", "switched", "succeeded"} <= set(rollout.events.values_list("kind", flat=True))
        wait_until(lambda: answers(setup["url"]) == "2", timeout_s=10, what="v2 answering")
        response = setup["client"].post(
            f"/api/v1/deployments/{setup['deployment']}/rollback/", {"version": 1}, format="json"
        )
        assert response.status_code == 200
        wait_until(lambda: answers(setup["url"]) == "1", timeout_s=30, what="v1 answering again")
    assert load.failures == []


def test_shadow_rollout_never_returns_the_candidates_answers_until_promoted(setup):
    shadow = policy(setup["client"], strategy="shadow", analysis={**ANALYSIS, "min_shadow_agreement": 0.5})
    with LoadGenerator(setup["url"]) as load:
        rollout_id = start(setup, 2, shadow)
        wait_until(
            lambda: Rollout.objects.get(pk=rollout_id).events.filter(kind="analysis", data__verdict="passed").exists(),
            timeout_s=60,
            what="a passing analysis of mirrored traffic",
        )
        mirrored_only = load.served(2)
        promoted = setup["client"].post(f"/api/v1/rollouts/{rollout_id}/promote/")  # no auto-promote: a person does
        assert promoted.status_code == 200, promoted.json()
        rollout = finished(rollout_id)
        wait_until(lambda: answers(setup["url"]) == "2", timeout_s=10, what="v2 answering")
    assert mirrored_only == 0, "while shadowing, only the stable version answers"
    assert rollout.phase == "succeeded"
    agreement = rollout.events.filter(kind="analysis").last().data.get("shadow_agreement")
    assert agreement is not None and agreement >= 0.5
    assert load.failures == []


def test_a_worker_killed_mid_rollout_is_harmless(setup):
    worker = setup["live"]["worker"]
    canary = policy(
        setup["client"],
        strategy="canary",
        analysis=ANALYSIS,
        steps=[{"weight": 10, "pause_s": 3}, {"weight": 50, "pause_s": 3}, {"weight": 100, "pause_s": 0}],
    )
    with LoadGenerator(setup["url"]) as load:
        rollout_id = start(setup, 2, canary)
        wait_until(lambda: Rollout.objects.get(pk=rollout_id).candidate_weight == 10, timeout_s=60, what="step 1")
        worker.kill()
        weight_when_killed = Rollout.objects.get(pk=rollout_id).candidate_weight
        time.sleep(3)
        assert Rollout.objects.get(pk=rollout_id).candidate_weight == weight_when_killed, "nothing advances it"
        worker.start()
        rollout = finished(rollout_id, timeout_s=120)
    assert rollout.phase == "succeeded", rollout.reason + worker.log()
    assert [e.data["weight"] for e in rollout.events.filter(kind="step")] == [10, 50, 100]
    assert load.failures == []
