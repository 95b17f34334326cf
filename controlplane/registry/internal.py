"""The artifact endpoint Ray replicas download from when the artifact folder is not mounted on their node.

Not part of the public API: it authenticates with the per-cluster token, not with user tokens, and serves bytes by
sha256 only, so a replica can fetch exactly what its config names and nothing else.
"""

import hashlib
import hmac
import re

from django.conf import settings
from django.http import FileResponse, HttpRequest, JsonResponse

from .storage import artifact_path

SHA256 = re.compile(r"^[0-9a-f]{64}$")


def cluster_token() -> str:
    """RAYLANE_CLUSTER_TOKEN, or one derived from SECRET_KEY so a fresh install works without another secret."""
    if settings.RAYLANE_CLUSTER_TOKEN:
        return settings.RAYLANE_CLUSTER_TOKEN
    return hmac.new(settings.SECRET_KEY.encode(), b"raylane-cluster-artifacts", hashlib.sha256).hexdigest()


def artifact_download(request: HttpRequest, sha256: str) -> FileResponse | JsonResponse:
    if request.method != "GET":
        return JsonResponse({"detail": "Use GET."}, status=405)
    supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(supplied.encode(), cluster_token().encode()):
        return JsonResponse({"detail": "A valid cluster token is required."}, status=401)
    if not SHA256.match(sha256):
        return JsonResponse({"detail": "Artifacts are addressed by a lowercase sha256 hex digest."}, status=400)
    path = artifact_path(sha256)
    if not path.exists():
        return JsonResponse({"detail": f"No artifact {sha256}."}, status=404)
    return FileResponse(path.open("rb"), content_type="application/octet-stream")
