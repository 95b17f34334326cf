"""Login throttles, shared by the API login and the Django admin login.

Two independent limits: one per client address (`auth` rate), so one machine cannot try many passwords, and one per
username (`auth_username` rate), so an attacker who rotates addresses still gets only so many guesses at one account.
The address is `client_address` (NUM_PROXIES), never a forwarding header the client wrote itself. Every attempt
counts, successful or not; a locked-out user waits for the window to pass or uses an API token meanwhile.
"""

import hashlib
from typing import Any, cast

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from .addresses import client_address


def submitted_username(request: Any) -> str:
    """The username a login request carries (DRF's parsed body, or a Django form post), folded for comparison."""
    data = getattr(request, "data", None)
    if data is None:
        data = request.POST
    username = data.get("username", "") if hasattr(data, "get") else ""
    return username.strip().casefold() if isinstance(username, str) else ""


class LoginThrottle(SimpleRateThrottle):
    """Reads its rate when used, not at import, so settings overrides (tests, env) apply."""

    scope: str  # each login throttle names its rate

    def get_rate(self) -> str | None:
        # DRF's stubs type the rates as numbers; they are strings such as "10/min" (None: no limit)
        return cast(str | None, api_settings.DEFAULT_THROTTLE_RATES[self.scope])


class LoginAddressThrottle(LoginThrottle):
    scope = "auth"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_address(request) or "unknown"}


class LoginUsernameThrottle(LoginThrottle):
    scope = "auth_username"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        username = submitted_username(request)
        if not username:
            return None  # nothing to guess at; the address limit still applies
        return self.cache_format % {"scope": self.scope, "ident": hashlib.sha256(username.encode()).hexdigest()}


LOGIN_THROTTLES = (LoginAddressThrottle, LoginUsernameThrottle)


def login_throttle_wait(request: Any) -> float | None:
    """For views outside DRF (the admin login): None when the attempt may go ahead, else seconds to wait."""
    waits = []
    for throttle_class in LOGIN_THROTTLES:
        throttle = throttle_class()
        if not throttle.allow_request(request, None):  # type: ignore[arg-type]  # no DRF view here; none is read
            waits.append(throttle.wait() or 0.0)
    return max(waits) if waits else None
