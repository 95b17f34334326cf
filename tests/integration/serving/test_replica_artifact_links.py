"""Replicas on a real local Ray cluster, with no shared artifact folder: each version downloads through its own
signed link from the control plane, and the replica process (where a trusted version's code runs) sees none of
the control plane's secrets in its environment."""

import hashlib
import io
import zipfile

import pytest
import requests

from controlplane.registry.internal import signed_artifact_url
from controlplane.registry.storage import artifact_path
from serving.cluster import RayDashboardCluster
from serving.config import ArtifactSource, FleetSpec, ModelSpec, VersionSpec, serve_config
from serving.head import read_token
from tests import factories

pytestmark = [pytest.mark.ray, pytest.mark.django_db(transaction=True)]

# Variables of the test process that a replica must not inherit (the first two are set whenever tests run).
CONTROL_PLANE_VARIABLES = ["DATABASE_URL", "DJANGO_SETTINGS_MODULE", "SECRET_KEY", "RAYLANE_ARTIFACT_SIGNING_KEY"]
PROBE = f"""
import os
import numpy as np

NAMES = {CONTROL_PLANE_VARIABLES!r}


def predict(inputs):
    return np.array([[int(name in os.environ) for name in NAMES]])
"""


def stored(data: bytes) -> str:
    sha256 = hashlib.sha256(data).hexdigest()
    path = artifact_path(sha256)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return sha256


def probe_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model.py", PROBE)
    return buffer.getvalue()


def test_replicas_download_with_signed_links_and_see_no_control_plane_secret(
    ray_cluster, live_server, settings, tmp_path
):
    settings.RAYLANE_INTERNAL_URL = live_server.url
    skops = stored(factories.write_skops(tmp_path / "iris.skops").read_bytes())
    probe = stored(probe_zip())
    model = ModelSpec(
        name="linkprobe",
        versions=(
            VersionSpec(1, "skops", skops, artifact_url=signed_artifact_url(skops)),
            VersionSpec(2, "pyfunc", probe, trusted=True, artifact_url=signed_artifact_url(probe)),
        ),
        weights=((1, 100), (2, 0)),
    )
    port = ray_cluster.ports["serve_http"]
    cluster = RayDashboardCluster(
        ray_cluster.dashboard_url, auth_token=read_token(ray_cluster), timeout_s=30, ray_dir=ray_cluster.ray_dir
    )
    # No shared folder: the bytes exist only behind the control plane's endpoint.
    source = ArtifactSource(cache_dir=str(tmp_path / "replica-cache"))
    config = serve_config(FleetSpec(models=(model,), artifacts=source, http_port=port))
    assert "token" not in str(config["applications"][1]["args"])
    cluster.apply(config)
    try:
        cluster.wait_until_running([app["name"] for app in config["applications"]], timeout_s=120)
        base = f"http://127.0.0.1:{port}/v1/models/linkprobe:predict"
        response = requests.post(base, json={"instances": [[5.1, 3.5, 1.4, 0.2]]}, timeout=30)
        assert response.status_code == 200, requests.get(f"http://127.0.0.1:{port}/v2/models/linkprobe").text
        assert response.json()["predictions"] == [0]
        seen = requests.post(base, json={"instances": [[0]]}, headers={"X-Raylane-Version": "2"}, timeout=30)
        assert seen.status_code == 200, requests.get(f"http://127.0.0.1:{port}/v2/models/linkprobe").text
        inherited = dict(zip(CONTROL_PLANE_VARIABLES, seen.json()["predictions"][0], strict=True))
        assert inherited == dict.fromkeys(CONTROL_PLANE_VARIABLES, 0)
    finally:
        cluster.apply(serve_config(FleetSpec(models=(), artifacts=source, http_port=port)))
