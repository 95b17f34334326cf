"""What the SDK raises: one family, each carrying what the API said (message, field, code, status).

The API answers every refusal with `{"detail": message, "code": code, <field>: [message]}` (domain errors), with DRF's
`{<field>: [message, ...]}` (validation) or `{"detail": message}` (authentication, a missing object); the model
servers answer `{"error": message}`. `error_from_response` turns any of them into the exception of its status, with
the message a person should read first.
"""

from __future__ import annotations

from typing import Any

GENERIC_NOT_FOUND = ("Not found.", "Nothing at ")


class RaylaneError(Exception):
    """Anything the SDK raises on purpose. `message` is one sentence for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ApiError(RaylaneError):
    """The server refused a request. `status` is the HTTP status (None when no answer came), `field` the input at
    fault when the API named one, `errors` every field's messages (`{"steps[1].weight": ["..."]}`), `code` the
    API's machine-readable name (`not_found`, `conflict`, ...), `body` the decoded answer."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        field: str | None = None,
        code: str | None = None,
        errors: dict[str, list[str]] | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status, self.field, self.code, self.body = status, field, code, body
        self.errors = errors or {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status}, field={self.field!r})"


class BadRequest(ApiError):
    """400: the input broke a rule; `field` names it."""


class AuthError(ApiError):
    """401: no token, or a token the server does not accept (unknown, revoked, expired)."""


class PermissionDenied(AuthError):
    """403: the token is good but its user lacks the role (viewer, deployer, admin) this needs."""


class NotFound(ApiError):
    """404: it does not exist, or none of your teams can see it (the API does not tell the two apart)."""


class Conflict(ApiError):
    """409: valid, but the current state forbids it (a name taken, a rollout already running, a refused command)."""


class PayloadTooLarge(ApiError):
    """413: over a size limit the server names."""


class RateLimited(ApiError):
    """429: too many requests of this kind; the message says when to retry."""


class ServerError(ApiError):
    """5xx: the server (or a model) failed; the message says what it could."""


class ServerUnreachable(ApiError):
    """No answer at all: nothing listens at the URL, DNS failed, or it timed out."""


class NotConfigured(AuthError):
    """No server URL or token was given, in the environment, or in the config file."""


class RolloutFailed(RaylaneError):
    """A rollout ended without promoting its candidate: rolled back after a failed analysis or a missed deadline,
    or aborted. `reason` is what the server recorded (e.g. "rolled back: error rate 48.0% > max 5.0%")."""

    def __init__(self, rollout: Any) -> None:
        self.rollout = rollout
        self.phase: str = rollout.phase
        self.reason: str = rollout.reason or rollout.phase
        super().__init__(f"rollout {rollout.id} {rollout.phase}: {self.reason}")


class WaitTimeout(RaylaneError):
    """A wait ran out of time; what was awaited may still happen."""


class StreamError(RaylaneError):
    """A websocket stream could not be opened or was cut; the SDK falls back to polling the REST API."""


STATUS_ERRORS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: AuthError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    429: RateLimited,
}


def error_class(status: int) -> type[ApiError]:
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    return ServerError if status >= 500 else ApiError


def field_errors(body: Any, prefix: str = "") -> dict[str, list[str]]:
    """Every field's messages, nested names flattened: `{"analysis": {"interval_s": ["..."]}}` → `analysis.interval_s`,
    `{"steps": [{}, {"weight": ["..."]}]}` → `steps[1].weight`. DRF's `non_field_errors` and a top-level list have
    the empty name."""
    found: dict[str, list[str]] = {}
    if isinstance(body, dict):
        for key, value in body.items():
            if not prefix and key in ("detail", "code", "error"):
                continue
            name = "" if key == "non_field_errors" else str(key)
            found.update(field_errors(value, f"{prefix}.{name}" if prefix and name else prefix or name))
    elif isinstance(body, list):
        if all(isinstance(item, str) for item in body):
            if body:
                found[prefix] = list(body)
        else:
            for index, item in enumerate(body):
                found.update(field_errors(item, f"{prefix}[{index}]"))
    elif isinstance(body, str) and prefix:
        found[prefix] = [body]
    return found


def one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def error_from_response(status: int, body: Any, *, what: str | None = None) -> ApiError:
    """The exception for an error answer. `what` names what was asked for (`model 'iris'`), so a bare "Not found."
    becomes "model 'iris' not found"."""
    errors = field_errors(body)
    code = body.get("code") if isinstance(body, dict) and isinstance(body.get("code"), str) else None
    detail = None
    if isinstance(body, dict):
        raw = body.get("detail") if body.get("detail") is not None else body.get("error")
        detail = raw if isinstance(raw, str) else None
    elif isinstance(body, str) and body.strip() and not body.lstrip().startswith("<"):
        detail = body
    named = [name for name in errors if name]
    field = named[0] if named else None
    if status == 404 and what and (detail is None or detail.startswith(GENERIC_NOT_FOUND) or "matches the" in detail):
        message = f"{what} not found (or none of your teams can see it)"
    elif detail:
        message = detail
    elif errors:
        message = "; ".join(
            f"{name}: {' '.join(messages)}" if name else " ".join(messages)
            for name, messages in list(errors.items())[:3]
        )
    else:
        message = f"the server answered HTTP {status}"
    return error_class(status)(one_line(message), status=status, field=field, code=code, errors=errors, body=body)
