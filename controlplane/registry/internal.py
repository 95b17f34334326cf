"""The artifact endpoint Ray replicas download from when the artifact folder is not mounted on their node.

Not part of the public API, and it answers only the cluster: the request must come from one of
RAYLANE_INTERNAL_ALLOWED_NETWORKS (loopback by default) and carry a link the control plane signed for exactly that
sha256 (`?expires=<unix>&sig=<hmac-sha256(key, "<sha256>|<expires>")>`), still unexpired. Replicas get these links
in their user_config, one per version, so no replica ever holds a credential that opens any other artifact.

Links are issued on a fixed grid (every half TTL) rather than per call: the desired state, and so the Serve config
hash, stays the same for days, and reconcile does not re-send every user_config each time it runs.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import time
from datetime import UTC, datetime
from functools import lru_cache

from django.conf import settings
from django.http import FileResponse, HttpRequest, JsonResponse

from controlplane.accounts.addresses import client_address
from controlplane.settings.guards import parse_networks

from .storage import artifact_path

SHA256 = re.compile(r"\A[0-9a-f]{64}\Z")
EXPIRES = re.compile(r"\A[0-9]{1,12}\Z")
ROUTE = "/internal/artifacts"
clock = time.time  # one seam for tests that move the clock past a link's expiry or renewal


def signature(sha256: str, expires: int) -> str:
    key = settings.RAYLANE_ARTIFACT_SIGNING_KEY.encode()
    return hmac.new(key, f"{sha256}|{expires}".encode(), hashlib.sha256).hexdigest()


def link_expiry(now: float, ttl_s: int) -> int:
    """The end of the current link period: between half the TTL and the whole TTL from `now`, and the same value
    for every call within one half-TTL window, so every process issues the same link for a while."""
    window = max(ttl_s // 2, 1)
    return (int(now) // window + 2) * window


def signed_artifact_url(sha256: str, *, now: float | None = None) -> str:
    """The link a replica downloads `sha256` with: valid for that artifact only, until its expiry."""
    expires = link_expiry(clock() if now is None else now, settings.RAYLANE_ARTIFACT_URL_TTL_S)
    base = settings.RAYLANE_INTERNAL_URL.rstrip("/")
    return f"{base}{ROUTE}/{sha256}?expires={expires}&sig={signature(sha256, expires)}"


@lru_cache(maxsize=8)
def allowed_networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return parse_networks(list(entries), "RAYLANE_INTERNAL_ALLOWED_NETWORKS")


def from_cluster(address: str | None) -> bool:
    """Whether a client address (REMOTE_ADDR, or per NUM_PROXIES the one our outermost proxy saw; never a
    forwarding header a client wrote) is inside RAYLANE_INTERNAL_ALLOWED_NETWORKS."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in allowed_networks(tuple(settings.RAYLANE_INTERNAL_ALLOWED_NETWORKS)))


def refused(message: str) -> JsonResponse:
    return JsonResponse({"detail": message}, status=403)


def artifact_download(request: HttpRequest, sha256: str) -> FileResponse | JsonResponse:
    if request.method != "GET":
        return JsonResponse({"detail": "Use GET."}, status=405)
    if not from_cluster(client_address(request)):
        return refused("This endpoint answers only the cluster's nodes (RAYLANE_INTERNAL_ALLOWED_NETWORKS).")
    if not SHA256.match(sha256):
        return JsonResponse({"detail": "Artifacts are addressed by a lowercase sha256 hex digest."}, status=400)
    expires, supplied = request.GET.get("expires", ""), request.GET.get("sig", "")
    if not EXPIRES.match(expires) or not supplied:
        return refused("A signed artifact link is required (expires and sig); replicas get one per version.")
    if not hmac.compare_digest(supplied.encode(), signature(sha256, int(expires)).encode()):
        return refused("The artifact link's signature does not match this artifact.")
    if int(expires) < clock():
        when = datetime.fromtimestamp(int(expires), UTC).isoformat(timespec="seconds")
        return refused(f"The artifact link expired at {when}; reconcile hands replicas fresh ones.")
    path = artifact_path(sha256)
    if not path.exists():
        return JsonResponse({"detail": f"No artifact {sha256}."}, status=404)
    return FileResponse(path.open("rb"), content_type="application/octet-stream")
