"""A trusted (code-running) version never shares a pool replica with another team's models: the API refuses it in
pooled mode (naming the field "pooled"), and the desired state serves one that got there anyway (an admin trusted
a version a pool serves) by replicas of its own. Every version also carries its own download link, not a token."""

import pytest

from controlplane.rollouts.desired import fleet_spec
from controlplane.rollouts.models import Deployment, RolloutPolicy
from serving.config import FRONT_DOOR_APP, serve_config
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(people, twin):
    model = factories.make_model(people["team"], "iris")
    plain = factories.make_version(model, 1)
    trusted = factories.make_version(model, 2, trusted=True)
    policy = RolloutPolicy.objects.create(
        team=people["team"], name="canary", strategy="canary", steps=[{"weight": 50, "pause_s": None}]
    )
    return {
        "model": model,
        "plain": plain,
        "trusted": trusted,
        "policy": policy,
        "client": factories.client_for(people["deployer"]),
    }


def apps(config: dict) -> dict[str, dict]:
    return {app["name"]: app for app in config["applications"]}


def test_creating_a_pooled_deployment_of_a_trusted_version_is_refused(world):
    response = world["client"].post(
        "/api/v1/deployments/", {"model": "iris", "stable_version": 2, "pooled": True}, format="json"
    )
    assert response.status_code == 400, response.json()
    assert "trusted" in response.json()["pooled"][0]
    assert not Deployment.objects.exists()


def test_pooling_a_deployment_that_serves_a_trusted_version_is_refused(world):
    deployment = Deployment.objects.create(
        team=world["model"].team, model=world["model"], stable_version=world["trusted"]
    )
    response = world["client"].patch(f"/api/v1/deployments/{deployment.pk}/", {"pooled": True}, format="json")
    assert response.status_code == 400, response.json()
    assert "pooled" in response.json()
    # Replacing the trusted stable version with a plain one in the same request is fine.
    response = world["client"].patch(
        f"/api/v1/deployments/{deployment.pk}/", {"pooled": True, "stable_version": 1}, format="json"
    )
    assert response.status_code == 200, response.json()


def test_rolling_a_pooled_deployment_out_or_back_to_a_trusted_version_is_refused(world):
    deployment = Deployment.objects.create(
        team=world["model"].team, model=world["model"], stable_version=world["plain"], pooled=True
    )
    response = world["client"].post(
        f"/api/v1/deployments/{deployment.pk}/rollouts/", {"version": 2, "policy": world["policy"].pk}, format="json"
    )
    assert response.status_code == 400, response.json()
    assert "pooled" in response.json()
    response = world["client"].post(f"/api/v1/deployments/{deployment.pk}/rollback/", {"version": 2}, format="json")
    assert response.status_code == 400, response.json()
    assert "pooled" in response.json()


def test_a_pooled_deployment_whose_version_became_trusted_gets_replicas_of_its_own(world, people):
    other_model = factories.make_model(people["other_team"], "fraud")
    Deployment.objects.create(
        team=people["other_team"], model=other_model, stable_version=factories.make_version(other_model, 1), pooled=True
    )
    deployment = Deployment.objects.create(
        team=world["model"].team, model=world["model"], stable_version=world["plain"], pooled=True
    )
    pooled = apps(serve_config(fleet_spec()))
    assert set(pooled[FRONT_DOOR_APP]["deployments"][0]["user_config"]["models"]) == {"fraud", "iris"}

    world["plain"].trusted = True  # what an admin's trust decision does to a version a pool serves
    world["plain"].save(update_fields=["trusted"])
    separated = apps(serve_config(fleet_spec()))
    assert set(separated[FRONT_DOOR_APP]["deployments"][0]["user_config"]["models"]) == {"fraud"}
    assert {"iris", "iris.v1"} <= set(separated)
    assert separated["iris"]["deployments"][0]["user_config"]["versions"][0]["trusted"] is True
    deployment.refresh_from_db()
    assert deployment.pooled, "the deployment's setting is left as it was; only where it runs changes"


def test_every_version_carries_its_own_signed_link_and_no_application_a_token(world, settings):
    settings.RAYLANE_INTERNAL_URL = "http://cp.internal:8000"
    Deployment.objects.create(team=world["model"].team, model=world["model"], stable_version=world["plain"])
    config = serve_config(fleet_spec())
    entry = apps(config)["iris"]["deployments"][0]["user_config"]["versions"][0]
    assert entry["artifact_url"].startswith(f"http://cp.internal:8000/internal/artifacts/{world['plain'].sha256}?")
    assert "&sig=" in entry["artifact_url"]
    for app in config["applications"]:
        assert set(app["args"]["artifacts"]) == {"shared_path", "cache_dir", "cache_bytes"}
    assert settings.SECRET_KEY not in str(config) and settings.RAYLANE_ARTIFACT_SIGNING_KEY not in str(config)
