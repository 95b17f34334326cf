"""Property-based run over the whole OpenAPI schema, authenticated as a site admin.

Hundreds of generated requests, valid and invalid: none may produce a 5xx, and every response must match the
schema's documented shape and content type.
"""

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import checks as st_checks

from tests import factories

REQUESTS = {"count": 0}
MINIMUM_REQUESTS = 500


@pytest.fixture
def api_schema(db, people, model_files):
    iris = factories.make_model(people["team"], "iris")
    from django.core.files.uploadedfile import SimpleUploadedFile

    admin = factories.client_for(people["site_admin"])
    admin.post(
        "/api/v1/models/iris/versions/",
        {"artifact": SimpleUploadedFile("iris.skops", model_files["skops"].read_bytes())},
        format="multipart",
    )
    assert iris.versions.count() == 1
    # Like Django's test client: keep the test's connection (and transaction) open across requests.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler())
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def admin_headers(people) -> dict[str, str]:
    from controlplane.accounts.services import token_create

    _, key = token_create(user=people["site_admin"], name="schemathesis")
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module", autouse=True)
def enough_requests():
    yield
    if REQUESTS["count"]:
        assert REQUESTS["count"] >= MINIMUM_REQUESTS, f"only {REQUESTS['count']} generated requests ran"


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_never_fails_and_matches_its_schema(case, admin_headers):
    REQUESTS["count"] += 1
    case.call_and_validate(
        headers=admin_headers,
        checks=[
            st_checks.not_a_server_error,
            st_checks.response_schema_conformance,
            st_checks.content_type_conformance,
        ],
    )
