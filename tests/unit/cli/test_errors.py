"""The SDK reads every error body the server writes: the server's own exception handler produces the bodies here,
so a change of their shape on either side fails this test."""

import pytest
from rest_framework import exceptions as drf
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close

from controlplane.api.exceptions import exception_handler
from controlplane.core import errors as domain
from raylane import errors
from raylane.streams import Stream


def sdk_error(exc: Exception, what: str | None = None) -> errors.ApiError:
    response = exception_handler(exc, {})
    return errors.error_from_response(response.status_code, response.data, what=what)


@pytest.mark.parametrize(
    ("server_error", "sdk_class"),
    [
        (domain.ApplicationError("model 'iris' has no version 9", field="version"), errors.BadRequest),
        (domain.PermissionDenied("deployers only"), errors.PermissionDenied),
        (domain.NotFound("no such rollout"), errors.NotFound),
        (domain.Conflict("rollout 7 is progressing; abort it first", field="stable_version"), errors.Conflict),
        (domain.PayloadTooLarge("artifact is 3.1 GiB; the limit is 2 GiB"), errors.PayloadTooLarge),
    ],
)
def test_domain_errors_keep_their_message_field_and_code(server_error, sdk_class):
    error = sdk_error(server_error)
    assert type(error) is sdk_class
    assert error.message == server_error.message
    assert error.field == server_error.field
    assert error.code == server_error.code
    assert error.status == exception_handler(server_error, {}).status_code


def test_validation_errors_name_the_nested_field_and_say_what_is_wrong():
    body = {"analysis": {"interval_s": ["Ensure this value is greater than or equal to 1."]}, "name": ["Required."]}
    error = sdk_error(drf.ValidationError(body))
    assert isinstance(error, errors.BadRequest)
    assert error.field == "analysis.interval_s"
    assert error.errors == {
        "analysis.interval_s": ["Ensure this value is greater than or equal to 1."],
        "name": ["Required."],
    }
    assert error.message == "analysis.interval_s: Ensure this value is greater than or equal to 1.; name: Required."


def test_list_items_are_numbered():
    error = errors.error_from_response(400, {"steps": [{}, {"weight": ["Must be at most 100."]}]})
    assert error.field == "steps[1].weight" and error.message == "steps[1].weight: Must be at most 100."


def test_a_bad_token_is_an_auth_error_with_the_servers_words():
    error = sdk_error(drf.AuthenticationFailed("This token was revoked."))
    assert isinstance(error, errors.AuthError) and not isinstance(error, errors.PermissionDenied)
    assert error.message == "This token was revoked." and error.status == 401


def test_a_bare_not_found_names_what_was_asked_for():
    error = sdk_error(drf.NotFound(), what="model 'nope'")
    assert isinstance(error, errors.NotFound)
    assert error.message == "model 'nope' not found (or none of your teams can see it)"
    # a specific message from the server is kept as it is
    assert sdk_error(domain.NotFound("rollout 3 is gone"), what="rollout 3").message == "rollout 3 is gone"


def test_model_server_errors_and_odd_bodies():
    served = errors.error_from_response(503, {"error": "no version of iris can answer: {'1': 'failed: boom'}"})
    assert isinstance(served, errors.ServerError) and served.message.startswith("no version of iris can answer")
    assert errors.error_from_response(502, "<html>Bad gateway</html>").message == "the server answered HTTP 502"
    assert isinstance(errors.error_from_response(429, {"detail": "Request was throttled."}), errors.RateLimited)
    long = errors.error_from_response(400, {"detail": "x\n" * 400})
    assert "\n" not in long.message and len(long.message) <= 300


@pytest.mark.parametrize(
    ("code", "sdk_class"),
    [
        (4401, errors.AuthError),
        (4403, errors.NotFound),
        (4400, errors.BadRequest),
        (4429, errors.RateLimited),
        (4008, errors.StreamError),
        (1011, errors.StreamError),
    ],
)
def test_websocket_close_codes_become_the_same_exceptions(code, sdk_class):
    closed = ConnectionClosed(Close(code, "why"), None)
    assert type(Stream(connection=None, what="rollout 3").closed(closed)) is sdk_class  # type: ignore[arg-type]


def test_rollout_failed_carries_the_recorded_reason():
    from raylane.types import Rollout

    failed = errors.RolloutFailed(Rollout(id=4, phase="failed", reason="rolled back: error rate 48.0% > max 5.0%"))
    assert failed.reason == "rolled back: error rate 48.0% > max 5.0%"
    assert str(failed) == "rollout 4 failed: rolled back: error rate 48.0% > max 5.0%"
