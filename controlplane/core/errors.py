"""One family of domain errors, raised by services, tasks and commands alike.

They say what went wrong in words for people and name the field at fault; they know nothing of HTTP. The API
turns them into responses in one place (`controlplane.api.exceptions.exception_handler`), a management command
prints them, a Celery task logs them, so a service never imports the layer that calls it.
"""

from typing import Any


class ApplicationError(Exception):
    """A domain rule was broken. `field` names the input at fault, when there is one; `extra` goes into the
    response body as it is (e.g. the limit that was exceeded), and `code` is the stable machine-readable name."""

    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra or {}


class NotFound(ApplicationError):
    """The thing asked for does not exist, or the caller's teams cannot see it (the two are not told apart)."""

    code = "not_found"


class PermissionDenied(ApplicationError):
    """The caller is known but lacks the role this change needs."""

    code = "permission_denied"


class Conflict(ApplicationError):
    """The request is valid but the current state forbids it (a name taken, a rollout already running)."""

    code = "conflict"


class PayloadTooLarge(ApplicationError):
    code = "too_large"


class UnsupportedMedia(ApplicationError):
    code = "unsupported_media_type"
