"""Format detection and the load check.

A model file is loaded by the very loader that will serve it (serving.loaders), but in a sandboxed subprocess: a
hostile or broken file can hang or crash that process, never the web server, and code that runs there (a trusted
version, or a bug in a framework's parser) sees no secret. The sandbox (``run_sandboxed``) gives the child:

- an empty environment except PATH, HOME (its own folder), PYTHONPATH, thread limits and the archive limits, so the
  database URL, SECRET_KEY, cluster token and Ray variables never reach it;
- a fresh working folder (also its TMPDIR), deleted afterwards;
- rlimits on address space, CPU seconds, file size, open files and core dumps, plus a process count where the
  kernel enforces one (it exempts root from RLIMIT_NPROC, so as root that limit is recorded as not enforced);
- a network namespace of its own (no interface but a down loopback) where the machine allows ``unshare``; whether
  it had one is recorded in the verdict's details (``sandbox``);
- its own session: on timeout, and after every run, the whole process group is killed, so a forked child cannot
  outlive the check.

Formats that execute code when loaded (pickle, joblib, Python packages, SavedModels) are never loaded before an
admin marks the version trusted; for pickles the admin sees the globals the file would import, read from its
opcodes by the scanner in the same sandbox (the scan of a small compressed file can need a lot of memory and time).
"""

import ctypes
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from controlplane.api.exceptions import ApplicationError
from serving.archive import ArchiveError, check_zip
from serving.loaders import FORMATS, detect_format
from serving.loaders.base import LoaderError

from .choices import ModelFormat, ValidationStatus


class ArtifactRejected(ApplicationError):
    """The upload is not a usable model file; nothing is stored."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="artifact")


@dataclass(frozen=True)
class ValidationResult:
    format: str
    status: ValidationStatus
    framework: str = ""
    framework_version: str = ""
    signature: dict[str, Any] | None = None
    error: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def artifact_validate(*, path: Path, filename: str, size: int, trusted: bool = False) -> ValidationResult:
    """Detect the format of an uploaded file and check that it loads. Raises ArtifactRejected for bad uploads."""
    if size == 0:
        raise ArtifactRejected("artifact is empty (0 bytes)")
    try:
        model_format = detect_format(path, filename)
    except LoaderError as exc:
        raise ArtifactRejected(str(exc)) from exc
    spec = FORMATS[model_format]
    if spec.is_zip:
        try:
            check_zip(
                path,
                max_unpacked_bytes=settings.RAYLANE_MAX_UNPACKED_BYTES,
                max_ratio=settings.RAYLANE_MAX_ZIP_RATIO,
                max_entries=settings.RAYLANE_MAX_ZIP_ENTRIES,
            )
        except ArchiveError as exc:
            raise ArtifactRejected(str(exc)) from exc
    if model_format in (ModelFormat.PICKLE, ModelFormat.JOBLIB) and not trusted:
        return pickle_needs_trust(path, model_format)
    outcome = run_load_check(path, model_format, trusted=trusted)
    status = ValidationStatus(outcome["status"])
    if status == ValidationStatus.INVALID and not trusted:
        reason = outcome.get("error", "unknown error")
        raise ArtifactRejected(f"artifact could not be loaded as {ModelFormat(model_format).label}: {reason}")
    return ValidationResult(
        format=model_format,
        status=status,
        framework=outcome.get("framework") or spec.framework,
        framework_version=outcome.get("framework_version") or "",
        signature=outcome.get("signature"),
        error=outcome.get("error", ""),
        details=outcome.get("details") or {},
    )


def pickle_needs_trust(path: Path, model_format: str) -> ValidationResult:
    """Scan a pickle or joblib file in the sandbox; the file is never loaded and always needs an admin's trust."""
    error = "pickle-based files run code when loaded; an admin must mark this version trusted before it is loaded"
    try:
        outcome = run_load_check(path, model_format, trusted=False, scan_only=True)
    except ArtifactRejected as exc:
        # The scan itself failed (out of memory or time): the file still only waits for trust, with that said.
        outcome = {
            "error": error,
            "details": {
                "pickle_globals": [],
                "scan_complete": False,
                "scan_note": str(exc),
                "scan_verdict": "needs_review",
            },
        }
    return ValidationResult(
        format=model_format,
        status=ValidationStatus.NEEDS_TRUST,
        framework=FORMATS[model_format].framework,
        error=outcome.get("error") or error,
        details=outcome.get("details") or {},
    )


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


