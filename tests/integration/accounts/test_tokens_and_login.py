from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from controlplane.accounts.models import ApiToken, AuditEntry

pytestmark = pytest.mark.django_db


def session_client(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_token_lifecycle_create_use_list_revoke(people):
    client = session_client(people["deployer"])
    created = client.post("/api/v1/tokens/", {"name": "laptop", "expires_in_days": 7}, format="json")
    assert created.status_code == 201, created.json()
    key = created.json()["key"]
    assert key.startswith("rl_")
    token = ApiToken.objects.get(pk=created.json()["id"])
    assert key not in (token.key_hash, token.key_prefix), "only a hash of the key is stored"

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    me = api.get("/api/v1/auth/me/")
    assert me.status_code == 200 and me.json()["username"] == "deployer"
    assert me.json()["teams"] == [{"team": "ml", "role": "deployer"}]

    listed = client.get("/api/v1/tokens/").json()["results"]
    assert [t["name"] for t in listed] == ["laptop"]
    assert "key" not in listed[0]

    assert client.delete(f"/api/v1/tokens/{token.pk}/").status_code == 204
    refused = api.get("/api/v1/auth/me/")
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]
    assert AuditEntry.objects.filter(action="token_revoke", target_id=str(token.pk)).exists()


def test_expired_and_malformed_tokens_are_refused_with_reasons(people):
    client = session_client(people["viewer"])
    key = client.post("/api/v1/tokens/", {"name": "old"}, format="json").json()["key"]
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert "expired" in api.get("/api/v1/models/").json()["detail"]
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert "rl_" in api.get("/api/v1/models/").json()["detail"]
    api.credentials(HTTP_AUTHORIZATION="Bearer rl_unknown")
    assert api.get("/api/v1/models/").json()["detail"] == "Invalid token."


def test_token_expiry_is_bounded(people, settings):
    client = session_client(people["viewer"])
    response = client.post("/api/v1/tokens/", {"name": "forever", "expires_in_days": 100000}, format="json")
    assert response.status_code == 400
    assert "expires_in_days" in response.json()


def test_users_see_and_revoke_only_their_own_tokens(people):
    mine = session_client(people["viewer"]).post("/api/v1/tokens/", {"name": "mine"}, format="json").json()
    other = session_client(people["deployer"])
    assert other.get("/api/v1/tokens/").json()["results"] == []
    assert other.delete(f"/api/v1/tokens/{mine['id']}/").status_code == 404


def test_login_logout_and_failed_login_are_audited(people):
    client = APIClient()
    wrong = client.post("/api/v1/auth/login/", {"username": "viewer", "password": "nope"}, format="json")
    assert wrong.status_code == 401
    assert AuditEntry.objects.filter(action="login_failed", target_repr="viewer").exists()
    ok = client.post("/api/v1/auth/login/", {"username": "viewer", "password": "viewer-pass-123"}, format="json")
    assert ok.status_code == 200
    assert client.get("/api/v1/models/").status_code == 200
    assert AuditEntry.objects.filter(action="login", actor_username="viewer").exists()


def test_login_is_throttled(people, settings):
    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"auth": "3/min", "auth_username": "3/min", "upload": "3/min"},
    }
    client = APIClient()
    codes = [
        client.post("/api/v1/auth/login/", {"username": "viewer", "password": "x"}, format="json").status_code
        for _ in range(5)
    ]
    assert 429 not in codes[:3] and codes[3:] == [429, 429], codes
    assert "throttled" in client.post("/api/v1/auth/login/", {}, format="json").json()["detail"].lower()
    cache.clear()


def test_audit_log_is_append_only_in_the_database(people):
    entry = AuditEntry.objects.create(action="create", target_type="test")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(action="delete")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).delete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT action FROM accounts_auditentry WHERE id = %s", [entry.pk])
        assert cursor.fetchone() == ("create",)


def test_audit_entries_record_who_what_and_the_change(people, client_for):
    client = client_for(people["deployer"])
    client.post("/api/v1/models/", {"name": "fraud", "team": "ml", "tags": ["tabular"]}, format="json")
    client.patch("/api/v1/models/fraud/", {"description": "catches fraud"}, format="json")
    entries = client.get("/api/v1/audit/?target_type=registry.model").json()["results"]
    assert [(e["action"], e["actor_username"], e["team_slug"]) for e in entries] == [
        ("update", "deployer", "ml"),
        ("create", "deployer", "ml"),
    ]
    assert entries[0]["changes"] == {"description": {"from": "", "to": "catches fraud"}}
    assert entries[1]["changes"]["tags"] == ["tabular"]
