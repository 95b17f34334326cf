"""The one place domain errors become HTTP responses (the DRF `EXCEPTION_HANDLER`).

The errors themselves live in `controlplane.core.errors`, so services raise them without importing the API layer;
this module only decides the status code and the body: `{"detail": message, "code": code, <field>: [message]}`.
"""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from controlplane.core import errors

STATUS_CODES: dict[type[errors.ApplicationError], int] = {
    errors.ApplicationError: status.HTTP_400_BAD_REQUEST,
    errors.PermissionDenied: status.HTTP_403_FORBIDDEN,
    errors.NotFound: status.HTTP_404_NOT_FOUND,
    errors.Conflict: status.HTTP_409_CONFLICT,
    errors.PayloadTooLarge: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    errors.UnsupportedMedia: status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
}


def status_code(exc: errors.ApplicationError) -> int:
    """The status of the nearest mapped class: a subclass an app defines (e.g. ArtifactRejected) needs no entry."""
    return next(STATUS_CODES[cls] for cls in type(exc).__mro__ if cls in STATUS_CODES)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, errors.ApplicationError):
        body: dict[str, Any] = {"detail": exc.message, "code": exc.code, **exc.extra}
        if exc.field:
            body[exc.field] = [exc.message]
        return Response(body, status=status_code(exc))
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    return drf_exception_handler(exc, context)
