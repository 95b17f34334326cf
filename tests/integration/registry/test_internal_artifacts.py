"""Replicas on nodes without the artifact folder download from the control plane with their version's own signed,
expiring link, and only from the cluster's addresses; nothing else opens /internal/artifacts/."""

import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest

from controlplane.registry import internal
from controlplane.registry.internal import signed_artifact_url
from controlplane.registry.models import Artifact
from controlplane.registry.storage import artifact_path
from serving.artifacts import ArtifactFetcher, ArtifactUnavailable

DAY = 24 * 3600
NOW = 1_800_000_000


def stored(data: bytes) -> str:
    sha256 = hashlib.sha256(data).hexdigest()
    path = artifact_path(sha256)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    Artifact.objects.get_or_create(sha256=sha256, defaults={"size": len(data)})
    return sha256


def link_for(live_server, settings, sha256: str) -> str:
    settings.RAYLANE_INTERNAL_URL = live_server.url
    return signed_artifact_url(sha256)


def path_of(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


@pytest.mark.django_db(transaction=True)
def test_replica_downloads_verifies_and_caches(live_server, settings, tmp_path):
    data = b"model bytes " * 1000
    sha256 = stored(data)
    fetcher = ArtifactFetcher(cache_dir=str(tmp_path / "cache"))
    path = fetcher.fetch(sha256, link_for(live_server, settings, sha256))
    assert path.read_bytes() == data and path.parent == tmp_path / "cache"
    artifact_path(sha256).unlink()  # the second fetch must come from the cache, not the network
    assert fetcher.fetch(sha256, None).read_bytes() == data


@pytest.mark.django_db(transaction=True)
def test_refusals_name_the_problem_and_never_repeat_the_signature(live_server, settings, tmp_path):
    sha256 = stored(b"abc")
    fetcher = ArtifactFetcher(cache_dir=str(tmp_path / "b"))
    forged = link_for(live_server, settings, sha256).replace("sig=", "sig=0")
    with pytest.raises(ArtifactUnavailable, match="403") as refused:
        fetcher.fetch(sha256, forged)
    assert "sig=" not in str(refused.value) and "signature does not match" in str(refused.value)
    with pytest.raises(ArtifactUnavailable, match="404"):
        fetcher.fetch("0" * 64, link_for(live_server, settings, "0" * 64))
    with pytest.raises(ArtifactUnavailable, match="no download link"):
        fetcher.fetch(sha256, None)
    assert list((tmp_path / "b").iterdir()) == [], "nothing partial is left in the cache"


def test_shared_folder_bytes_that_do_not_match_their_name_are_refused(tmp_path):
    folder = tmp_path / "shared"
    sha256 = "1" * 64
    target = folder / "sha256" / sha256[:2] / sha256
    target.parent.mkdir(parents=True)
    target.write_bytes(b"tampered")
    with pytest.raises(ArtifactUnavailable, match="refusing to load"):
        ArtifactFetcher(shared_path=str(folder), cache_dir=str(tmp_path / "c")).fetch(sha256)


@pytest.mark.django_db(transaction=True)
def test_cache_evicts_least_recently_used(live_server, settings, tmp_path):
    first, second, third = (stored(bytes([n]) * 4000) for n in (1, 2, 3))
    fetcher = ArtifactFetcher(cache_dir=str(tmp_path / "cache"), cache_bytes=9000)
    for sha256 in (first, second, first, third):  # first is then more recent than second
        fetcher.fetch(sha256, link_for(live_server, settings, sha256))
    assert set(fetcher.cached()) == {first, third}


# --- what the endpoint refuses (Django's test client: REMOTE_ADDR is 127.0.0.1 unless a test says otherwise) ---


@pytest.fixture
def artifact(db):
    return stored(b"weights")


def test_a_signed_link_from_loopback_gets_the_bytes(client, artifact):
    response = client.get(path_of(signed_artifact_url(artifact)))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"weights"


def test_an_expired_link_is_refused(client, artifact, monkeypatch):
    link = path_of(signed_artifact_url(artifact, now=NOW))
    expires = int(parse_qs(urlsplit(link).query)["expires"][0])
    monkeypatch.setattr(internal, "clock", lambda: expires + 1)
    response = client.get(link)
    assert response.status_code == 403
    assert "expired" in response.json()["detail"]


def test_a_forged_signature_is_refused(client, artifact):
    link = path_of(signed_artifact_url(artifact))
    expires = parse_qs(urlsplit(link).query)["expires"][0]
    for query in (f"expires={expires}&sig={'0' * 64}", f"expires={int(expires) + DAY}&sig=" + link.rsplit("=", 1)[1]):
        response = client.get(f"/internal/artifacts/{artifact}?{query}")
        assert response.status_code == 403, query
        assert "signature does not match" in response.json()["detail"]


def test_a_link_for_another_artifact_is_refused(client, artifact):
    other = stored(b"another team's weights")
    query = urlsplit(signed_artifact_url(artifact)).query
    response = client.get(f"/internal/artifacts/{other}?{query}")
    assert response.status_code == 403
    assert "signature does not match" in response.json()["detail"]


@pytest.mark.parametrize("query", ["", "?sig=abc", "?expires=soon&sig=abc", "?expires=" + "9" * 5000 + "&sig=a"])
def test_a_request_without_a_signed_link_is_refused(client, artifact, query):
    response = client.get(f"/internal/artifacts/{artifact}{query}")
    assert response.status_code == 403
    assert "signed artifact link is required" in response.json()["detail"]


def test_the_old_cluster_wide_bearer_token_opens_nothing(client, artifact, settings):
    response = client.get(f"/internal/artifacts/{artifact}", HTTP_AUTHORIZATION=f"Bearer {settings.SECRET_KEY}")
    assert response.status_code == 403


def test_a_signed_link_from_outside_the_cluster_is_refused(client, artifact):
    link = path_of(signed_artifact_url(artifact))
    response = client.get(link, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403
    assert "RAYLANE_INTERNAL_ALLOWED_NETWORKS" in response.json()["detail"]
    # With no proxy configured (NUM_PROXIES=0, the default) a forwarding header a client writes is not believed.
    spoofed = client.get(link, REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert spoofed.status_code == 403


def test_the_allowed_networks_are_a_setting(client, artifact, settings):
    settings.RAYLANE_INTERNAL_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    link = path_of(signed_artifact_url(artifact))
    assert client.get(link, REMOTE_ADDR="10.20.30.40").status_code == 200
    assert client.get(link, REMOTE_ADDR="127.0.0.1").status_code == 403
    settings.NUM_PROXIES = 1  # one proxy of ours in front: the address it saw is the last forwarded one
    assert client.get(link, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 10.9.9.9").status_code == 200
    assert client.get(link, REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR="10.9.9.9, 1.2.3.4").status_code == 403


# --- how links are issued ---


def test_links_stay_the_same_for_days_and_always_have_half_their_lifetime_left(settings):
    settings.RAYLANE_ARTIFACT_URL_TTL_S = 7 * DAY
    sha256 = "a" * 64
    seen = {}
    for hour in range(0, 21 * 24):
        now = NOW + hour * 3600
        link = signed_artifact_url(sha256, now=now)
        expires = int(parse_qs(urlsplit(link).query)["expires"][0])
        assert 3.5 * DAY < expires - now <= 7 * DAY
        seen.setdefault(link, hour)
    assert 6 <= len(seen) <= 7, "a new link every half lifetime (3.5 days), not on every reconcile"


def test_the_signing_key_is_its_own_secret(settings):
    link = signed_artifact_url("a" * 64, now=NOW)
    settings.SECRET_KEY = "a-different-secret-key"
    assert signed_artifact_url("a" * 64, now=NOW) == link, "not derived from SECRET_KEY"
    settings.RAYLANE_ARTIFACT_SIGNING_KEY = "a-different-signing-key"
    assert signed_artifact_url("a" * 64, now=NOW) != link
