"""The sandbox every load check and pickle scan runs in: ``run_sandboxed`` runs ``python -m <module>`` in a
subprocess that a hostile or broken file can hang or crash without touching the web server, and where code that
runs (a trusted version, or a bug in a framework's parser) sees no secret. ``sandbox_limits`` says what this
machine allows; the verdict's details carry ``SandboxLimits.describe()`` (``sandbox``). The child gets:

- an empty environment except PATH, HOME (its own folder), PYTHONPATH, thread limits and the archive limits, so the
  database URL, SECRET_KEY, cluster token and Ray variables never reach it;
- a fresh working folder (also its TMPDIR), deleted afterwards;
- rlimits on address space, CPU seconds, file size, open files and core dumps, a process count where the kernel
  enforces one (it exempts root from RLIMIT_NPROC), and a pids cgroup that holds every process and thread of the
  run to RAYLANE_VALIDATION_MAX_TASKS, root included, where the machine lets us create one (cgroups.py);
- where the machine allows it (util-linux ``unshare``, found once and recorded in the verdict's details,
  ``sandbox``): new PID, mount and network namespaces. The child sees only its own processes (a fresh /proc, so no
  other process's environment), has no network but a down loopback, and finds the project's ``var/``, its
  ``.env``, the secrets file, the artifact root and RAYLANE_VALIDATION_HIDDEN_PATHS covered by empty read-only
  tmpfs (folders) or /dev/null (files); the one artifact being validated is bound read-only into its own folder
  first. Then ``setpriv`` empties every capability set, so root in there cannot unmount the covers, trace a
  process or override file permissions. Without ``unshare`` only the network namespace is tried, as before;
- its own session: on timeout, and after every run, the whole process group is killed (with a PID namespace,
  everything in it dies with its init, even a child that left the group).

What runs inside, and what its answer means, is ``validation.py``'s business.
"""

import ctypes
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from . import cgroups

# Bytes of the verdict read back from the child's stdout (its last line); anything before is the child's output.
_VERDICT_TAIL_BYTES = 8 * 1024**2
_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000
_THREAD_LIMITS = {
    name: "1"
    for name in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
        "TF_NUM_INTRAOP_THREADS",
        "TF_NUM_INTEROP_THREADS",
    )
}
_network_isolation: bool | None = None

# Run by /bin/sh as the init of the sandbox's new PID, mount and network namespaces: bind the artifact read-only
# into the sandbox's folder ($1 -> $2), cover each hidden folder with an empty read-only tmpfs and each hidden file
# with /dev/null, then run the command after "--". The command runs as a child rather than by exec: the kernel
# ignores default-action signals such as SIGXCPU for a namespace's init, and Python must keep them. Any failed
# mount stops the sandbox before the command starts (fail closed).
_SANDBOX_INIT = """set -e
if [ -n "$2" ]; then mount --bind -o ro "$1" "$2"; fi
shift 2
while [ "$1" != "--" ]; do
  case "$1" in
    dir:*) mount -t tmpfs -o ro,size=4k,mode=0755 raylane-hidden "${1#dir:}" ;;
    file:*) mount --bind /dev/null "${1#file:}" ;;
  esac
  shift
done
shift
"$@"
"""
# A fresh /proc in a new PID namespace: the child sees only its own processes, never the web process's environment.
_UNSHARE_OPTIONS = ("--pid", "--fork", "--kill-child", "--mount-proc", "--net", "--propagation", "private")
# Empty bounding, inheritable and ambient sets before Python starts: root in the sandbox keeps uid 0 but cannot
# unmount what hides the secrets, trace a process or override file permissions; no exec can regain a capability.
_SETPRIV_OPTIONS = ("--bounding-set=-all", "--inh-caps=-all", "--ambient-caps=-all", "--no-new-privs", "--")


@dataclass(frozen=True)
class Isolation:
    """What this machine lets the sandbox do, found once per process by trying it."""

    unshare: tuple[str, ...] = ()  # the unshare command line; empty when no namespace could be made
    drop_capabilities: tuple[str, ...] = ()  # the setpriv command line; empty when setpriv is missing or refused
    note: str = ""  # what did not hold, for the verdict's details

    @property
    def namespaces(self) -> bool:
        return bool(self.unshare)


_isolation: Isolation | None = None


