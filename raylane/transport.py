"""The one HTTP client of the control plane's REST API: base URL, bearer token, error mapping, pagination.

Every resource goes through `Transport.request`, so every refusal becomes the same exceptions (raylane.errors) and
an unreachable server is one sentence naming the URL, never a traceback of sockets.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from . import __version__
from .errors import ApiError, ServerUnreachable, error_from_response

DEFAULT_TIMEOUT_S = 30.0
MAX_PAGE_SIZE = 500  # the API's max_page_size
USER_AGENT = f"raylane-python/{__version__}"


def normalized_url(url: str) -> str:
    """`127.0.0.1:8000` → `http://127.0.0.1:8000`; no trailing slash; refuses what is not an http(s) URL."""
    url = url.strip()
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{url!r} is not an http(s) URL of a Raylane server")
    return url.rstrip("/")


def decoded(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        return response.text


def unreachable(base: str, exc: httpx.HTTPError) -> ServerUnreachable:
    if isinstance(exc, httpx.TimeoutException):
        return ServerUnreachable(f"the server at {base} did not answer in time ({type(exc).__name__})")
    reason = str(exc) or type(exc).__name__
    return ServerUnreachable(f"cannot reach the Raylane server at {base}: {reason}")


class Transport:
    """`request(method, path)` against `<url>/api/v1/<path>`, with the token, raising raylane.errors on refusals."""

    def __init__(self, url: str, token: str | None, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.url = normalized_url(url)
        self.token = token
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def send(self, method: str, path: str, *, what: str | None = None, **kwargs: Any) -> httpx.Response:
        """The raw response of a request that succeeded (2xx); any other answer raises."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise unreachable(self.url, exc) from exc
        if response.is_redirect:
            target = response.headers.get("location", "")
            raise ApiError(
                f"{self.url} redirects to {target}: use that address as the server URL", status=response.status_code
            )
        if response.status_code >= 400:
            raise error_from_response(response.status_code, decoded(response), what=what)
        return response

    def request(self, method: str, path: str, *, what: str | None = None, **kwargs: Any) -> Any:
        response = self.send(method, api_path(path), what=what, **kwargs)
        body = decoded(response)
        if isinstance(body, str):
            raise ApiError(
                f"{self.url}{api_path(path)} answered with something that is not JSON: is {self.url} a Raylane server?",
                status=response.status_code,
            )
        return body

    def get(self, path: str, *, what: str | None = None, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, what=what, params=clean(params))

    def post(self, path: str, body: Any = None, *, what: str | None = None, **kwargs: Any) -> Any:
        return self.request("POST", path, what=what, json=body, **kwargs)

    def patch(self, path: str, body: Any, *, what: str | None = None) -> Any:
        return self.request("PATCH", path, what=what, json=body)

    def delete(self, path: str, *, what: str | None = None) -> Any:
        return self.request("DELETE", path, what=what)

    def paginate(
        self, path: str, *, params: dict[str, Any] | None = None, limit: int | None = None, what: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every object of a list endpoint, page after page, stopping after `limit` objects."""
        query = clean(params) or {}
        query["page_size"] = min(limit, MAX_PAGE_SIZE) if limit else MAX_PAGE_SIZE
        page, given = 1, 0
        while True:
            body = self.request("GET", path, what=what, params={**query, "page": page})
            results = body.get("results", []) if isinstance(body, dict) else body
            for item in results:
                yield item
                given += 1
                if limit is not None and given >= limit:
                    return
            if not isinstance(body, dict) or not body.get("next"):
                return
            page += 1


def api_path(path: str) -> str:
    return path if path.startswith("/") else f"/api/v1/{path}"


def clean(params: dict[str, Any] | None) -> dict[str, Any] | None:
    """Query parameters without the ones left unset."""
    if params is None:
        return None
    return {key: value for key, value in params.items() if value is not None and value != ""}
