"""The Django admin: its login is throttled and audited like the API's, and its changes land in the audit log."""

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import Client

from controlplane.accounts.models import AuditEntry, Team

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def admin_client(people) -> Client:
    client = Client(REMOTE_ADDR="198.51.100.20")
    client.force_login(people["site_admin"])
    return client


def test_admin_login_success_and_failure_are_audited_with_address_and_username(people, settings):
    settings.NUM_PROXIES = 0
    client = Client()
    wrong = client.post(
        ADMIN_LOGIN,
        {"username": "site_admin", "password": "nope"},
        REMOTE_ADDR="198.51.100.3",
        HTTP_X_FORWARDED_FOR="1.1.1.1",
    )
    assert wrong.status_code == 200  # the form again, with its error
    failed = AuditEntry.objects.get(action="login_failed")
    assert (failed.target_repr, failed.remote_addr, failed.changes) == ("site_admin", "198.51.100.3", {"via": "admin"})

    not_staff = client.post(
        ADMIN_LOGIN, {"username": "viewer", "password": "viewer-pass-123"}, REMOTE_ADDR="198.51.100.4"
    )
    assert not_staff.status_code == 200
    assert AuditEntry.objects.filter(action="login_failed", target_repr="viewer").exists()

    ok = client.post(
        ADMIN_LOGIN, {"username": "site_admin", "password": "site_admin-pass-123"}, REMOTE_ADDR="198.51.100.3"
    )
    assert ok.status_code == 302
    entry = AuditEntry.objects.get(action="login")
    assert (entry.actor_username, entry.remote_addr, entry.changes) == ("site_admin", "198.51.100.3", {"via": "admin"})


def test_admin_login_is_throttled_per_address_and_per_username(people, settings):
    cache.clear()
    settings.NUM_PROXIES = 0
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"auth": "3/min", "auth_username": "4/min", "upload": "3/min"},
    }
    client = Client()
    by_address = [
        client.post(ADMIN_LOGIN, {"username": f"u{i}", "password": "x"}, REMOTE_ADDR="203.0.113.9").status_code
        for i in range(4)
    ]
    assert by_address == [200, 200, 200, 429], by_address
    by_username = [
        client.post(ADMIN_LOGIN, {"username": "site_admin", "password": "x"}, REMOTE_ADDR=f"192.0.2.{i}").status_code
        for i in range(5)
    ]
    assert by_username == [200, 200, 200, 200, 429], by_username
    refused = client.post(ADMIN_LOGIN, {"username": "site_admin", "password": "site_admin-pass-123"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "try again" in refused.content.decode()
    cache.clear()


def test_admin_add_change_and_delete_are_audited(admin_client):
    assert admin_client.post("/admin/auth/group/add/", {"name": "ops"}).status_code == 302
    group = Group.objects.get(name="ops")
    assert admin_client.post(f"/admin/auth/group/{group.pk}/change/", {"name": "operators"}).status_code == 302
    assert admin_client.post(f"/admin/auth/group/{group.pk}/delete/", {"post": "yes"}).status_code == 302

    entries = AuditEntry.objects.filter(target_type="auth.group").order_by("id")
    assert [(e.action, e.actor_username, e.remote_addr, e.target_id) for e in entries] == [
        ("create", "site_admin", "198.51.100.20", str(group.pk)),
        ("update", "site_admin", "198.51.100.20", str(group.pk)),
        ("delete", "site_admin", "198.51.100.20", str(group.pk)),
    ]
    assert entries[0].changes == {"via": "admin", "fields": {"name": "ops"}}
    assert entries[1].changes == {"via": "admin", "fields": {"name": {"from": "ops", "to": "operators"}}}


def test_admin_bulk_delete_action_is_audited_under_each_team(admin_client):
    teams = [Team.objects.create(slug=slug, name=slug) for slug in ("tmp-a", "tmp-b")]
    response = admin_client.post(
        "/admin/accounts/team/",
        {"action": "delete_selected", "_selected_action": [t.pk for t in teams], "post": "yes"},
    )
    assert response.status_code == 302
    assert not Team.objects.filter(slug__startswith="tmp-").exists()
    deleted = AuditEntry.objects.filter(action="delete", target_type="accounts.team")
    assert sorted((e.team_slug, e.target_id, e.remote_addr) for e in deleted) == sorted(
        (t.slug, str(t.pk), "198.51.100.20") for t in teams
    )


def test_admin_password_change_is_audited_without_the_password(admin_client, people):
    user = people["viewer"]
    response = admin_client.post(
        f"/admin/auth/user/{user.pk}/password/",
        {"password1": "a-new-long-password-42", "password2": "a-new-long-password-42", "usable_password": "true"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = AuditEntry.objects.get(target_type="auth.user", target_id=str(user.pk), action="update")
    assert entry.changes == {"via": "admin", "fields": {"password": "changed"}}
    assert "a-new-long-password-42" not in str(entry.changes)


def test_admin_user_creation_is_audited_without_the_password(admin_client):
    secret = "a-brand-new-password-77"
    response = admin_client.post(
        "/admin/auth/user/add/",
        {"username": "newcomer", "password1": secret, "password2": secret, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = AuditEntry.objects.get(target_type="auth.user", action="create")
    assert entry.target_repr == "newcomer" and entry.remote_addr == "198.51.100.20"
    assert entry.changes["fields"]["username"] == "newcomer"
    assert secret not in str(entry.changes)


def test_admin_actions_record_one_entry_per_selected_object(admin_client, monkeypatch):
    from django.contrib import admin

    @admin.action(description="Shout")
    def shout(modeladmin, request, queryset):  # type: ignore[no-untyped-def]
        for team in queryset:
            team.name = team.name.upper()
            team.save()

    monkeypatch.setattr(admin.site._registry[Team], "actions", [shout])
    teams = [Team.objects.create(slug=slug, name=slug) for slug in ("loud-a", "loud-b")]
    response = admin_client.post(
        "/admin/accounts/team/", {"action": "shout", "_selected_action": [t.pk for t in teams]}
    )
    assert response.status_code == 302
    assert sorted(Team.objects.filter(slug__startswith="loud-").values_list("name", flat=True)) == ["LOUD-A", "LOUD-B"]
    entries = AuditEntry.objects.filter(action="update", target_type="accounts.team")
    assert sorted((e.team_slug, e.changes["action"], e.remote_addr) for e in entries) == [
        ("loud-a", "shout", "198.51.100.20"),
        ("loud-b", "shout", "198.51.100.20"),
    ]
