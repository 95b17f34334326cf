"""One policy validator for the API, the admin and the engine's snapshot; a bad stored row breaks no read."""

import pytest
from django.test import Client

from controlplane.rollouts.models import Deployment, RolloutPolicy
from tests import factories

pytestmark = pytest.mark.django_db

BAD = {"steps": '[{"weight": 150, "pause_s": -5}]', "analysis": '{"max_error_rate": "lots"}'}


def admin_form(team, **fields):
    form = {
        "team": team.pk, "name": "bad", "description": "", "strategy": "canary",
        "steps": '[{"weight": 10, "pause_s": 60}]', "analysis": "{}", "on_failure": "rollback",
        "progress_deadline_s": 600, "shadow_percent": 100, "auto_promote_s": "", "keep_warm_s": 300,
    }  # fmt: skip
    return {**form, **fields}


@pytest.fixture
def admin_client(people) -> Client:
    client = Client()
    client.force_login(people["site_admin"])
    return client


def test_the_admin_refuses_a_bad_policy_naming_the_fields(admin_client, people):
    response = admin_client.post("/admin/rollouts/rolloutpolicy/add/", admin_form(people["team"], **BAD))
    assert response.status_code == 200, "the form again, with its errors"
    errors = response.context["adminform"].form.errors
    assert errors["steps"] == [
        "step 1: weight must be from 0 to 100, not 150",
        "step 1: pause_s must be from 0 to 604800, not -5 (null waits for a person to promote)",
    ]
    assert errors["analysis"] == ["max_error_rate must be a number from 0 to 1, not 'lots'"]
    assert not RolloutPolicy.objects.exists(), "nothing saved"
    ok = admin_client.post("/admin/rollouts/rolloutpolicy/add/", admin_form(people["team"]))
    assert ok.status_code == 302 and RolloutPolicy.objects.get().steps == [{"weight": 10, "pause_s": 60}]


def test_the_api_refuses_the_same_values_with_the_same_messages(people, client_for):
    payload = {
        "team": "ml", "name": "bad", "steps": [{"weight": 150, "pause_s": -5}],
        "analysis": {"max_error_rate": 1.5},
    }  # fmt: skip
    response = client_for(people["deployer"]).post("/api/v1/policies/", payload, format="json")
    assert response.status_code == 400
    assert response.json()["steps"][0] == "step 1: weight must be from 0 to 100, not 150"
    assert response.json()["analysis"] == ["max_error_rate must be from 0 to 1, not 1.5"]
    wrong_type = {**payload, "steps": [{"weight": "lots", "pause_s": 1}], "analysis": {}}
    assert "steps" in client_for(people["deployer"]).post("/api/v1/policies/", wrong_type, format="json").json()


def test_a_bad_row_written_around_the_validator_breaks_no_read_and_runs_no_rollout(people, client_for, twin):
    policy = RolloutPolicy.objects.create(team=people["team"], name="p", steps=[{"weight": 10, "pause_s": 5}])
    RolloutPolicy.objects.filter(pk=policy.pk).update(
        steps=[{"weight": 150, "pause_s": -5}], analysis={"max_error_rate": "lots"}
    )
    for user in ("viewer", "deployer"):
        listed = client_for(people[user]).get("/api/v1/policies/")
        assert listed.status_code == 200
        assert listed.json()["results"][0]["analysis"] == {"max_error_rate": "lots"}, "shown as stored, to correct"
    assert client_for(people["viewer"]).get(f"/api/v1/policies/{policy.pk}/").status_code == 200

    model = factories.make_model(people["team"], "iris")
    for number in (1, 2):
        factories.make_version(model, number)
    deployment = Deployment.objects.create(
        team=people["team"], model=model, stable_version=model.versions.get(version=1)
    )
    started = client_for(people["deployer"]).post(
        f"/api/v1/deployments/{deployment.pk}/rollouts/", {"version": 2, "policy": policy.pk}, format="json"
    )
    assert started.status_code == 400
    assert "policy 'p' cannot run (steps: step 1: weight must be from 0 to 100, not 150" in started.json()["policy"][0]

    fixed = client_for(people["deployer"]).patch(
        f"/api/v1/policies/{policy.pk}/", {"steps": [{"weight": 10, "pause_s": 5}], "analysis": {}}, format="json"
    )
    assert fixed.status_code == 200, fixed.json()
