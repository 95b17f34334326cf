"""The model server on a real local Ray cluster: split, pins, sticky sessions, shadow, both protocols, bad input,
broken artifacts and the guarantee that rollout changes restart no replica."""

import dataclasses
import hashlib
import shutil
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from serving.cluster import RayDashboardCluster
from serving.config import (
    ArtifactSource,
    Batching,
    FleetSpec,
    InferenceAccess,
    ModelSpec,
    RequestLimits,
    Shadow,
    VersionSpec,
    serve_config,
)
from serving.head import read_token
from tests import factories

pytestmark = pytest.mark.ray

ROW = [5.1, 3.5, 1.4, 0.2]


def store(folder: Path, data: bytes) -> str:
    sha256 = hashlib.sha256(data).hexdigest()
    target = folder / "sha256" / sha256[:2] / sha256
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return sha256


@pytest.fixture(scope="module")
def fleet(ray_cluster, tmp_path_factory):
    """Three versions of iris: a skops v1, an ONNX v2, and a v3 whose bytes are not a model."""
    folder = tmp_path_factory.mktemp("artifacts")
    models = tmp_path_factory.mktemp("models")
    v1 = store(folder, factories.write_skops(models / "v1.skops").read_bytes())
    v2 = store(folder, factories.write_onnx(models / "v2.onnx", seed=1).read_bytes())
    v3 = store(folder, b"\x08\x01 definitely not an onnx model" * 20)
    cluster = RayDashboardCluster(
        ray_cluster.dashboard_url, auth_token=read_token(ray_cluster), timeout_s=30, ray_dir=ray_cluster.ray_dir
    )
    base = f"http://127.0.0.1:{ray_cluster.ports['serve_http']}"
    versions = {
        1: VersionSpec(1, "skops", v1),
        2: VersionSpec(2, "onnx", v2),
        3: VersionSpec(3, "onnx", v3),
    }

    def apply(*models: ModelSpec) -> dict:
        config = serve_config(
            FleetSpec(
                models=models,
                artifacts=ArtifactSource(shared_path=str(folder)),
                http_port=ray_cluster.ports["serve_http"],
            )
        )
        cluster.apply(config)
        cluster.wait_until_running([app["name"] for app in config["applications"]], timeout_s=120)
        return config

    yield {"cluster": cluster, "base": base, "versions": versions, "apply": apply, "folder": folder}
    shutil.rmtree(folder, ignore_errors=True)


def iris(fleet, weights, *, held=(1, 2), shadow=None, name="iris") -> ModelSpec:
    return ModelSpec(
        name=name,
        versions=tuple(fleet["versions"][v] for v in held),
        weights=tuple(weights.items()),
        shadow=shadow,
    )


def replica_ids(cluster, app: str) -> set[str]:
    return cluster.status().applications[app].replica_ids()


def wait_for(predicate, timeout_s: float = 10, interval_s: float = 0.1):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s} s")


def predict_v1(base: str, session: requests.Session, **headers) -> requests.Response:
    return session.post(f"{base}/v1/models/iris:predict", json={"instances": [ROW]}, headers=headers, timeout=10)


