"""GET /api/v1/info/: the server's version and where inference goes, for the SDK, the CLI and the console (they
read the port from the console page before, which said nothing behind a load balancer)."""

import pytest

import raylane

pytestmark = pytest.mark.django_db


def test_info_names_the_version_and_the_ingress_on_this_host(people, client_for, settings):
    settings.RAYLANE_SERVE_PORT = 18080
    settings.RAYLANE_TOKEN_DEFAULT_DAYS, settings.RAYLANE_TOKEN_MAX_DAYS = 30, 90
    settings.ALLOWED_HOSTS = ["cp.example", "[::1]"]
    answer = client_for(people["viewer"]).get("/api/v1/info/", HTTP_HOST="cp.example:8443")
    assert answer.status_code == 200
    assert answer.json() == {
        "version": raylane.__version__,
        "serve_url": "http://cp.example:18080",
        "protocols": ["v1", "v2"],
        "token_default_days": 30,
        "token_max_days": 90,
    }
    assert client_for(people["viewer"]).get("/api/v1/info/", HTTP_HOST="[::1]:8000").json()["serve_url"] == (
        "http://[::1]:18080"
    )


def test_a_configured_ingress_url_wins(people, client_for, settings):
    settings.RAYLANE_SERVE_URL = "https://models.example/"
    assert client_for(people["viewer"]).get("/api/v1/info/").json()["serve_url"] == "https://models.example"


def test_info_needs_a_login(client):
    assert client.get("/api/v1/info/").status_code == 401
