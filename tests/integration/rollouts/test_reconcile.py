"""Reconciliation against the in-memory ServeCluster twin (the real cluster is covered in tests/integration/ray)."""

import pytest

from controlplane.rollouts.models import ReconcileState
from controlplane.rollouts.reconcile import reconcile
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def iris(people):
    model = factories.make_model(people["team"], "iris")
    factories.make_version(model, 1, signature={"inputs": [{"name": "X", "datatype": "FP64", "shape": [-1, 4]}]})
    return model


def deployed_apps(cluster) -> dict:
    return {name: app for name, app in cluster.status().applications.items()}


def test_creating_a_deployment_puts_the_model_on_the_cluster(iris, twin, people, client_for, committed):
    client = client_for(people["deployer"])
    response = committed(
        client.post,
        "/api/v1/deployments/",
        {"model": "iris", "stable_version": 1, "autoscaling": {"min_replicas": 1, "max_replicas": 3}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    apps = deployed_apps(twin)
    assert set(apps) == {"_raylane", "iris", "iris.v1"}
    assert apps["iris"].route_prefix == "/v2/models/iris"
    user_config = apps["iris"].deployed_config["deployments"][0]["user_config"]
    assert user_config["weights"] == {"1": 100}
    assert user_config["versions"][0]["sha256"] == f"{1:064d}"
    assert apps["iris"].deployed_config["deployments"][0]["autoscaling_config"]["max_replicas"] == 3
    assert ReconcileState.objects.get().applied_hash


def test_reconcile_is_idempotent_and_heals_drift(iris, twin, people, client_for, committed):
    committed(
        client_for(people["deployer"]).post,
        "/api/v1/deployments/",
        {"model": "iris", "stable_version": 1},
        format="json",
    )
    applied = len(twin.applied)
    assert reconcile().reason == "in sync"
    assert len(twin.applied) == applied
    twin.apply({"applications": []})  # someone deleted everything by hand
    outcome = reconcile()
    assert outcome.applied and "missing" in outcome.reason
    assert set(deployed_apps(twin)) == {"_raylane", "iris", "iris.v1"}


def test_an_unreachable_cluster_is_recorded_not_raised(iris, twin, people, client_for, committed):
    twin.reachable = False
    response = committed(
        client_for(people["deployer"]).post,
        "/api/v1/deployments/",
        {"model": "iris", "stable_version": 1},
        format="json",
    )
    assert response.status_code == 201
    state = ReconcileState.objects.get()
    assert "unreachable" in state.last_error and not state.applied_hash
    twin.reachable = True
    assert reconcile().applied
    assert ReconcileState.objects.get().last_error == ""


def test_deleting_a_deployment_removes_only_its_applications(iris, twin, people, client_for, committed):
    client = client_for(people["deployer"])
    deployment = committed(
        client.post, "/api/v1/deployments/", {"model": "iris", "stable_version": 1}, format="json"
    ).json()
    assert committed(client.delete, f"/api/v1/deployments/{deployment['id']}/").status_code == 204
    assert set(deployed_apps(twin)) == {"_raylane"}


@pytest.mark.parametrize(
    ("resources", "dedicated"), [({"num_gpus": 0.5}, True), ({"memory_mb": 16384}, True), ({"memory_mb": 512}, False)]
)
def test_large_models_run_in_dedicated_mode(iris, twin, people, client_for, committed, resources, dedicated):
    payload = {"model": "iris", "stable_version": 1, "resources": resources}
    assert (
        committed(client_for(people["deployer"]).post, "/api/v1/deployments/", payload, format="json").status_code
        == 201
    )
    assert ("iris@v1" in deployed_apps(twin)) is dedicated


def test_custom_resources_pin_replicas_to_labelled_nodes(iris, twin, people, client_for, committed):
    client = client_for(people["deployer"])
    reserved = {"model": "iris", "stable_version": 1, "resources": {"custom": {"CPU": 1}}}
    refused = client.post("/api/v1/deployments/", reserved, format="json")
    assert refused.status_code == 400 and "Ray's own" in str(refused.json()["resources"])
    payload = {"model": "iris", "stable_version": 1, "resources": {"num_cpus": 0.5, "custom": {"fast_disk": 0.1}}}
    assert committed(client.post, "/api/v1/deployments/", payload, format="json").status_code == 201
    (deployment,) = deployed_apps(twin)["iris"].deployed_config["deployments"]
    assert deployment["ray_actor_options"] == {"num_cpus": 0.5, "resources": {"fast_disk": 0.1}}


def test_pooled_deployments_join_the_shared_pool(iris, twin, people, client_for, committed):
    payload = {"model": "iris", "stable_version": 1, "pooled": True}
    response = committed(client_for(people["deployer"]).post, "/api/v1/deployments/", payload, format="json")
    assert response.status_code == 201 and response.json()["pooled"] is True
    apps = deployed_apps(twin)
    assert set(apps) == {"_raylane"}
    pool = apps["_raylane"].deployed_config["deployments"][0]["user_config"]
    assert pool["models"]["iris"]["weights"] == {"1": 100}