def test_split_pin_sticky_and_both_protocols(fleet):
    fleet["apply"](iris(fleet, {1: 90, 2: 10}))
    base, http = fleet["base"], requests.Session()

    # 90/10 split, observed over 2,000 requests through the KServe v1 path
    seen = Counter()
    for _ in range(2000):
        response = predict_v1(base, http)
        assert response.status_code == 200, response.text
        assert response.json()["predictions"] == [0]
        seen[response.headers["X-Raylane-Version"]] += 1
    assert abs(seen["2"] / 2000 - 0.10) <= 0.04, seen

    # a pin reaches a version regardless of its weight
    assert predict_v1(base, http, **{"X-Raylane-Version": "2"}).headers["X-Raylane-Version"] == "2"
    assert predict_v1(base, http, **{"X-Raylane-Version": "7"}).status_code == 404

    # a session sticks to one version
    stuck = {predict_v1(base, http, **{"X-Raylane-Session": "user-42"}).headers["X-Raylane-Version"] for _ in range(30)}
    assert len(stuck) == 1

    # Open Inference Protocol v2
    tensor = {"name": "X", "shape": [2, 4], "datatype": "FP32", "data": [*ROW, 6.7, 3.0, 5.2, 2.3]}
    response = http.post(f"{base}/v2/models/iris/infer", json={"id": "req-1", "inputs": [tensor]}, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_name"] == "iris" and body["id"] == "req-1"
    assert body["outputs"][0]["shape"] == [2] and body["outputs"][0]["data"] == [0, 2]
    assert http.get(f"{base}/v2/models/iris/ready", timeout=5).json() == {"name": "iris", "ready": True}
    metadata = http.get(f"{base}/v2/models/iris", timeout=5).json()
    assert metadata["versions"] == ["1", "2"]
    assert [v["state"] for v in metadata["raylane"]["versions"]] == ["ready", "ready"]
    pinned = http.post(f"{base}/v2/models/iris/versions/2/infer", json={"inputs": [tensor]}, timeout=10)
    assert pinned.json()["model_version"] == "2"
    assert http.get(f"{base}/v2/health/ready", timeout=5).status_code == 200
    unknown = http.post(f"{base}/v2/models/nope/infer", json={"inputs": [tensor]}, timeout=5)
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]


@pytest.mark.parametrize(
    ("path", "payload", "message"),
    [
        ("/v1/models/iris:predict", {"instances": [[1, 2, 3]]}, "expects 4"),
        ("/v1/models/iris:predict", {"rows": []}, '"instances"'),
        (
            "/v2/models/iris/infer",
            {"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": [1]}]},
            "needs 4",
        ),
    ],
)
def test_bad_input_is_a_400_that_names_the_problem(fleet, path, payload, message):
    response = requests.post(f"{fleet['base']}{path}", json=payload, timeout=10)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


def test_weight_changes_and_new_versions_restart_no_replica(fleet):
    cluster, base = fleet["cluster"], fleet["base"]
    fleet["apply"](iris(fleet, {1: 90, 2: 10}), iris(fleet, {1: 100}, held=(1,), name="other"))
    before = {app: replica_ids(cluster, app) for app in ("iris", "iris.v1", "other", "other.v1")}

    started = time.monotonic()
    fleet["apply"](iris(fleet, {1: 0, 2: 100}), iris(fleet, {1: 100}, held=(1,), name="other"))
    wait_for(lambda: predict_v1(base, requests.Session()).headers["X-Raylane-Version"] == "2")
    print(f"weight change visible {time.monotonic() - started:.2f} s after apply began")
    assert all(predict_v1(base, requests.Session()).headers["X-Raylane-Version"] == "2" for _ in range(50))

    fleet["apply"](iris(fleet, {2: 100}, held=(2,)), iris(fleet, {1: 100}, held=(1,), name="other"))  # drop v1
    fleet["apply"](iris(fleet, {2: 100}, held=(2,)))  # remove the other model entirely
    after = {app: replica_ids(cluster, app) for app in ("iris", "iris.v1")}
    assert after == {app: before[app] for app in ("iris", "iris.v1")}


def test_a_broken_version_is_reported_failed_and_never_takes_traffic(fleet):
    base = fleet["base"]
    fleet["apply"](iris(fleet, {1: 50, 3: 50}, held=(1, 3)))
    http = requests.Session()
    answered = Counter(predict_v1(base, http).headers["X-Raylane-Version"] for _ in range(200))
    assert answered == Counter({"1": 200})
    states = {v["version"]: v for v in http.get(f"{base}/v2/models/iris", timeout=5).json()["raylane"]["versions"]}
    assert states[3]["state"] == "failed" and "onnx" in states[3]["error"].lower(), states[3]
    assert states[1]["state"] == "ready"
    pinned = predict_v1(base, http, **{"X-Raylane-Version": "3"})
    assert pinned.status_code == 503 and "failed" in pinned.json()["error"]