def _enter_network_namespace() -> None:
    """Leave the host's network: a new namespace has only a loopback that is down (root, or via a user namespace)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWNET) != 0 and libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) is not permitted")


def network_isolation_available() -> bool:
    """Whether this machine lets a child enter its own network namespace; tried once per process."""
    global _network_isolation
    if _network_isolation is None:
        try:
            subprocess.run(["true"], preexec_fn=_enter_network_namespace, check=True, timeout=30, env={})
            _network_isolation = True
        except (OSError, subprocess.SubprocessError):
            _network_isolation = False
    return _network_isolation


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

    def describe(self) -> dict[str, Any]:
        return {
            "network_isolated": self.network_isolated,
            "memory_bytes": self.memory_bytes,
            "cpu_seconds": self.cpu_seconds,
            "file_bytes": self.file_bytes,
            "open_files": self.open_files,
            "process_limit": self.processes
            if self.processes is not None
            else "not enforced: the kernel exempts root from RLIMIT_NPROC",
            "environment": "empty but for PATH, HOME, TMPDIR, PYTHONPATH, thread and archive limits",
        }


def sandbox_limits() -> SandboxLimits:
    processes = None
    if os.geteuid() != 0:
        processes = _user_task_count() + settings.RAYLANE_VALIDATION_MAX_PROCESSES
    return SandboxLimits(
        memory_bytes=settings.RAYLANE_VALIDATION_MEMORY_BYTES,
        cpu_seconds=settings.RAYLANE_VALIDATION_TIMEOUT_S,
        file_bytes=settings.RAYLANE_VALIDATION_FILE_BYTES,
        open_files=settings.RAYLANE_VALIDATION_OPEN_FILES,
        processes=processes,
        network_isolated=network_isolation_available(),
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


def _preexec(limits: SandboxLimits) -> Any:
    def limit_resources() -> None:  # runs in the child between fork and exec
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if limits.processes is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
        if limits.network_isolated:
            _enter_network_namespace()

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


def run_sandboxed(arguments: list[str], *, timeout: float, limits: SandboxLimits) -> tuple[int, str, str]:
    """Run ``python -m <arguments>`` in the sandbox; return (exit code, stdout tail, stderr tail).

    Output goes to unnamed temporary files, not pipes, so a forked child that keeps them open cannot make the
    parent wait; after the main process ends, its whole process group is killed.
    """
    work_dir = Path(tempfile.mkdtemp(prefix="raylane-validate-"))
    try:
        with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", *arguments],
                cwd=work_dir,
                env=_sandbox_environment(work_dir),
                preexec_fn=_preexec(limits),
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
            return returncode, _tail(stdout, _VERDICT_TAIL_BYTES), _tail(stderr, 64 * 1024)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def run_load_check(path: Path, model_format: str, *, trusted: bool, scan_only: bool = False) -> dict[str, Any]:
    arguments = ["serving.loaders.check", "--format", model_format]
    if scan_only:
        arguments.append("--scan-pickle")
    else:
        arguments.append("--smoke")
        if trusted:
            arguments.append("--trusted")
    arguments.append(str(Path(path).resolve()))
    timeout = settings.RAYLANE_VALIDATION_TIMEOUT_S
    limits = sandbox_limits()
    started = time.monotonic()
    try:
        returncode, stdout, stderr = run_sandboxed(arguments, timeout=timeout, limits=limits)
    except subprocess.TimeoutExpired as exc:
        raise ArtifactRejected(
            f"the load check did not finish within {timeout} s (RAYLANE_VALIDATION_TIMEOUT_S)"
        ) from exc
    lines = stdout.strip().splitlines()
    if returncode != 0 or not lines:
        tail = stderr.strip().splitlines()[-3:]
        if returncode == -signal.SIGXCPU or (returncode < 0 and time.monotonic() - started >= timeout):
            raise ArtifactRejected(f"the load check used more than {timeout} s of CPU (RAYLANE_VALIDATION_TIMEOUT_S)")
        raise ArtifactRejected(f"the load check crashed (exit code {returncode}): {' '.join(tail) or 'no output'}")
    try:
        outcome = json.loads(lines[-1])
    except json.JSONDecodeError as exc:
        raise ArtifactRejected(f"the load check printed an unreadable result: {lines[-1][:200]}") from exc
    if isinstance(outcome, dict) and isinstance(outcome.get("details"), dict):
        outcome["details"]["sandbox"] = limits.describe()
    elif isinstance(outcome, dict):
        outcome["details"] = {"sandbox": limits.describe()}
    return outcome
