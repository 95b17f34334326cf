"""Replicas on nodes without the artifact folder download from the control plane with the cluster token."""

import hashlib

import pytest

from controlplane.registry.internal import cluster_token
from controlplane.registry.models import Artifact
from controlplane.registry.storage import artifact_path
from serving.artifacts import ArtifactFetcher, ArtifactUnavailable

pytestmark = pytest.mark.django_db(transaction=True)


def stored(data: bytes) -> str:
    sha256 = hashlib.sha256(data).hexdigest()
    path = artifact_path(sha256)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    Artifact.objects.create(sha256=sha256, size=len(data))
    return sha256


def test_replica_downloads_verifies_and_caches(live_server, tmp_path):
    data = b"model bytes " * 1000
    sha256 = stored(data)
    fetcher = ArtifactFetcher(
        url=f"{live_server.url}/internal/artifacts", token=cluster_token(), cache_dir=str(tmp_path / "cache")
    )
    path = fetcher.fetch(sha256)
    assert path.read_bytes() == data and path.parent == tmp_path / "cache"
    artifact_path(sha256).unlink()  # the second fetch must come from the cache, not the network
    assert fetcher.fetch(sha256).read_bytes() == data


def test_wrong_token_and_unknown_artifacts_are_refused(live_server, tmp_path):
    sha256 = stored(b"abc")
    wrong = ArtifactFetcher(url=f"{live_server.url}/internal/artifacts", token="nope", cache_dir=str(tmp_path / "a"))
    with pytest.raises(ArtifactUnavailable, match="401"):
        wrong.fetch(sha256)
    right = ArtifactFetcher(
        url=f"{live_server.url}/internal/artifacts", token=cluster_token(), cache_dir=str(tmp_path / "b")
    )
    with pytest.raises(ArtifactUnavailable, match="404"):
        right.fetch("0" * 64)
    assert list((tmp_path / "b").iterdir()) == [], "nothing partial is left in the cache"


def test_shared_folder_bytes_that_do_not_match_their_name_are_refused(tmp_path):
    folder = tmp_path / "shared"
    sha256 = "1" * 64
    target = folder / "sha256" / sha256[:2] / sha256
    target.parent.mkdir(parents=True)
    target.write_bytes(b"tampered")
    with pytest.raises(ArtifactUnavailable, match="refusing to load"):
        ArtifactFetcher(shared_path=str(folder), cache_dir=str(tmp_path / "c")).fetch(sha256)


def test_cache_evicts_least_recently_used(live_server, tmp_path):
    first, second, third = (stored(bytes([n]) * 4000) for n in (1, 2, 3))
    fetcher = ArtifactFetcher(
        url=f"{live_server.url}/internal/artifacts",
        token=cluster_token(),
        cache_dir=str(tmp_path / "cache"),
        cache_bytes=9000,
    )
    fetcher.fetch(first)
    fetcher.fetch(second)
    fetcher.fetch(first)  # first is now more recent than second
    fetcher.fetch(third)
    assert set(fetcher.cached()) == {first, third}