def test_shadow_answers_are_compared_never_returned(fleet):
    cluster, base = fleet["cluster"], fleet["base"]
    fleet["apply"](iris(fleet, {1: 100}, shadow=Shadow(2, 100)))
    http = requests.Session()
    assert {predict_v1(base, http).headers["X-Raylane-Version"] for _ in range(100)} == {"1"}

    def shadow_counts():
        text = cluster.metrics_text()
        totals = {
            "requests": metric_sum(text, "ray_raylane_shadow_requests", model="iris", version="2"),
            "agreements": metric_sum(text, "ray_raylane_shadow_agreements", model="iris", version="2"),
            "answered": metric_sum(text, "ray_raylane_requests", model="iris", version="1", code="200"),
        }
        return totals if totals["requests"] >= 100 else None

    totals = wait_for(shadow_counts, timeout_s=20, interval_s=0.5)
    assert totals["answered"] >= 100  # every answered request is counted for its version
    agreement = totals["agreements"] / totals["requests"]
    assert 0.8 <= agreement <= 1.0, totals  # two iris classifiers mostly agree on a setosa row


def metric_sum(text: str, family: str, **labels: str) -> float:
    """Sum of a cumulative metric's samples with these labels across replicas and scrape targets."""
    total = 0.0
    for metric in text_string_to_metric_families(text):
        for sample in metric.samples:
            if sample.name == family and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def test_batching_keeps_every_answer_with_its_request(fleet):
    fleet["apply"](dataclasses.replace(iris(fleet, {1: 100}), batching=Batching(enabled=True, max_batch_size=8)))
    features, _ = factories.iris_data()
    expected = factories.train_iris().predict(features)
    indexes = list(range(0, 150, 3))

    def ask(index: int) -> tuple[int, list]:
        payload = {"instances": [features[index].tolist()]}
        response = requests.post(f"{fleet['base']}/v1/models/iris:predict", json=payload, timeout=10)
        return index, response.json()["predictions"]

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = dict(pool.map(ask, indexes))
    assert {i: answers[i] for i in indexes} == {i: [int(expected[i])] for i in indexes}
    metadata = requests.get(f"{fleet['base']}/v2/models/iris", timeout=5).json()
    assert metadata["raylane"]["batching"] is True


def test_dedicated_mode_routes_through_one_application_per_version(fleet):
    cluster, base = fleet["cluster"], fleet["base"]
    fleet["apply"](dataclasses.replace(iris(fleet, {1: 50, 2: 50}), dedicated=True))

    def both_ready():
        metadata = requests.get(f"{base}/v2/models/iris", timeout=5).json()
        return [v["state"] for v in metadata["raylane"]["versions"]] == ["ready", "ready"]

    wait_for(both_ready, timeout_s=60, interval_s=0.5)
    http = requests.Session()
    seen = Counter(predict_v1(base, http).headers["X-Raylane-Version"] for _ in range(400))
    assert abs(seen["1"] / 400 - 0.5) < 0.1, seen
    version_one = replica_ids(cluster, "iris@v1")

    fleet["apply"](dataclasses.replace(iris(fleet, {1: 100, 2: 0}, held=(1, 2, 3)), dedicated=True))
    assert replica_ids(cluster, "iris@v1") == version_one  # adding a version app restarts no other version
    assert {predict_v1(base, http).headers["X-Raylane-Version"] for _ in range(50)} == {"1"}
    states = {
        v["version"]: v["state"]
        for v in wait_for(
            lambda: (
                [
                    v
                    for v in requests.get(f"{base}/v2/models/iris", timeout=5).json()["raylane"]["versions"]
                    if v["version"] == 3 and v["state"] != "loading"
                ]
                and requests.get(f"{base}/v2/models/iris", timeout=5).json()["raylane"]["versions"]
            ),
            timeout_s=60,
            interval_s=0.5,
        )
    }
    assert states == {1: "ready", 2: "ready", 3: "failed"}
    tensor = {"name": "X", "shape": [1, 4], "datatype": "FP32", "data": ROW}
    pinned = http.post(f"{base}/v2/models/iris/versions/2/infer", json={"inputs": [tensor]}, timeout=10)
    assert pinned.status_code == 200 and pinned.json()["model_version"] == "2"


