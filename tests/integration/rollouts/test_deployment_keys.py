"""Issue 10: optional data-plane keys on a deployment's inference routes, and pins restricted to key holders.
Keys are managed through the API by the team's deployers, shown once, stored hashed, audited, and only the hashes
of keys not revoked reach the replicas (the twin's user_config)."""

import hashlib

import pytest

from controlplane.accounts.models import AuditEntry
from controlplane.rollouts.models import Deployment, DeploymentKey
from controlplane.rollouts.reconcile import reconcile
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def deployment(people, twin):
    model = factories.make_model(people["team"], "iris")
    factories.make_version(model, 1)
    deployment = Deployment.objects.create(
        team=people["team"], model=model, stable_version=model.versions.get(version=1)
    )
    reconcile()
    return deployment


def access(twin) -> dict:
    return twin.status().applications["iris"].deployed_config["deployments"][0]["user_config"]["access"]


def test_a_key_is_shown_once_stored_hashed_audited_and_reaches_the_replicas_until_revoked(
    deployment, people, twin, django_capture_on_commit_callbacks
):
    client = factories.client_for(people["deployer"])
    url = f"/api/v1/deployments/{deployment.pk}/keys/"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"name": "checkout service"}, format="json")
    assert response.status_code == 201, response.json()
    raw = response.json()["key"]
    assert raw.startswith("rk_") and len(raw) > 40
    digest = hashlib.sha256(raw.encode()).hexdigest()
    stored = DeploymentKey.objects.get()
    assert stored.key_hash == digest and raw not in str(stored.__dict__)
    assert access(twin)["key_hashes"] == [digest]
    entry = AuditEntry.objects.filter(target_type="rollouts.deploymentkey").get()
    assert entry.actor_username == "deployer" and raw not in str(entry.changes)

    listed = factories.client_for(people["viewer"]).get(url).json()
    assert [key["name"] for key in listed] == ["checkout service"] and "key" not in listed[0]
    assert listed[0]["prefix"] == raw[:10]

    with django_capture_on_commit_callbacks(execute=True):
        revoked = client.delete(f"{url}{stored.pk}/")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert access(twin)["key_hashes"] == []
    assert AuditEntry.objects.filter(target_type="rollouts.deploymentkey").count() == 2


def test_only_the_teams_deployers_manage_keys_and_other_teams_see_nothing(deployment, people):
    url = f"/api/v1/deployments/{deployment.pk}/keys/"
    assert factories.client_for(people["viewer"]).post(url, {"name": "x"}, format="json").status_code == 403
    foreign = factories.client_for(people["foreign_deployer"])
    assert foreign.get(url).status_code == 404
    assert foreign.post(url, {"name": "x"}, format="json").status_code == 404
    missing = factories.client_for(people["deployer"]).get("/api/v1/deployments/999999/keys/")
    assert missing.status_code == 404
    blank = factories.client_for(people["deployer"]).post(url, {"name": "  "}, format="json")
    assert blank.status_code == 400 and "name" in blank.json()


def test_pins_can_be_restricted_to_key_holders(deployment, people, twin, django_capture_on_commit_callbacks):
    client = factories.client_for(people["deployer"])
    assert access(twin)["pins"] == "open" and access(twin)["require_key"] is False
    with django_capture_on_commit_callbacks(execute=True):
        response = client.patch(
            f"/api/v1/deployments/{deployment.pk}/", {"pins": "keyed", "require_key": True}, format="json"
        )
    assert response.status_code == 200, response.json()
    assert access(twin)["pins"] == "keyed" and access(twin)["require_key"] is True
    bad = client.patch(f"/api/v1/deployments/{deployment.pk}/", {"pins": "sometimes"}, format="json")
    assert bad.status_code == 400 and "pins" in bad.json()
