"""Zip safety for every zip-based model format (skops, Keras v3, TorchScript, torch.export, SavedModel, pyfunc).

Uploaded archives are untrusted input: a member may try to escape the extraction folder (``../``, absolute
paths, drive letters, symlinks), or the archive may be a bomb that fills the disk of a Ray node. ``check_zip``
reads only the central directory and refuses such archives before anything is unpacked; ``safe_extract`` then
counts the bytes it really writes, because the sizes declared in the directory can lie.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ArchiveError",
    "ArchiveLimits",
    "check_zip",
    "folder_holding",
    "human_bytes",
    "safe_extract",
]

MIB = 1024**2
GIB = 1024**3
# Small members compress extremely well when they are padding or empty tables; only flag ratios of members large
# enough to matter.
RATIO_CHECK_MIN_BYTES = MIB
COPY_CHUNK_BYTES = MIB

_DRIVE_PATH = re.compile(r"^[A-Za-z]:")


class ArchiveError(ValueError):
    """The archive is unsafe or unreadable; the message says why, for a person."""


def human_bytes(n: int | float) -> str:
    """Format a byte count the way people read it: ``3.1 GiB``, ``8 GiB``, ``512 bytes``."""
    if n < 1024:
        return f"{int(n)} bytes" if n != 1 else "1 byte"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    text = f"{value:.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return f"{text} {unit}"


@dataclass(frozen=True)
class ArchiveLimits:
    """The three limits, read from the environment so every Ray node applies the operator's settings."""

    max_unpacked_bytes: int = 8 * GIB
    max_ratio: int = 200
    max_entries: int = 10_000

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ArchiveLimits:
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            max_unpacked_bytes=_env_int(env, "RAYLANE_MAX_UNPACKED_BYTES", defaults.max_unpacked_bytes),
            max_ratio=_env_int(env, "RAYLANE_MAX_ZIP_RATIO", defaults.max_ratio),
            max_entries=_env_int(env, "RAYLANE_MAX_ZIP_ENTRIES", defaults.max_entries),
        )

    def as_kwargs(self) -> dict[str, Any]:
        return {
            "max_unpacked_bytes": self.max_unpacked_bytes,
            "max_ratio": self.max_ratio,
            "max_entries": self.max_entries,
        }


def _env_int(env: Any, name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ArchiveError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ArchiveError(f"{name} must be positive, got {value}")
    return value


def _unsafe_name_reason(name: str) -> str | None:
    """Why extracting a member with this name could write outside the destination, or None when it cannot."""
    if name.startswith(("/", "\\")):
        return "has an absolute path"
    if _DRIVE_PATH.match(name):
        return "has a drive-letter path"
    parts = re.split(r"[\\/]", name)
    if ".." in parts:
        return "has a '..' component that would escape the extraction folder"
    if "\x00" in name:
        return "has a NUL byte in its name"
    return None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return stat.S_ISLNK(mode)


def check_zip(path: str | Path, *, max_unpacked_bytes: int, max_ratio: int, max_entries: int) -> list[str]:
    """Return the member names of a zip archive after refusing anything unsafe to unpack.

    Reads only the central directory, so it is cheap even for multi-GiB archives.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise ArchiveError(f"not a zip archive, or a corrupt one: {exc}") from exc
    except zipfile.LargeZipFile as exc:
        raise ArchiveError(f"zip archive uses features this reader does not support: {exc}") from exc

    if len(infos) > max_entries:
        raise ArchiveError(
            f"archive has {len(infos):,} entries; the limit is {max_entries:,} (RAYLANE_MAX_ZIP_ENTRIES)"
        )

    total = 0
    for info in infos:
        reason = _unsafe_name_reason(info.filename)
        if reason:
            raise ArchiveError(f"archive member {info.filename!r} {reason}")
        if _is_symlink(info):
            raise ArchiveError(f"archive member {info.filename!r} is a symbolic link; links are not allowed")
        total += info.file_size
        if info.file_size > RATIO_CHECK_MIN_BYTES:
            ratio = info.file_size / info.compress_size if info.compress_size else float("inf")
            if ratio > max_ratio:
                raise ArchiveError(
                    f"archive member {info.filename!r} would unpack from {human_bytes(info.compress_size)} to "
                    f"{human_bytes(info.file_size)} (ratio {ratio:,.0f}:1); the limit is {max_ratio}:1 "
                    "(RAYLANE_MAX_ZIP_RATIO), so this looks like a zip bomb"
                )

    if total > max_unpacked_bytes:
        raise ArchiveError(
            f"archive would unpack to {human_bytes(total)}; the limit is {human_bytes(max_unpacked_bytes)} "
            "(RAYLANE_MAX_UNPACKED_BYTES)"
        )
    return [info.filename for info in infos]


def folder_holding(names: list[str], wanted: str) -> str | None:
    """Where an archive keeps ``wanted``: "" for its root, the name of its single top-level folder, else None.

    People zip either a folder's contents or the folder itself; both layouts are accepted, nothing deeper.
    """
    if wanted in names:
        return ""
    top_levels = {name.split("/", 1)[0] for name in names if name.strip("/")}
    if len(top_levels) == 1:
        (top,) = top_levels
        if f"{top}/{wanted}" in names:
            return top
    return None


def safe_extract(
    path: str | Path, dest: str | Path, *, max_unpacked_bytes: int, max_ratio: int, max_entries: int
) -> Path:
    """Extract a checked archive into ``dest`` and return ``dest``.

    Counts the bytes actually written instead of trusting the directory, and refuses to place a file outside
    ``dest`` even if a name slipped past ``check_zip``. File modes from the archive are ignored: nothing
    extracted is executable.
    """
    check_zip(path, max_unpacked_bytes=max_unpacked_bytes, max_ratio=max_ratio, max_entries=max_entries)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    written = 0
    created: list[Path] = []
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                target = (root / info.filename.replace("\\", "/")).resolve()
                if target != root and root not in target.parents:
                    raise ArchiveError(f"archive member {info.filename!r} would be written outside the folder")
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                created.append(target)
                with archive.open(info) as source, open(target, "wb") as sink:
                    while chunk := source.read(COPY_CHUNK_BYTES):
                        written += len(chunk)
                        if written > max_unpacked_bytes:
                            raise ArchiveError(
                                f"archive unpacked to more than {human_bytes(max_unpacked_bytes)} while extracting "
                                f"{info.filename!r}, more than its directory declared; the limit is "
                                f"{human_bytes(max_unpacked_bytes)} (RAYLANE_MAX_UNPACKED_BYTES)"
                            )
                        sink.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        _remove(created)
        raise ArchiveError(f"archive is corrupt and could not be extracted: {exc}") from exc
    except BaseException:
        # A bomb that was cut off leaves a large partial file behind: free the disk straight away.
        _remove(created)
        raise
    return dest


def _remove(paths: list[Path]) -> None:
    for created_path in paths:
        created_path.unlink(missing_ok=True)
