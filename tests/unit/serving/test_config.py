import pytest
from ray.serve.schema import ServeDeploySchema

from serving.config import (
    ArtifactSource,
    Autoscaling,
    Batching,
    DesiredStateError,
    FleetSpec,
    ModelSpec,
    Resources,
    Shadow,
    VersionSpec,
    config_hash,
    serve_config,
)


def iris(**changes) -> ModelSpec:
    fields = {
        "name": "iris",
        "versions": (VersionSpec(1, "skops", "a" * 64, 100), VersionSpec(2, "onnx", "b" * 64, 200)),
        "weights": ((1, 90), (2, 10)),
    }
    return ModelSpec(**{**fields, **changes})


def apps(config: dict) -> dict[str, dict]:
    return {app["name"]: app for app in config["applications"]}


def test_each_model_gets_one_application_per_protocol_plus_the_front_door():
    config = serve_config(FleetSpec(models=(iris(), iris(name="fraud")), http_port=8123))
    assert config["http_options"] == {"host": "127.0.0.1", "port": 8123}
    routes = {name: app["route_prefix"] for name, app in apps(config).items()}
    assert routes == {
        "_raylane": "/",
        "fraud": "/v2/models/fraud",
        "fraud.v1": "/v1/models/fraud:predict",
        "iris": "/v2/models/iris",
        "iris.v1": "/v1/models/iris:predict",
    }
    ServeDeploySchema.model_validate(config)  # Ray's own schema accepts the body


def test_rollout_state_travels_in_user_config_and_nothing_else_changes():
    before = serve_config(FleetSpec(models=(iris(),)))
    after = serve_config(FleetSpec(models=(iris(weights=((1, 50), (2, 50)), shadow=Shadow(2, 20)),)))
    for name in ("iris", "iris.v1"):
        old, new = apps(before)[name], apps(after)[name]
        assert {k: v for k, v in old.items() if k != "deployments"} == {
            k: v for k, v in new.items() if k != "deployments"
        }
        old_deployment, new_deployment = old["deployments"][0], new["deployments"][0]
        assert old_deployment["ray_actor_options"] == new_deployment["ray_actor_options"]
        assert new_deployment["user_config"]["weights"] == {"1": 50, "2": 50}
        assert new_deployment["user_config"]["shadow"] == {"version": 2, "percent": 20}
    assert config_hash(before) != config_hash(after)


def test_resources_scaling_and_batching_are_passed_to_ray():
    model = iris(
        autoscaling=Autoscaling(min_replicas=0, max_replicas=4, target_ongoing_requests=8),
        resources=Resources(num_cpus=0.5, num_gpus=0.25, memory_mb=512),
        batching=Batching(enabled=True, max_batch_size=32, batch_wait_timeout_s=0.01),
        protocols=("v2",),
    )
    (deployment,) = apps(serve_config(FleetSpec(models=(model,))))["iris"]["deployments"]
    assert deployment["autoscaling_config"] == {"min_replicas": 0, "max_replicas": 4, "target_ongoing_requests": 8}
    assert deployment["ray_actor_options"] == {"num_cpus": 0.5, "num_gpus": 0.25, "memory": 512 * 1024 * 1024}
    assert deployment["user_config"]["batching"] == {
        "enabled": True,
        "max_batch_size": 32,
        "batch_wait_timeout_s": 0.01,
    }
    fixed = apps(serve_config(FleetSpec(models=(iris(autoscaling=Autoscaling(2, 2)),))))["iris"]["deployments"][0]
    assert fixed["num_replicas"] == 2 and "autoscaling_config" not in fixed


def test_artifact_source_reaches_the_replicas():
    source = ArtifactSource(shared_path="/data/artifacts")
    app = apps(serve_config(FleetSpec(models=(iris(),), artifacts=source)))["iris"]
    assert app["args"]["artifacts"]["shared_path"] == "/data/artifacts"
    assert app["args"]["model"] == "iris"