def test_long_tail_models_share_the_pool_and_load_on_first_use(fleet):
    cluster, base = fleet["cluster"], fleet["base"]
    config = fleet["apply"](
        dataclasses.replace(iris(fleet, {1: 100}, held=(1,), name="tail-a"), pooled=True),
        dataclasses.replace(iris(fleet, {2: 100}, held=(2,), name="tail-b"), pooled=True),
    )
    assert {app["name"] for app in config["applications"]} == {"_raylane"}
    http = requests.Session()
    for _ in range(3):  # alternate: with room for 8 models per replica both stay loaded after the first call
        for name, version in (("tail-a", "1"), ("tail-b", "2")):
            response = http.post(f"{base}/v1/models/{name}:predict", json={"instances": [ROW]}, timeout=30)
            assert response.status_code == 200, response.text
            assert response.headers["X-Raylane-Version"] == version and response.json() == {"predictions": [0]}
    tensor = {"name": "X", "shape": [1, 4], "datatype": "FP32", "data": ROW}
    assert http.post(f"{base}/v2/models/tail-b/infer", json={"inputs": [tensor]}, timeout=30).status_code == 200
    metadata = http.get(f"{base}/v2/models/tail-a", timeout=5).json()
    assert metadata["raylane"]["versions"][0]["state"] == "ready"
    assert metadata["raylane"]["versions"][0]["load_ms"] > 0  # the cold-load time is recorded
    assert http.post(f"{base}/v1/models/nope:predict", json={"instances": [ROW]}, timeout=5).status_code == 404

    def cold_loads():
        text = cluster.metrics_text()
        loads = {name: metric_sum(text, "ray_raylane_cold_loads", model=name) for name in ("tail-a", "tail-b")}
        return loads if all(loads.values()) else None

    assert wait_for(cold_loads, timeout_s=20, interval_s=0.5) == {"tail-a": 1.0, "tail-b": 1.0}


def test_replacing_the_only_version_under_traffic_fails_no_request(fleet):
    """One reconfigure that adds v2 and removes v1: the replica must load v2 before it stops routing to v1."""
    import threading

    base = fleet["base"]
    fleet["apply"](iris(fleet, {1: 100}, held=(1,)))
    failures, served, stop = [], Counter(), threading.Event()

    def loop() -> None:
        http = requests.Session()
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline:
            response = predict_v1(base, http)
            served[response.headers.get("X-Raylane-Version")] += 1
            if response.status_code != 200:
                failures.append(response.text)

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        time.sleep(0.5)
        fleet["apply"](iris(fleet, {2: 100}, held=(2,)))
        wait_for(lambda: served["2"] > 50, timeout_s=20)
    finally:
        stop.set()
        thread.join()
    assert failures == [] and served["1"] > 0


