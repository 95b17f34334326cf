"""Per-team quotas on what deployments reserve on the cluster (replicas, CPUs, GPUs, custom resources), enforced
when a deployment is created, rescaled or given a rollout candidate; Ray's `node:` resources refused for all.

Reservations follow serving.config: a shared-mode deployment runs max_replicas replicas in each of its two protocol
applications (v2, v1); a dedicated one (GPUs) runs routers there and max_replicas replicas per version held."""

import pytest

from controlplane.accounts.models import AuditEntry, TeamQuota
from controlplane.rollouts.models import Deployment, RolloutPolicy
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def ml(people, twin):
    """iris deployed at the defaults (1 replica × 0.25 CPU in each of 2 applications: 0.5 CPU), spare not deployed."""
    team = people["team"]
    iris, spare = factories.make_model(team, "iris"), factories.make_model(team, "spare")
    for model in (iris, spare):
        for number in (1, 2):
            factories.make_version(model, number)
    deployment = Deployment.objects.create(team=team, model=iris, stable_version=iris.versions.get(version=1))
    return {"team": team, "iris": deployment}


def quota(team, **limits) -> TeamQuota:
    return TeamQuota.objects.create(team=team, **limits)


def create_spare(client, **options):
    return client.post("/api/v1/deployments/", {"model": "spare", "stable_version": 1, **options}, format="json")


def test_cpus_over_quota_name_the_field_and_the_numbers(people, ml, client_for):
    quota(ml["team"], max_cpus=2)
    client = client_for(people["deployer"])
    response = create_spare(client, autoscaling={"max_replicas": 4})
    assert response.status_code == 400, response.content
    message = response.json()["autoscaling.max_replicas"][0]
    assert message == (
        "autoscaling.max_replicas: team ml would use 2.5 CPUs; its quota is 2 (0.5 taken by its other deployments)"
    )
    assert not Deployment.objects.filter(model__name="spare").exists()
    assert create_spare(client, autoscaling={"max_replicas": 3}).status_code == 201  # 0.5 + 1.5 = 2


def test_changing_resources_is_checked_and_blames_resources(people, ml, client_for):
    quota(ml["team"], max_cpus=1)
    client = client_for(people["deployer"])
    response = client.patch(f"/api/v1/deployments/{ml['iris'].pk}/", {"resources": {"num_cpus": 1}}, format="json")
    assert response.status_code == 400
    assert response.json()["resources.num_cpus"][0].startswith("resources.num_cpus: team ml would use 2 CPUs")
    ml["iris"].refresh_from_db()
    assert ml["iris"].resources == {}


def test_replicas_quota(people, ml, client_for):
    quota(ml["team"], max_replicas=3)
    response = create_spare(client_for(people["deployer"]), autoscaling={"min_replicas": 1, "max_replicas": 2})
    assert response.status_code == 400
    assert "team ml would use 6 replicas; its quota is 3" in response.json()["autoscaling.max_replicas"][0]


def test_gpus_count_every_version_a_dedicated_deployment_holds(people, ml, client_for):
    quota(ml["team"], max_gpus=2)
    client = client_for(people["deployer"])
    created = create_spare(client, resources={"num_gpus": 1}, autoscaling={"max_replicas": 2})
    assert created.status_code == 201, created.content  # dedicated: 2 replicas of v1 × 1 GPU
    # a rollout would give the candidate 2 replicas of its own: 4 GPUs
    policy = RolloutPolicy.objects.create(team=ml["team"], name="direct", strategy="direct")
    response = client.post(
        f"/api/v1/deployments/{created.json()['id']}/rollouts/", {"version": 2, "policy": policy.pk}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "team ml would use 4 GPUs; its quota is 2" in response.json()["detail"]
    # and while a rollout holds two versions, scaling up counts both
    TeamQuota.objects.filter(team=ml["team"]).update(max_gpus=4)
    started = client.post(
        f"/api/v1/deployments/{created.json()['id']}/rollouts/", {"version": 2, "policy": policy.pk}, format="json"
    )
    assert started.status_code == 201, started.content
    more = client.patch(
        f"/api/v1/deployments/{created.json()['id']}/", {"autoscaling": {"max_replicas": 3}}, format="json"
    )
    assert more.status_code == 400 and "would use 6 GPUs" in more.json()["autoscaling.max_replicas"][0]


def test_custom_resources_quota(people, ml, client_for):
    quota(ml["team"], max_custom={"tpu": 1})
    response = create_spare(client_for(people["deployer"]), resources={"custom": {"tpu": 1}})
    assert response.status_code == 400
    assert "would use 2 of custom resource 'tpu'; its quota is 1" in response.json()["resources.custom"][0]
    assert create_spare(client_for(people["deployer"]), resources={"custom": {"other": 5}}).status_code == 201


def test_node_affinity_resources_are_refused_for_everyone(people, ml, client_for):
    for user in ("deployer", "site_admin"):
        response = create_spare(client_for(people[user]), resources={"custom": {"node:10.0.0.1": 0.01}})
        assert response.status_code == 400
        assert "node:" in response.json()["resources"]["custom"][0]


def test_scaling_down_is_allowed_over_quota_and_other_teams_do_not_count(people, ml, client_for):
    ml["iris"].autoscaling = {"min_replicas": 1, "max_replicas": 8, "target_ongoing_requests": 2}
    ml["iris"].save()
    quota(ml["team"], max_cpus=1)  # iris now takes 4 CPUs: over
    client = client_for(people["deployer"])
    down = client.patch(f"/api/v1/deployments/{ml['iris'].pk}/", {"autoscaling": {"max_replicas": 4}}, format="json")
    assert down.status_code == 200, down.content
    batching = client.patch(f"/api/v1/deployments/{ml['iris'].pk}/", {"batching": {"enabled": True}}, format="json")
    assert batching.status_code == 200, "a change that adds nothing is not refused"
    foreign = factories.make_model(people["other_team"], "theirs")
    factories.make_version(foreign, 1)
    quota(people["other_team"], max_cpus=0.5)
    theirs = client_for(people["foreign_deployer"]).post(
        "/api/v1/deployments/", {"model": "theirs", "stable_version": 1}, format="json"
    )
    assert theirs.status_code == 201, "ml's usage is not counted against team other"


def test_pooled_deployments_use_the_platforms_pool(people, ml, client_for):
    quota(ml["team"], max_cpus=0.5)
    assert create_spare(client_for(people["deployer"]), pooled=True).status_code == 201


def test_site_admins_set_quotas_members_read_them(people, ml, client_for):
    body = {"max_replicas": 10, "max_cpus": 4, "max_gpus": None, "max_custom": {"tpu": 2}}
    assert client_for(people["admin"]).put("/api/v1/teams/ml/quota/", body, format="json").status_code == 403
    response = client_for(people["site_admin"]).put("/api/v1/teams/ml/quota/", body, format="json")
    assert response.status_code == 200, response.content
    assert AuditEntry.objects.filter(target_type="accounts.teamquota").count() == 1
    seen = client_for(people["viewer"]).get("/api/v1/teams/ml/quota/").json()
    assert {key: seen[key] for key in body} == {**body, "max_cpus": 4.0}
    assert client_for(people["foreign_deployer"]).get("/api/v1/teams/ml/quota/").status_code == 404
    bad = client_for(people["site_admin"]).put("/api/v1/teams/ml/quota/", {"max_cpus": -1}, format="json")
    assert bad.status_code == 400 and "max_cpus" in bad.json()
