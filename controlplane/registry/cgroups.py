"""A pids cgroup for each sandbox run: the process-count limit that also binds root.

RLIMIT_NPROC does not apply to root (the control plane runs as root on one-machine installs and in CI), so a
trusted package's fork bomb would only be stopped by the validation timeout. A cgroup's ``pids.max`` counts every
task (process or thread) of the run, whoever runs it, and the run's leftovers are killed through the cgroup.

cgroup v1's pids controller (``/sys/fs/cgroup/pids``) or v2 with the pids controller enabled for children
(``/sys/fs/cgroup``); where neither is writable the sandbox says so in its verdict and goes on without it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))
_REMOVE_WAIT_S = 2.0


def pids_root() -> Path | None:
    for root in _ROOTS:
        if root == Path("/sys/fs/cgroup"):
            try:  # v2: children may use the pids controller only when the root hands it down
                if "pids" not in (root / "cgroup.subtree_control").read_text().split():
                    continue
            except OSError:
                continue
        if root.is_dir() and os.access(root, os.W_OK):
            return root
    return None


@dataclass(frozen=True)
class PidsGroup:
    """One run's cgroup: the child joins it before exec, so everything it starts is counted and can be killed."""

    path: Path
    max_tasks: int

    def join(self) -> None:
        """Move the calling process into the group (the sandbox's preexec, between fork and exec)."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def remove(self) -> None:
        """Kill whatever is left in the group and delete it; a group still busy after a short wait is left empty."""
        deadline = time.monotonic() + _REMOVE_WAIT_S
        while True:
            try:
                pids = [int(pid) for pid in (self.path / "cgroup.procs").read_text().split()]
            except OSError:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
            try:
                self.path.rmdir()
                return
            except OSError:
                if time.monotonic() >= deadline:
                    return
                time.sleep(0.02)


def pids_group(max_tasks: int) -> PidsGroup | None:
    """A new cgroup limited to ``max_tasks`` tasks, or None where this machine lets us create none."""
    root = pids_root()
    if root is None:
        return None
    path = root / f"raylane-validate-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    try:
        path.mkdir()
        (path / "pids.max").write_text(str(max_tasks))
    except OSError:
        with contextlib.suppress(OSError):
            path.rmdir()
        return None
    return PidsGroup(path=path, max_tasks=max_tasks)
