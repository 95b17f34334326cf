"""An API token from a username and password, for people who never open the console.

The API mints tokens only for a logged-in session (a token cannot make tokens), so this does what the console does:
fetch the CSRF cookie, log in (the server throttles and audits it), create the token, log out. The password is sent
once, to the server, and never stored.
"""

from __future__ import annotations

import httpx

from .errors import error_from_response
from .transport import DEFAULT_TIMEOUT_S, USER_AGENT, decoded, normalized_url, unreachable
from .types import Token, from_api

CSRF_COOKIE = "csrftoken"


def token_from_password(
    url: str,
    username: str,
    password: str,
    *,
    name: str,
    expires_in_days: int | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> Token:
    """A new API token of `username` (its `key` is shown only now)."""
    base = normalized_url(url)
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json", "Referer": f"{base}/"}
    with httpx.Client(base_url=base, headers=headers, timeout=timeout, follow_redirects=False) as http:
        try:
            csrf = http.get("/api/v1/auth/csrf/")
            check(csrf)
            login = http.post(
                "/api/v1/auth/login/",
                json={"username": username, "password": password},
                headers={"X-CSRFToken": http.cookies.get(CSRF_COOKIE) or str(decoded(csrf).get("csrf_token", ""))},
            )
            check(login)
            # Logging in rotates the CSRF token: the cookie now holds the new one.
            session_headers = {"X-CSRFToken": http.cookies.get(CSRF_COOKIE) or ""}
            body = {"name": name} if expires_in_days is None else {"name": name, "expires_in_days": expires_in_days}
            created = http.post("/api/v1/tokens/", json=body, headers=session_headers)
            check(created)
            http.post("/api/v1/auth/logout/", headers=session_headers)
        except httpx.HTTPError as exc:
            raise unreachable(base, exc) from exc
    return from_api(Token, decoded(created))


def check(response: httpx.Response) -> None:
    if response.status_code >= 400:
        raise error_from_response(response.status_code, decoded(response))
