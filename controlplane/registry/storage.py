"""The artifact store: files named by their sha256 under RAYLANE_ARTIFACT_ROOT, written once, read-only after."""

import os
from pathlib import Path

from django.conf import settings


def artifact_root() -> Path:
    return Path(settings.RAYLANE_ARTIFACT_ROOT)


def incoming_dir() -> Path:
    """Uploads stream here first: the same filesystem as the store, so moving a finished upload in is atomic."""
    path = artifact_root() / "incoming"
    path.mkdir(parents=True, exist_ok=True)
    return path


def artifact_path(sha256: str) -> Path:
    return artifact_root() / "sha256" / sha256[:2] / sha256


def artifact_store(temp_path: Path, sha256: str) -> bool:
    """Move a finished upload into the store. Returns False (and drops the upload) when the bytes were there."""
    final = artifact_path(sha256)
    if final.exists():
        temp_path.unlink(missing_ok=True)
        return False
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp_path, final)
    final.chmod(0o444)
    return True


def artifact_discard(sha256: str) -> None:
    artifact_path(sha256).unlink(missing_ok=True)