def test_each_version_carries_its_own_download_link_and_no_replica_gets_a_cluster_token():
    link = "http://cp:8000/internal/artifacts/" + "a" * 64 + "?expires=1&sig=s"
    model = iris(versions=(VersionSpec(1, "skops", "a" * 64, 100, artifact_url=link), VersionSpec(2, "onnx", "b" * 64)))
    config = serve_config(FleetSpec(models=(model, iris(name="fraud", pooled=True)), artifacts=ArtifactSource()))
    for app in config["applications"]:
        assert "token" not in app["args"]["artifacts"] and "url" not in app["args"]["artifacts"]
    versions = apps(config)["iris"]["deployments"][0]["user_config"]["versions"]
    assert [entry["artifact_url"] for entry in versions] == [link, None]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"weights": ((1, 90), (2, 20))}, "summing to 100"),
        ({"weights": ((1, 90), (3, 10))}, "does not hold"),
        ({"shadow": Shadow(5, 10)}, "shadow version 5"),
        ({"shadow": Shadow(2, 0)}, "shadow percent"),
        ({"protocols": ("v3",)}, "protocols"),
        ({"autoscaling": Autoscaling(3, 2)}, "autoscaling"),
        ({"versions": (VersionSpec(1, "skops", "a" * 64), VersionSpec(1, "skops", "a" * 64))}, "twice"),
        (
            {
                "pooled": True,
                "versions": (VersionSpec(1, "pickle", "a" * 64, trusted=True), VersionSpec(2, "onnx", "b" * 64)),
            },
            "trusted",
        ),
    ],
)
def test_impossible_states_are_refused(changes, message):
    with pytest.raises(DesiredStateError, match=message):
        serve_config(FleetSpec(models=(iris(**changes),)))


def test_hash_ignores_key_order():
    config = serve_config(FleetSpec(models=(iris(),)))
    reordered = dict(reversed(list(config.items())))
    assert config_hash(config) == config_hash(reordered)


def test_dedicated_mode_gives_each_version_its_own_application_behind_a_light_router():
    model = iris(dedicated=True, resources=Resources(num_cpus=1, num_gpus=0.5, memory_mb=8192))
    config = serve_config(FleetSpec(models=(model,)))
    applications = apps(config)
    assert {"iris@v1", "iris@v2"} <= set(applications)
    version_app = applications["iris@v2"]
    assert version_app["route_prefix"] is None
    assert version_app["import_path"] == "serving.dedicated:build_version_app"
    (deployment,) = version_app["deployments"]
    assert deployment["ray_actor_options"] == {"num_cpus": 1, "num_gpus": 0.5, "memory": 8192 * 1024 * 1024}
    assert deployment["user_config"]["version"]["sha256"] == "b" * 64
    router = applications["iris"]["deployments"][0]
    assert router["ray_actor_options"] == {"num_cpus": 0.1}
    assert [v["app"] for v in router["user_config"]["versions"]] == ["iris@v1", "iris@v2"]
    ServeDeploySchema.model_validate(config)


def test_dedicated_weight_changes_touch_only_the_routers():
    before = apps(serve_config(FleetSpec(models=(iris(dedicated=True),))))
    after = apps(serve_config(FleetSpec(models=(iris(dedicated=True, weights=((1, 0), (2, 100))),))))
    assert before["iris@v1"] == after["iris@v1"] and before["iris@v2"] == after["iris@v2"]
    assert before["iris"]["deployments"][0]["user_config"] != after["iris"]["deployments"][0]["user_config"]


def test_pooled_models_live_in_the_front_door_pool_without_applications_of_their_own():
    fleet = FleetSpec(models=(iris(pooled=True), iris(name="fraud")), pool_models_per_replica=3)
    applications = apps(serve_config(fleet))
    assert set(applications) == {"_raylane", "fraud", "fraud.v1"}
    (front_door,) = applications["_raylane"]["deployments"]
    assert front_door["user_config"]["max_models_per_replica"] == 3
    assert front_door["user_config"]["models"]["iris"]["weights"] == {"1": 90, "2": 10}
    with pytest.raises(DesiredStateError, match="pooled or dedicated"):
        serve_config(FleetSpec(models=(iris(pooled=True, dedicated=True),)))
