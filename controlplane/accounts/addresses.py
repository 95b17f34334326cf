"""The client's address, as far as this server can trust it, for throttling and for every audit entry.

`NUM_PROXIES` says how many reverse proxies of ours stand in front of the web process. With 0 (the default) the
address is the TCP peer (`REMOTE_ADDR`) and `X-Forwarded-For` is ignored: anyone can write that header. With N,
each of our proxies appended the address it saw, so the Nth entry from the right was written by our outermost proxy
and is the client; entries further left came from the client itself and are never read.

Audit entries written inside a web request get that request's address even when the service that writes them was
called without it (a context variable the middleware below sets). Entries written outside any request (Celery
tasks, management commands) have no address: `remote_addr` is NULL, which the audit log shows as "system".
"""

import ipaddress
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

_current_address: ContextVar[str | None] = ContextVar("raylane_client_address", default=None)


def valid_ip(value: str) -> str | None:
    """The address in canonical form, or None for anything that is not one (the audit column is `inet`)."""
    try:
        return str(ipaddress.ip_address(value.strip().strip("[]")))
    except ValueError:
        return None


def client_address(request: Any) -> str | None:
    """The client's address for a Django or DRF request, per NUM_PROXIES (see the module docstring)."""
    meta = request.META
    remote = valid_ip(meta.get("REMOTE_ADDR") or "")
    proxies = settings.NUM_PROXIES
    forwarded = meta.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",")]
    return valid_ip(hops[-min(proxies, len(hops))]) or remote


def current_address() -> str | None:
    """The address of the web request being served on this thread or task, None outside a request."""
    return _current_address.get()


class ClientAddressMiddleware:
    """Makes the request's client address available to services (for their audit entries) for its duration."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _current_address.set(client_address(request))
        try:
            return self.get_response(request)
        finally:
            _current_address.reset(token)
