"""Domain errors (controlplane.core.errors) become HTTP answers in one handler; an app's own subclass needs no entry."""

import pytest

from controlplane.api.exceptions import exception_handler
from controlplane.core import errors
from controlplane.registry.validation import ArtifactRejected


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (errors.ApplicationError("bad"), 400, "invalid"),
        (errors.PermissionDenied("no"), 403, "permission_denied"),
        (errors.NotFound("gone"), 404, "not_found"),
        (errors.Conflict("busy"), 409, "conflict"),
        (errors.PayloadTooLarge("big"), 413, "too_large"),
        (errors.UnsupportedMedia("what"), 415, "unsupported_media_type"),
        (ArtifactRejected("not a model"), 400, "invalid"),
    ],
)
def test_each_domain_error_has_its_status_and_code(error, status, code):
    response = exception_handler(error, {})
    assert response.status_code == status
    assert response.data["code"] == code and response.data["detail"] == error.message


def test_the_field_at_fault_and_extra_details_are_in_the_body():
    error = errors.Conflict("v3 is rolling out", field="version", extra={"rollout": 7})
    assert exception_handler(error, {}).data == {
        "detail": "v3 is rolling out",
        "code": "conflict",
        "version": ["v3 is rolling out"],
        "rollout": 7,
    }
