"""Login: throttled on the real client address (NUM_PROXIES) and on the username, CSRF-protected, 401 on a wrong
password; every audit entry written during a request carries the client's address."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from controlplane.accounts.addresses import client_address
from controlplane.accounts.models import AuditEntry
from controlplane.accounts.services import audit_record

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login/"


@pytest.fixture
def tight_throttles(settings):
    """3 attempts a minute per address and 5 per username; a clean throttle cache before and after."""
    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"auth": "3/min", "auth_username": "5/min", "upload": "3/min"},
    }
    yield
    cache.clear()


def attempt(client: APIClient, username: str = "viewer", **meta: str) -> int:
    return client.post(LOGIN, {"username": username, "password": "wrong"}, format="json", **meta).status_code


def test_spoofed_forwarded_for_does_not_reset_the_address_limit(people, tight_throttles, settings):
    settings.NUM_PROXIES = 0
    client = APIClient()
    codes = [
        attempt(client, f"nobody{i}", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}") for i in range(5)
    ]
    assert codes == [401, 401, 401, 429, 429], codes
    refused = client.post(LOGIN, {"username": "x", "password": "y"}, format="json", REMOTE_ADDR="203.0.113.5")
    assert "throttled" in refused.json()["detail"].lower()
    assert attempt(client, "nobody9", REMOTE_ADDR="203.0.113.6") == 401, "another address has its own budget"


def test_behind_one_proxy_the_rightmost_forwarded_entry_is_the_client(people, tight_throttles, settings):
    settings.NUM_PROXIES = 1
    client = APIClient()
    proxy = {"REMOTE_ADDR": "127.0.0.1"}
    # What the client wrote itself (left of the last entry) changes on every try; our proxy's entry does not.
    codes = [attempt(client, f"nobody{i}", **proxy, HTTP_X_FORWARDED_FOR=f"10.9.9.{i}, 198.51.100.7") for i in range(4)]
    assert codes == [401, 401, 401, 429], codes
    assert attempt(client, "nobody8", **proxy, HTTP_X_FORWARDED_FOR="198.51.100.8") == 401
    failed = AuditEntry.objects.filter(action="login_failed").order_by("id")
    assert {entry.remote_addr for entry in failed} == {"198.51.100.7", "198.51.100.8"}


def test_the_username_limit_holds_across_addresses(people, tight_throttles, settings):
    settings.NUM_PROXIES = 0
    client = APIClient()
    codes = [attempt(client, "Viewer" if i % 2 else "viewer", REMOTE_ADDR=f"192.0.2.{i}") for i in range(7)]
    assert codes == [401] * 5 + [429, 429], codes
    right = client.post(
        LOGIN, {"username": "viewer", "password": "viewer-pass-123"}, format="json", REMOTE_ADDR="192.0.2.99"
    )
    assert right.status_code == 429, "a locked username waits even with the right password"
    assert attempt(client, "deployer", REMOTE_ADDR="192.0.2.100") == 401, "other usernames are not locked"


def test_a_wrong_password_is_401_with_a_www_authenticate_header(people):
    response = APIClient().post(LOGIN, {"username": "viewer", "password": "nope"}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"]
    assert response.json()["detail"] == "Wrong username or password."


def test_session_login_needs_the_csrf_token(people):
    client = APIClient(enforce_csrf_checks=True)
    refused = client.post(LOGIN, {"username": "viewer", "password": "viewer-pass-123"}, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"] and "/api/v1/auth/csrf/" in refused.json()["detail"]
    assert not AuditEntry.objects.filter(action="login").exists()

    token = client.get("/api/v1/auth/csrf/").json()["csrf_token"]
    assert client.cookies["csrftoken"].value
    wrong = client.post(
        LOGIN, {"username": "viewer", "password": "viewer-pass-123"}, format="json", HTTP_X_CSRFTOKEN="x" * 32
    )
    assert wrong.status_code == 403
    credentials = {"username": "viewer", "password": "viewer-pass-123"}
    ok = client.post(LOGIN, credentials, format="json", HTTP_X_CSRFTOKEN=token)
    assert ok.status_code == 200, ok.json()
    assert ok.json()["username"] == "viewer"


def test_services_called_without_an_address_still_audit_the_requests_address(people, settings):
    """token_create is called by the view without any address; the entry still gets the client's."""
    settings.NUM_PROXIES = 0
    client = APIClient()
    client.force_login(people["deployer"])
    created = client.post(
        "/api/v1/tokens/", {"name": "laptop"}, format="json", REMOTE_ADDR="203.0.113.44", HTTP_X_FORWARDED_FOR="6.6.6.6"
    )
    assert created.status_code == 201
    assert AuditEntry.objects.get(action="token_create").remote_addr == "203.0.113.44"


def test_entries_written_outside_a_request_have_no_address(people):
    entry = audit_record(actor=None, action="update", target_type="system.job")
    assert entry.remote_addr is None


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "1.2.3.4", "10.1.1.1"),
        (1, "1.2.3.4, 5.6.7.8", "5.6.7.8"),
        (2, "1.2.3.4, 5.6.7.8, 9.9.9.9", "5.6.7.8"),
        (3, "5.6.7.8", "5.6.7.8"),
        (1, "not-an-address", "10.1.1.1"),
        (1, "", "10.1.1.1"),
    ],
)
def test_client_address_reads_forwarded_for_only_as_far_as_our_proxies(settings, rf, proxies, forwarded, expected):
    settings.NUM_PROXIES = proxies
    request = rf.get("/", REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected


def test_the_address_reaches_services_under_asgi_too(people, settings):
    """The web process is ASGI (uvicorn): the context variable crosses Django's sync/async adapters."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    class FromAddress(AsyncClient):
        def _base_scope(self, **request):  # type: ignore[no-untyped-def]
            return {**super()._base_scope(**request), "client": ["203.0.113.45", 50000]}  # the ASGI peer

    settings.NUM_PROXIES = 0
    client = FromAddress()
    client.force_login(people["deployer"])
    created = async_to_sync(client.post)("/api/v1/tokens/", {"name": "laptop"}, content_type="application/json")
    assert created.status_code == 201
    assert AuditEntry.objects.get(action="token_create").remote_addr == "203.0.113.45"
