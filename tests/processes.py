"""Finding a test's own stray processes by a marker in their command line (their pid may be namespaced)."""

from __future__ import annotations

import os


def live_pids_with(marker: str) -> list[int]:
    """Host pids of live (not zombie) processes whose command line holds ``marker``."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                if marker.encode() not in handle.read():
                    continue
            with open(f"/proc/{entry.name}/stat") as handle:
                if handle.read().rsplit(")", 1)[1].split()[0] != "Z":
                    found.append(int(entry.name))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found
