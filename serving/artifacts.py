"""Artifacts on any node: a shared folder when there is one, else the control plane's internal endpoint through the
version's own signed, expiring link; the sha256 is verified before anything is loaded, and downloads are kept in a
bounded LRU cache on local disk. The fetcher holds no credential: a link opens one artifact, until it expires."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

from serving.archive import human_bytes

CHUNK = 1024 * 1024


class ArtifactUnavailable(Exception):
    """The artifact could not be fetched or did not match its sha256; the message says where it looked."""


def without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ArtifactFetcher:
    def __init__(
        self,
        *,
        shared_path: str | None = None,
        cache_dir: str | None = None,
        cache_bytes: int = 10 * 1024**3,
        timeout_s: float = 60.0,
    ) -> None:
        self.shared_path = Path(shared_path) if shared_path else None
        self.cache_dir = Path(cache_dir or Path(tempfile.gettempdir()) / "raylane-artifact-cache")
        self.cache_bytes = cache_bytes
        self.timeout_s = timeout_s
        self.verified: dict[Path, tuple[float, int]] = {}
        self.lock = threading.Lock()

    def fetch(self, sha256: str, url: str | None = None) -> Path:
        """A local path holding exactly the bytes named by `sha256`, downloaded from `url` (the version's signed
        link) when neither the shared folder nor the cache has them."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ArtifactUnavailable(f"{sha256!r} is not a sha256 hex digest")
        tried = []
        if self.shared_path is not None:
            shared = self.shared_path / "sha256" / sha256[:2] / sha256
            if shared.exists():
                return self.verify(shared, sha256)
            tried.append(f"shared folder {shared}")
        cached = self.cache_dir / sha256
        if cached.exists():
            os.utime(cached)  # mark as recently used for the LRU
            return cached
        if url:
            return self.download(sha256, url)
        tried.append(f"cache {cached}")
        raise ArtifactUnavailable(
            f"artifact {sha256[:12]}… not found ({'; '.join(tried)}) and its version carries no download link"
        )

    def verify(self, path: Path, sha256: str) -> Path:
        stat = path.stat()
        stamp = (stat.st_mtime, stat.st_size)
        if self.verified.get(path) != stamp:
            actual = file_sha256(path)
            if actual != sha256:
                raise ArtifactUnavailable(
                    f"{path} holds sha256 {actual[:12]}…, not {sha256[:12]}…: refusing to load it"
                )
            self.verified[path] = stamp
        return path

    def download(self, sha256: str, url: str) -> Path:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        address = without_query(url)  # messages reach people: never repeat the signature
        digest = hashlib.sha256()
        handle = tempfile.NamedTemporaryFile(dir=self.cache_dir, prefix=".partial-", delete=False)  # noqa: SIM115
        partial = Path(handle.name)
        try:
            with handle, requests.get(url, stream=True, timeout=self.timeout_s) as response:
                if response.status_code != 200:
                    raise ArtifactUnavailable(f"GET {address} answered {response.status_code}: {response.text[:200]}")
                for chunk in response.iter_content(CHUNK):
                    digest.update(chunk)
                    handle.write(chunk)
            if digest.hexdigest() != sha256:
                raise ArtifactUnavailable(f"download from {address} has sha256 {digest.hexdigest()[:12]}…")
            size = partial.stat().st_size
            with self.lock:
                self.evict(keep_free=size)
                final = self.cache_dir / sha256
                os.replace(partial, final)
            return final
        except requests.RequestException as exc:
            detail = str(exc).replace(urlsplit(url).query, "…") if urlsplit(url).query else str(exc)
            raise ArtifactUnavailable(f"could not download {address}: {detail}") from exc
        finally:
            partial.unlink(missing_ok=True)

    def evict(self, *, keep_free: int) -> None:
        """Drop least recently used cached artifacts until `keep_free` more bytes fit under the cache limit."""
        entries = [(path.stat().st_mtime, path.stat().st_size, path) for path in self.cache_dir.iterdir()
                   if not path.name.startswith(".")]  # fmt: skip
        total = sum(size for _, size, _ in entries)
        if keep_free > self.cache_bytes:
            raise ArtifactUnavailable(
                f"artifact is {human_bytes(keep_free)}, more than the whole cache ({human_bytes(self.cache_bytes)})"
            )
        for _, size, path in sorted(entries):
            if total + keep_free <= self.cache_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size

    def cached(self) -> list[str]:
        return sorted(path.name for path in self.cache_dir.glob("*") if not path.name.startswith("."))
