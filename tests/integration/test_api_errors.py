"""Bad requests get JSON 4xx answers that name the problem; never HTML, never 500."""

import pytest

pytestmark = pytest.mark.django_db


def test_unknown_api_route_is_json_404(people, client_for):
    response = client_for(people["viewer"]).get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "/api/v1/nothing-here/" in response.json()["detail"]


def test_wrong_method_is_json_405(people, client_for):
    response = client_for(people["viewer"]).put("/api/v1/audit/", {}, format="json")
    assert response.status_code == 405
    assert response.json()["detail"] == 'Method "PUT" not allowed.'


def test_validation_errors_name_their_fields(people, client_for):
    client = client_for(people["deployer"])
    response = client.post("/api/v1/models/", {"name": "Not A Slug!", "team": "nope", "tags": "x"}, format="json")
    assert response.status_code == 400
    assert {"name", "team", "tags"} <= set(response.json())
    duplicate = client.post("/api/v1/models/", {"name": "iris", "team": "ml"}, format="json")
    assert duplicate.status_code == 201
    again = client.post("/api/v1/models/", {"name": "iris", "team": "ml"}, format="json")
    assert again.status_code == 400 and again.json()["name"] == ["A model has this name."]


def test_json_with_nul_characters_is_refused_not_crashed(people, client_for):
    client = client_for(people["deployer"])
    client.post("/api/v1/models/", {"name": "iris", "team": "ml"}, format="json")
    response = client.post("/api/v1/models/", {"name": "x", "team": "ml", "description": "a\x00b"}, format="json")
    assert response.status_code == 400 and "description" in response.json()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"team": "ml", "name": "p", "strategy": "canary", "steps": []}, "steps"),
        ({"team": "ml", "name": "p", "steps": [{"weight": 50, "pause_s": 1}, {"weight": 20, "pause_s": 1}]}, "steps"),
        ({"team": "ml", "name": "p", "steps": [{"weight": 101, "pause_s": 1}]}, "steps"),
        ({"team": "ml", "name": "p", "strategy": "shadow", "steps": [{"weight": 5, "pause_s": 1}]}, "steps"),
        ({"team": "ml", "name": "p", "strategy": "sideways"}, "strategy"),
        (
            {"team": "ml", "name": "p", "steps": [{"weight": 5, "pause_s": 1}], "analysis": {"max_error_rate": 2}},
            "analysis",
        ),
    ],
)
def test_bad_policies_name_the_field(people, client_for, payload, field):
    response = client_for(people["deployer"]).post("/api/v1/policies/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()


def test_deployment_refuses_versions_that_are_not_deployable(people, client_for):
    client = client_for(people["deployer"])
    client.post("/api/v1/models/", {"name": "iris", "team": "ml"}, format="json")
    response = client.post("/api/v1/deployments/", {"model": "iris", "stable_version": 3}, format="json")
    assert response.status_code == 400
    assert response.json()["stable_version"] == ["Model 'iris' has no version 3."]
    bad_scaling = {"model": "iris", "autoscaling": {"min_replicas": 5, "max_replicas": 2}}
    response = client.post("/api/v1/deployments/", bad_scaling, format="json")
    assert response.status_code == 400 and "autoscaling" in response.json()


def test_healthz(db, client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_nul_characters_in_references_are_a_400(people, client_for):
    client = client_for(people["deployer"])
    response = client.post("/api/v1/policies/", {"team": "m\x00l", "name": "p", "strategy": "direct"}, format="json")
    assert response.status_code == 400 and "team" in response.json()
    response = client.post("/api/v1/deployments/", {"model": "ir\x00is"}, format="json")
    assert response.status_code == 400 and "model" in response.json()


def test_simple_policy_mode_expands_to_steps(people, client_for):
    client = client_for(people["deployer"])
    payload = {"team": "ml", "name": "simple", "step_weight": 20, "max_weight": 60, "interval_s": 30}
    response = client.post("/api/v1/policies/", payload, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["steps"] == [
        {"weight": 20, "pause_s": 30},
        {"weight": 40, "pause_s": 30},
        {"weight": 60, "pause_s": 30},
        {"weight": 100, "pause_s": 0},
    ]
    both = {**payload, "name": "both", "steps": [{"weight": 10, "pause_s": 1}]}
    assert "step_weight" in client.post("/api/v1/policies/", both, format="json").json()
    too_high = {"team": "ml", "name": "high", "step_weight": 50, "max_weight": 20}
    assert "max_weight" in client.post("/api/v1/policies/", too_high, format="json").json()
