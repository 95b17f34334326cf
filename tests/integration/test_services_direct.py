"""The services are the one door for writes: called directly (as a Celery task, a management command or the admin
would), they apply the same rules and leave the same audit entries and events as the API. These rules used to
live in serializers and views, where any caller other than the API walked around them."""

import pytest
from django.core.exceptions import ValidationError

from controlplane.accounts import services as accounts
from controlplane.accounts.choices import Role
from controlplane.accounts.models import AuditEntry, Membership
from controlplane.core.errors import ApplicationError, Conflict
from controlplane.registry import services as registry
from controlplane.rollouts import services as rollouts
from controlplane.rollouts.models import Deployment, RolloutEvent, RolloutPolicy
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def iris(people):
    model = factories.make_model(people["team"])
    factories.make_version(model, 1)
    factories.make_version(model, 2, status="invalid")
    factories.make_version(model, 3, trusted=True)
    return model


def version(model, number):
    return model.versions.get(version=number)


def test_deployment_create_refuses_what_the_api_refuses(people, iris, twin):
    deployer = people["deployer"]
    with pytest.raises(ApplicationError) as refused:
        rollouts.deployment_create(model=iris, user=deployer, stable_version=version(iris, 2))
    assert refused.value.field == "stable_version" and "not deployable" in refused.value.message
    foreign = RolloutPolicy.objects.create(team=people["other_team"], name="theirs", steps=[{"weight": 100}])
    with pytest.raises(ApplicationError) as refused:
        rollouts.deployment_create(model=iris, user=deployer, stable_version=version(iris, 1), default_policy=foreign)
    assert refused.value.field == "default_policy"
    with pytest.raises(ApplicationError) as refused:
        rollouts.deployment_create(model=iris, user=deployer, stable_version=version(iris, 3), pooled=True)
    assert refused.value.field == "pooled" and "trusted" in refused.value.message
    assert not Deployment.objects.exists()


def test_deployment_create_records_the_deploy_and_the_audit_entry(people, iris, twin):
    deployment = rollouts.deployment_create(model=iris, user=people["deployer"], stable_version=version(iris, 1))
    event = RolloutEvent.objects.get(deployment=deployment)
    assert (event.kind, event.actor_username) == ("deployed", "deployer")
    entry = AuditEntry.objects.get(target_type="rollouts.deployment", action="create")
    assert entry.changes["model"] == "iris" and entry.team_slug == "ml"
    with pytest.raises(ApplicationError) as refused:
        rollouts.deployment_create(model=iris, user=people["deployer"])
    assert refused.value.field == "model" and "already has a deployment" in refused.value.message


def test_policy_services_use_the_one_validator(people):
    with pytest.raises(ValidationError) as refused:
        rollouts.policy_create(team=people["team"], name="bad", user=people["deployer"], steps=[{"weight": 150}])
    assert "steps" in refused.value.message_dict
    policy = rollouts.policy_create(team=people["team"], name="simple", user=people["deployer"], step_weight=50)
    assert policy.steps == [{"weight": 50, "pause_s": 60}, {"weight": 100, "pause_s": 0}]
    with pytest.raises(ValidationError) as refused:
        rollouts.policy_update(policy=policy, changes={"progress_deadline_s": -5}, user=people["deployer"])
    assert "progress_deadline_s" in refused.value.message_dict
    with pytest.raises(ApplicationError) as refused:
        rollouts.policy_update(policy=policy, changes={"team": people["other_team"]}, user=people["deployer"])
    assert refused.value.field == "team"
    policy.refresh_from_db()
    assert policy.progress_deadline_s == 600 and policy.team == people["team"]
    assert AuditEntry.objects.filter(target_type="rollouts.rolloutpolicy").count() == 1  # only the create


def test_model_update_keeps_the_name_and_the_team(people, iris):
    with pytest.raises(ApplicationError) as refused:
        registry.model_update(model=iris, changes={"team": people["other_team"]}, user=people["admin"])
    assert refused.value.field == "team" and "move" in refused.value.message
    model = registry.model_update(model=iris, changes={"tags": ["b", "a", "b"]}, user=people["admin"])
    assert model.tags == ["a", "b"]
    entry = AuditEntry.objects.get(target_type="registry.model", action="update")
    assert entry.changes == {"tags": {"from": [], "to": ["a", "b"]}}


def test_a_team_keeps_an_admin_whoever_asks(people):
    team, admin = people["team"], people["admin"]
    only_admin = Membership.objects.get(team=team, user=admin)
    with pytest.raises(Conflict):
        accounts.membership_set_role(membership=only_admin, role=Role.VIEWER, user=people["site_admin"])
    with pytest.raises(Conflict):
        accounts.membership_remove(membership=only_admin, user=people["site_admin"])
    assert Membership.objects.get(team=team, user=admin).role == Role.ADMIN
    with pytest.raises(Conflict) as refused:
        accounts.membership_add(team=team, member=people["viewer"], role=Role.ADMIN, user=admin)
    assert refused.value.field == "user"


def test_team_create_makes_its_creator_the_admin(people):
    team = accounts.team_create(user=people["deployer"], slug="vision", name="Vision")
    assert Membership.objects.get(team=team, user=people["deployer"]).role == Role.ADMIN
    entry = AuditEntry.objects.get(target_type="accounts.team", action="create")
    assert entry.changes == {"slug": "vision", "name": "Vision"} and entry.actor_username == "deployer"