def _enter_network_namespace() -> None:
    """Leave the host's network: a new namespace has only a loopback that is down (root, or via a user namespace)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWNET) != 0 and libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) is not permitted")


def network_isolation_available() -> bool:
    """Whether this machine lets a child enter its own network namespace; tried once per process."""
    global _network_isolation
    if _network_isolation is None:
        if sandbox_isolation().namespaces:
            _network_isolation = True  # unshare --net worked in the probe
        else:
            try:
                subprocess.run(["true"], preexec_fn=_enter_network_namespace, check=True, timeout=30, env={})
                _network_isolation = True
            except (OSError, subprocess.SubprocessError):
                _network_isolation = False
    return _network_isolation


def _isolation_works(unshare: tuple[str, ...], drop_capabilities: tuple[str, ...]) -> bool:
    """Run the real sandbox init once, hiding a scratch folder, with ``true`` as the command."""
    with tempfile.TemporaryDirectory(prefix="raylane-probe-") as probe:
        command = [*unshare, "/bin/sh", "-c", _SANDBOX_INIT, "sh", "", "", f"dir:{probe}", "--"]
        try:
            subprocess.run(
                [*command, *drop_capabilities, "true"],
                check=True,
                timeout=30,
                env={"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except (OSError, subprocess.SubprocessError):
            return False
    return True


def _detect_isolation() -> Isolation:
    unshare, setpriv, mount = (shutil.which(name) for name in ("unshare", "setpriv", "mount"))
    if not unshare or not mount:
        return Isolation(note="util-linux unshare or mount not found: no PID or mount namespace, secrets not hidden")
    drops = [(setpriv, *_SETPRIV_OPTIONS)] if setpriv else []
    # As root the namespaces come directly; as another user only inside a user namespace where it maps to root.
    for user_namespace in ((), ("--user", "--map-root-user")):
        command = (unshare, *user_namespace, *_UNSHARE_OPTIONS, "--")
        for drop in [*drops, ()]:
            if _isolation_works(command, drop):
                note = ""
                if not drop:
                    reason = "setpriv not found" if not setpriv else "setpriv was refused"
                    note = f"{reason}: capabilities are not dropped, so root in the sandbox could unmount what hides"
                return Isolation(unshare=command, drop_capabilities=drop, note=note)
    return Isolation(note="unshare was refused: no PID or mount namespace, secrets not hidden")


def sandbox_isolation() -> Isolation:
    """Which namespaces and capability drop the sandbox gets here; tried once per process."""
    global _isolation
    if _isolation is None:
        _isolation = _detect_isolation()
    return _isolation


def _hidden_paths() -> tuple[Path, ...]:
    """The existing folders and files to hide: the settings' list, the secrets file and the artifact root.

    A path inside another is covered by it. A path the sandbox itself needs (an ancestor of the code, of Python
    or of the temporary folder) is never hidden: covering it would break every check, not protect a secret.
    """
    candidates = [
        *settings.RAYLANE_VALIDATION_HIDDEN_PATHS,
        settings.RAYLANE_SECRETS_FILE,
        settings.RAYLANE_ARTIFACT_ROOT,
    ]
    needed = [
        Path(place).resolve() for place in (settings.BASE_DIR, sys.prefix, sys.base_prefix, tempfile.gettempdir())
    ]
    hidden: list[Path] = []
    for path in sorted({Path(candidate).resolve() for candidate in candidates if Path(candidate).exists()}):
        if any(place.is_relative_to(path) for place in needed) or any(path.is_relative_to(top) for top in hidden):
            continue
        hidden.append(path)
    return tuple(hidden)


def _user_task_count() -> int:
    """Processes and threads this user runs now: RLIMIT_NPROC counts them all, not only the child's."""
    uid = os.getuid()
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid == uid:
                count += len(os.listdir(f"/proc/{entry.name}/task"))
        except OSError:
            continue
    return count


@dataclass(frozen=True)
class SandboxLimits:
    memory_bytes: int
    cpu_seconds: int
    file_bytes: int
    open_files: int
    processes: int | None  # None: not enforced (root is exempt from RLIMIT_NPROC)
    network_isolated: bool
    max_tasks: int = 0  # processes and threads of one run, held by a pids cgroup; 0: no cgroup to be had here
    isolation: Isolation = field(default_factory=Isolation)
    hidden_paths: tuple[Path, ...] = ()

    def describe(self) -> dict[str, Any]:
        described = {
            "network_isolated": self.network_isolated,
            "pid_namespace": self.isolation.namespaces,
            "hidden_paths": [str(path) for path in self.hidden_paths] if self.isolation.namespaces else [],
            "capabilities_dropped": bool(self.isolation.drop_capabilities),
            "memory_bytes": self.memory_bytes,
            "cpu_seconds": self.cpu_seconds,
            "file_bytes": self.file_bytes,
            "open_files": self.open_files,
            "process_limit": self.processes
            if self.processes is not None
            else "not enforced: the kernel exempts root from RLIMIT_NPROC",
            "task_limit": self.max_tasks or "none: no pids cgroup can be created on this machine",
            "environment": "empty but for PATH, HOME, TMPDIR, PYTHONPATH, thread and archive limits",
        }
        if self.isolation.note:
            described["isolation_note"] = self.isolation.note
        return described