def test_client_mistakes_are_400s_without_internals_and_pins_are_counted_apart(fleet):
    """Issue 10: every parse failure is a 4xx that names the problem and shows no traceback, path or repr; limits
    come per deployment; pinned requests and 4xx answers carry their own `routed` label in the metrics."""
    cluster, base = fleet["cluster"], fleet["base"]
    limits = RequestLimits(max_body_bytes=64 * 1024, max_elements=1000, max_depth=8)
    fleet["apply"](dataclasses.replace(iris(fleet, {1: 50, 2: 50}), limits=limits))
    http = requests.Session()
    v1, v2 = f"{base}/v1/models/iris:predict", f"{base}/v2/models/iris/infer"
    json_type = {"Content-Type": "application/json"}
    cases = [
        (v1, b"[" * 30_000 + b"]" * 30_000, json_type, 400, "nested"),
        (v1, b'{"instances": ' + b"[" * 20 + b"1" + b"]" * 20 + b"}", json_type, 400, "nested more than 8"),
        (v1, b'{"instances": [[1e999999, 2, 3, 4]]', json_type, 400, "not valid JSON"),
        (v1, b'{"instances": [[99999999999999999999999999999, 2, 3, 4]]}', json_type, None, None),
        (v1, b'{"instances": [[1, 2, 3, 4]]}', {"Content-Type": "application/octet-stream"}, 400, "Content-Type"),
        (v1, b'{"instances": [[1, 2, 3, 4]]}', {**json_type, "X-Raylane-Version": "\u00b2"}, 400, "version number"),
        (v1, b'{"instances": [[1, 2, 3, 4]]}', {**json_type, "X-Raylane-Version": "1 OR 1"}, 400, "version number"),
        (v1, b"{" + b" " * 100_000 + b"}", json_type, 413, "at most 65,536"),
        (v1, b'{"instances": [' + b"[1, 2, 3, 4]," * 800 + b"[1, 2, 3, 4]]}", json_type, 413, "1,000 values"),
        (
            v2,
            b'{"inputs": [{"name": "X", "shape": [1, 4], "datatype": "UINT8", "data": [300, 1, 2, 3]}]}',
            json_type,
            400,
            "UINT8",
        ),
        (f"{base}/v2/models/iris/versions/%C2%B2/infer", b"{}", json_type, 404, "no version"),
    ]
    for url, body, headers, status, message in cases:
        response = http.post(url, data=body, headers=headers, timeout=30)
        text = response.text
        assert "Traceback" not in text and 'File "' not in text and " at 0x" not in text, text[:300]
        if status is None:  # an out-of-range integer is a 400 or an answer, never a 500
            assert response.status_code in (200, 400), text[:300]
            continue
        assert response.status_code == status, (url, body[:60], text[:300])
        assert message in response.json()["error"], text[:300]

    for _ in range(5):
        assert predict_v1(base, http, **{"X-Raylane-Version": "2"}).status_code == 200

    def routed_counts():
        text = cluster.metrics_text()
        counts = {
            "pinned": metric_sum(text, "ray_raylane_requests", model="iris", version="2", code="200", routed="pinned"),
            "refused": metric_sum(text, "ray_raylane_requests", model="iris", code="400", routed="split"),
        }
        return counts if counts["pinned"] >= 5 and counts["refused"] >= 3 else None

    assert wait_for(routed_counts, timeout_s=20, interval_s=0.5)


def test_pins_restricted_to_key_holders_and_required_keys(fleet):
    from serving.routing import hash_key

    key = "rk_" + "s" * 43
    base = fleet["base"]
    keyed = InferenceAccess(key_hashes=(hash_key(key),), pins="keyed")
    fleet["apply"](dataclasses.replace(iris(fleet, {1: 100}), access=keyed))
    http = requests.Session()
    assert predict_v1(base, http).status_code == 200, "the split stays open"
    refused = predict_v1(base, http, **{"X-Raylane-Version": "2"})
    assert refused.status_code == 403 and "data-plane key" in refused.json()["error"]
    pinned = predict_v1(base, http, **{"X-Raylane-Version": "2", "X-Raylane-Key": key})
    assert pinned.status_code == 200 and pinned.headers["X-Raylane-Version"] == "2"

    fleet["apply"](dataclasses.replace(iris(fleet, {1: 100}), access=dataclasses.replace(keyed, require_key=True)))
    assert predict_v1(base, http).status_code == 401
    assert predict_v1(base, http, Authorization=f"Bearer {key}").status_code == 200
    assert predict_v1(base, http, Authorization="Bearer rk_not-a-key").status_code == 401
