"""Uploading model files through the API: real files, real validation subprocess, real Postgres."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from controlplane.accounts.models import AuditEntry
from controlplane.registry.models import Artifact, ModelVersion
from controlplane.registry.storage import artifact_path
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def iris(people):
    return factories.make_model(people["team"], "iris")


@pytest.fixture
def deployer(people, client_for):
    return client_for(people["deployer"])


def upload(client, name: str, data: bytes, model: str = "iris", **fields):
    return client.post(
        f"/api/v1/models/{model}/versions/",
        {"artifact": SimpleUploadedFile(name, data), **fields},
        format="multipart",
    )


def test_skops_upload_is_validated_and_listed_with_sha256(iris, deployer, model_files):
    data = model_files["skops"].read_bytes()
    response = upload(deployer, "iris.skops", data, metadata='{"accuracy": 0.97}')
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["version"] == 1
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["size"] == len(data)
    assert body["format"] == "skops"
    assert body["framework"] == "scikit-learn"
    assert body["validation_status"] == "valid"
    assert body["deployable"] is True
    assert body["metadata"] == {"accuracy": 0.97}
    assert body["signature"]["inputs"][0]["shape"] == [-1, 4]
    assert artifact_path(body["sha256"]).read_bytes() == data

    listed = deployer.get("/api/v1/models/iris/versions/").json()
    assert [(v["version"], v["sha256"], v["format"], v["validation_status"]) for v in listed["results"]] == [
        (1, body["sha256"], "skops", "valid")
    ]


def test_onnx_upload_is_validated_with_its_signature(iris, deployer, model_files):
    response = upload(deployer, "iris.onnx", model_files["onnx"].read_bytes())
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["format"], body["framework"], body["validation_status"]) == ("onnx", "onnx", "valid")
    assert body["signature"]["inputs"][0]["datatype"] == "FP32"


def test_versions_number_up_and_same_bytes_are_stored_once(iris, deployer, model_files, artifact_root):
    data = model_files["skops"].read_bytes()
    first = upload(deployer, "iris.skops", data).json()
    second = upload(deployer, "copy.skops", data).json()
    third = upload(deployer, "v2.skops", model_files["skops_v2"].read_bytes()).json()
    assert [first["version"], second["version"], third["version"]] == [1, 2, 3]
    assert first["sha256"] == second["sha256"] != third["sha256"]
    assert Artifact.objects.count() == 2
    stored = [p for p in (artifact_root / "sha256").rglob("*") if p.is_file()]
    assert len(stored) == 2
    assert list((artifact_root / "incoming").iterdir()) == []
    upload_entries = AuditEntry.objects.filter(action="upload").order_by("id")
    assert [e.changes["deduplicated"] for e in upload_entries] == [False, True, False]


def test_download_returns_the_exact_bytes(iris, deployer, model_files):
    data = model_files["onnx"].read_bytes()
    upload(deployer, "iris.onnx", data)
    response = deployer.get("/api/v1/models/iris/versions/1/download/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["X-Raylane-SHA256"] == hashlib.sha256(data).hexdigest()
    assert "iris.onnx" in response["Content-Disposition"]


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("iris.skops", b"", "empty"),
        ("notes.txt", b"hello", ".txt"),
        ("model", b"hello", "extension"),
        ("iris.onnx", b"\x08\x07garbage-not-a-protobuf" * 10, "could not be loaded as ONNX"),
        ("iris.skops", b"PK-but-not-really-a-zip", "not a zip"),
        ("iris.keras", b"not a zip either", "not a zip"),
    ],
)
def test_bad_files_are_refused_with_a_message_naming_the_problem(iris, deployer, filename, data, message):
    response = upload(deployer, filename, data)
    assert response.status_code == 400, response.json()
    assert message in response.json()["artifact"][0]
    assert ModelVersion.objects.count() == 0
    assert Artifact.objects.count() == 0


def test_zip_path_traversal_is_refused(iris, deployer):
    data = factories.zip_bytes({"model.py": b"def predict(x): return x", "../../etc/evil": b"x"})
    response = upload(deployer, "package.zip", data)
    assert response.status_code == 400
    assert "../../etc/evil" in response.json()["artifact"][0]


def test_zip_bomb_is_refused(iris, deployer, settings):
    settings.RAYLANE_MAX_UNPACKED_BYTES = 64 * 1024 * 1024
    bomb = factories.zip_bytes({"model.py": b"x", "weights.bin": b"\0" * (100 * 1024 * 1024)})
    assert len(bomb) < 1024 * 1024
    response = upload(deployer, "package.zip", bomb)
    assert response.status_code == 400
    message = response.json()["artifact"][0]
    assert "MiB" in message or "ratio" in message


def test_upload_over_the_size_limit_is_refused_and_nothing_is_kept(iris, deployer, settings, artifact_root):
    settings.RAYLANE_MAX_UPLOAD_BYTES = 1000
    response = upload(deployer, "big.onnx", b"x" * 5000)
    assert response.status_code == 413
    assert "RAYLANE_MAX_UPLOAD_BYTES" in response.json()["detail"]
    assert ModelVersion.objects.count() == 0
    assert list((artifact_root / "incoming").iterdir()) == []


def test_missing_file_and_bad_metadata_name_their_fields(iris, deployer, model_files):
    assert "artifact" in deployer.post("/api/v1/models/iris/versions/", {}, format="multipart").json()
    response = upload(deployer, "iris.skops", model_files["skops"].read_bytes(), metadata="{not json")
    assert response.status_code == 400
    assert "metadata" in response.json()
    response = upload(deployer, "iris.skops", model_files["skops"].read_bytes(), metadata="[1, 2]")
    assert response.status_code == 400
    assert "metadata" in response.json()


def test_upload_to_unknown_model_is_404(people, deployer, model_files):
    response = upload(deployer, "iris.skops", model_files["skops"].read_bytes(), model="nope")
    assert response.status_code == 404


def test_pickle_is_stored_but_never_loaded_until_trusted(iris, deployer, tmp_path):
    marker = tmp_path / "unpickled"
    data = factories.write_booby_pickle(tmp_path / "booby.pkl", marker).read_bytes()
    response = upload(deployer, "booby.pkl", data)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["validation_status"] == "needs_trust"
    assert body["deployable"] is False
    assert "pathlib.Path.touch" in " ".join(body["validation_details"]["pickle_globals"])
    assert not marker.exists()


def test_admin_marks_a_pickle_trusted_and_then_it_is_loaded(iris, deployer, people, client_for, model_files):
    version = upload(deployer, "iris.pkl", model_files["pickle"].read_bytes()).json()
    globals_listed = version["validation_details"]["pickle_globals"]
    assert any(name.startswith("sklearn.") for name in globals_listed)

    refused = deployer.post("/api/v1/models/iris/versions/1/trust/", {"trusted": True})
    assert refused.status_code == 403
    assert "admin" in refused.json()["detail"]

    admin = client_for(people["admin"])
    trusted = admin.post("/api/v1/models/iris/versions/1/trust/", {"trusted": True})
    assert trusted.status_code == 200, trusted.json()
    assert trusted.json()["trusted"] is True
    assert trusted.json()["trusted_by"] == "admin"
    assert trusted.json()["validation_status"] == "valid"
    assert trusted.json()["deployable"] is True
    assert AuditEntry.objects.filter(action="trust", target_id=str(ModelVersion.objects.get().pk)).exists()

    untrusted = admin.post("/api/v1/models/iris/versions/1/trust/", {"trusted": False}).json()
    assert (untrusted["trusted"], untrusted["validation_status"]) == (False, "needs_trust")


def test_a_format_whose_runtime_is_missing_is_stored_and_says_so(iris, deployer, tmp_path, monkeypatch):
    # Hide Keras from the load-check subprocess, as on a machine that never installed requirements-keras.txt.
    hidden = tmp_path / "hide-keras" / "keras"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError(\"No module named 'keras'\")\n")
    monkeypatch.setenv("PYTHONPATH", str(hidden.parent))
    config = b'{"class_name": "Sequential", "config": {"layers": []}}'
    data = factories.zip_bytes({"config.json": config, "metadata.json": b"{}", "model.weights.h5": b"\0"})
    response = upload(deployer, "net.keras", data)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["format"], body["validation_status"], body["deployable"]) == ("keras", "runtime_missing", False)
    assert "requirements-keras.txt" in body["validation_error"]


def test_delete_removes_the_file_only_when_no_version_uses_it(
    iris, deployer, model_files, django_capture_on_commit_callbacks
):
    data = model_files["skops"].read_bytes()
    sha = upload(deployer, "a.skops", data).json()["sha256"]
    upload(deployer, "b.skops", data)
    with django_capture_on_commit_callbacks(execute=True):
        assert deployer.delete("/api/v1/models/iris/versions/1/").status_code == 204
    assert artifact_path(sha).exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert deployer.delete("/api/v1/models/iris/versions/2/").status_code == 204
    assert not artifact_path(sha).exists()
    assert deployer.get("/api/v1/models/iris/versions/2/").status_code == 404


def test_a_deployed_version_cannot_be_deleted(iris, deployer, model_files):
    upload(deployer, "a.skops", model_files["skops"].read_bytes())
    created = deployer.post("/api/v1/deployments/", {"model": "iris", "stable_version": 1}, format="json")
    assert created.status_code == 201, created.json()
    response = deployer.delete("/api/v1/models/iris/versions/1/")
    assert response.status_code == 409
    assert "in use" in response.json()["detail"]
    assert ModelVersion.objects.count() == 1


def test_metadata_can_change_but_the_artifact_cannot(iris, deployer, model_files):
    upload(deployer, "a.skops", model_files["skops"].read_bytes())
    response = deployer.patch(
        "/api/v1/models/iris/versions/1/", {"metadata": {"stage": "prod"}, "format": "onnx"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["metadata"] == {"stage": "prod"}
    assert response.json()["format"] == "skops"


def test_a_savedmodel_waits_for_trust_because_its_graph_can_touch_files(iris, deployer):
    data = factories.zip_bytes({"export/saved_model.pb": b"\x08\x01", "export/variables/variables.index": b""})
    response = upload(deployer, "graph.zip", data)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["format"], body["validation_status"], body["deployable"]) == ("savedmodel", "needs_trust", False)
    assert "read and write files" in body["validation_error"]
