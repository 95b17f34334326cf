"""A model's team is fixed after creation; moving a model is an admin operation that takes its deployment and the
policies only it uses along, in one transaction, with one audit entry."""

import pytest

from controlplane.accounts.choices import Role
from controlplane.accounts.models import AuditEntry, Membership
from controlplane.registry.models import Model
from controlplane.rollouts.models import Deployment, RolloutPolicy
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def served(people):
    """iris (ml) deployed with policy `only-iris`; spare (ml) deployed with `shared`, which iris... does not use."""
    ml = people["team"]
    iris, spare = factories.make_model(ml, "iris"), factories.make_model(ml, "spare")
    for model in (iris, spare):
        factories.make_version(model, 1)
    own = RolloutPolicy.objects.create(team=ml, name="only-iris", steps=[{"weight": 10, "pause_s": 5}])
    shared = RolloutPolicy.objects.create(team=ml, name="shared", steps=[{"weight": 10, "pause_s": 5}])
    iris_deployment = Deployment.objects.create(
        team=ml, model=iris, stable_version=iris.versions.get(version=1), default_policy=own
    )
    Deployment.objects.create(team=ml, model=spare, stable_version=spare.versions.get(version=1), default_policy=shared)
    return {"iris": iris, "deployment": iris_deployment, "own": own, "shared": shared}


@pytest.mark.parametrize("method", ["patch", "put"])
def test_changing_the_team_by_update_is_refused(method, people, served, client_for):
    client = client_for(people["site_admin"])
    response = getattr(client, method)("/api/v1/models/iris/", {"team": "other", "description": "x"}, format="json")
    assert response.status_code == 400
    assert "team cannot be changed" in response.json()["team"][0] and "/move/" in response.json()["team"][0]
    assert Model.objects.get(name="iris").team == people["team"]
    same_team = client.put("/api/v1/models/iris/", {"team": "ml", "description": "kept"}, format="json")
    assert same_team.status_code == 200, "repeating the current team is fine"


def test_a_policy_keeps_its_team_too(people, served, client_for):
    response = client_for(people["site_admin"]).patch(
        f"/api/v1/policies/{served['own'].pk}/", {"team": "other"}, format="json"
    )
    assert response.status_code == 400 and "team cannot be changed" in response.json()["team"][0]


def test_a_site_admin_moves_a_model_with_its_deployment_and_own_policies(people, served, client_for):
    response = client_for(people["site_admin"]).post("/api/v1/models/iris/move/", {"team": "other"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["team"] == "other"
    served["deployment"].refresh_from_db()
    served["own"].refresh_from_db()
    served["shared"].refresh_from_db()
    assert served["deployment"].team == people["other_team"]
    assert served["deployment"].default_policy == served["own"]
    assert served["own"].team == people["other_team"], "a policy only iris used moves with it"
    assert served["shared"].team == people["team"], "a policy other models use stays"
    entries = AuditEntry.objects.filter(target_type="registry.model", target_id=str(served["iris"].pk))
    assert entries.count() == 1
    assert entries.get().changes["team"] == {"from": "ml", "to": "other"}
    assert entries.get().changes["moved"]["policies"] == ["only-iris"]
    # the old team no longer sees it; the new one does
    assert client_for(people["deployer"]).get("/api/v1/models/iris/").status_code == 404
    assert (
        client_for(people["foreign_deployer"]).get(f"/api/v1/deployments/{served['deployment'].pk}/").status_code == 200
    )


def test_a_shared_policy_is_detached_rather_than_pointing_across_teams(people, served, client_for):
    served["deployment"].default_policy = served["shared"]
    served["deployment"].save()
    response = client_for(people["site_admin"]).post("/api/v1/models/iris/move/", {"team": "other"}, format="json")
    assert response.status_code == 200
    served["deployment"].refresh_from_db()
    assert served["deployment"].default_policy is None
    assert AuditEntry.objects.get(target_type="registry.model").changes["detached_policy"] == "shared"


def test_a_name_clash_in_the_new_team_moves_nothing(people, served, client_for):
    RolloutPolicy.objects.create(team=people["other_team"], name="only-iris", steps=[{"weight": 10, "pause_s": 5}])
    response = client_for(people["site_admin"]).post("/api/v1/models/iris/move/", {"team": "other"}, format="json")
    assert response.status_code == 409 and "only-iris" in response.json()["detail"]
    served["deployment"].refresh_from_db()
    assert Model.objects.get(name="iris").team == people["team"] and served["deployment"].team == people["team"]
    assert not AuditEntry.objects.filter(target_type="registry.model").exists()


def test_who_may_move(people, served, client_for):
    """Site admins, or admins of both teams; an admin of one team cannot push a model into another, nor pull one."""
    body = {"team": "other"}
    assert client_for(people["deployer"]).post("/api/v1/models/iris/move/", body, format="json").status_code == 403
    only_source = client_for(people["admin"]).post("/api/v1/models/iris/move/", body, format="json")
    assert only_source.status_code == 400 and "does not exist" in str(only_source.json()["team"])
    assert client_for(people["foreign_admin"]).post("/api/v1/models/iris/move/", body, format="json").status_code == 404
    Membership.objects.create(team=people["other_team"], user=people["admin"], role=Role.DEPLOYER)
    deployer_there = client_for(people["admin"]).post("/api/v1/models/iris/move/", body, format="json")
    assert deployer_there.status_code == 403, "an admin of the target team too"
    Membership.objects.filter(team=people["other_team"], user=people["admin"]).update(role=Role.ADMIN)
    moved = client_for(people["admin"]).post("/api/v1/models/iris/move/", body, format="json")
    assert moved.status_code == 200, moved.content
    same = client_for(people["admin"]).post("/api/v1/models/iris/move/", body, format="json")
    assert same.status_code == 400 and "already belongs" in same.json()["detail"]