def sandbox_limits() -> SandboxLimits:
    processes = None
    if os.geteuid() != 0:
        processes = _user_task_count() + settings.RAYLANE_VALIDATION_MAX_PROCESSES
    isolation = sandbox_isolation()
    return SandboxLimits(
        memory_bytes=settings.RAYLANE_VALIDATION_MEMORY_BYTES,
        cpu_seconds=settings.RAYLANE_VALIDATION_TIMEOUT_S,
        file_bytes=settings.RAYLANE_VALIDATION_FILE_BYTES,
        open_files=settings.RAYLANE_VALIDATION_OPEN_FILES,
        processes=processes,
        network_isolated=network_isolation_available(),
        max_tasks=settings.RAYLANE_VALIDATION_MAX_TASKS if cgroups.pids_root() is not None else 0,
        isolation=isolation,
        hidden_paths=_hidden_paths() if isolation.namespaces else (),
    )


def _sandbox_environment(work_dir: Path) -> dict[str, str]:
    """Only what Python and the loaders need; nothing from the web process's environment but paths."""
    python_path = [str(settings.BASE_DIR)]
    if os.environ.get("PYTHONPATH"):
        # Operators point PYTHONPATH at extra model packages; it is a search path, not a secret.
        python_path = [os.environ["PYTHONPATH"], *python_path]
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(work_dir),
        "TMPDIR": str(work_dir),
        "PYTHONPATH": os.pathsep.join(python_path),
        "PYTHONDONTWRITEBYTECODE": "1",
        "LANG": "C.UTF-8",
        **_THREAD_LIMITS,
        "RAYLANE_MAX_UNPACKED_BYTES": str(settings.RAYLANE_MAX_UNPACKED_BYTES),
        "RAYLANE_MAX_ZIP_RATIO": str(settings.RAYLANE_MAX_ZIP_RATIO),
        "RAYLANE_MAX_ZIP_ENTRIES": str(settings.RAYLANE_MAX_ZIP_ENTRIES),
    }


def _preexec(limits: SandboxLimits, group: cgroups.PidsGroup | None) -> Any:
    def limit_resources() -> None:  # runs in the child between fork and exec
        if group is not None:
            group.join()  # before anything else, so every process and thread the run starts is counted
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if limits.processes is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
        if limits.network_isolated and not limits.isolation.namespaces:
            _enter_network_namespace()  # with namespaces, unshare --net does it

    return limit_resources


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return


def _tail(handle: Any, size: int) -> str:
    handle.seek(0, os.SEEK_END)
    end = handle.tell()
    handle.seek(max(end - size, 0))
    return handle.read().decode("utf-8", "replace")


def _isolated_command(command: list[str], *, limits: SandboxLimits, work_dir: Path, artifact: Path | None) -> list[str]:
    """Wrap ``command`` in the namespaces; the artifact is bound read-only into the work folder, since its own
    folder (the artifact root, or its incoming/ during an upload) is hidden like every other secret place."""
    source = target = ""
    if artifact is not None:
        inner = work_dir / "artifact" / artifact.name
        inner.parent.mkdir()
        if artifact.is_dir():
            inner.mkdir()
        else:
            inner.touch()
        source, target = str(artifact), str(inner)
        command = [*command, target]
    hides = [f"{'dir' if path.is_dir() else 'file'}:{path}" for path in limits.hidden_paths]
    return [
        *limits.isolation.unshare,
        "/bin/sh",
        "-c",
        _SANDBOX_INIT,
        "sh",
        source,
        target,
        *hides,
        "--",
        *limits.isolation.drop_capabilities,
        *command,
    ]


def run_sandboxed(
    arguments: list[str], *, timeout: float, limits: SandboxLimits, artifact: Path | None = None
) -> tuple[int, str, str]:
    """Run ``python -m <arguments> [artifact]`` in the sandbox; return (exit code, stdout tail, stderr tail).

    With namespaces the child is handed the artifact's path inside the sandbox, not its real one. Output goes to
    unnamed temporary files, not pipes, so a forked child that keeps them open cannot make the parent wait; after
    the main process ends, its whole process group is killed (and with a PID namespace, everything in it).
    """
    work_dir = Path(tempfile.mkdtemp(prefix="raylane-validate-"))
    command = [sys.executable, "-m", *arguments]
    if limits.isolation.namespaces:
        command = _isolated_command(command, limits=limits, work_dir=work_dir, artifact=artifact)
    elif artifact is not None:
        command.append(str(artifact))
    group = cgroups.pids_group(limits.max_tasks) if limits.max_tasks else None
    try:
        with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
            process = subprocess.Popen(
                command,
                cwd=work_dir,
                env=_sandbox_environment(work_dir),
                preexec_fn=_preexec(limits, group),
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                close_fds=True,
            )
            try:
                returncode = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(process)
                process.wait()
                raise
            finally:
                _kill_group(process)
            if limits.isolation.namespaces and returncode > 128:
                returncode = 128 - returncode  # the init shell reports a child killed by signal N as 128 + N
            return returncode, _tail(stdout, _VERDICT_TAIL_BYTES), _tail(stderr, 64 * 1024)
    finally:
        if group is not None:
            group.remove()
        shutil.rmtree(work_dir, ignore_errors=True)
