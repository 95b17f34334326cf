"""Format detection and the load check.

A model file is loaded by the very loader that will serve it (serving.loaders), but in a sandboxed subprocess
(``sandbox.py``: an empty environment, resource limits, and namespaces that hide every secret where the machine
allows them), so a hostile or broken file can hang or crash that process, never the web server, and code that runs
there sees no secret. This module decides what to check for each format (zip archive limits, the load check with
a smoke prediction, a pickle scan only), runs ``serving.loaders.check`` in the sandbox and reads its verdict.

Formats that execute code when loaded (pickle, joblib, Python packages, SavedModels) are never loaded before an
admin marks the version trusted; for pickles the admin sees the globals the file would import, read from its
opcodes by the scanner in the same sandbox (the scan of a small compressed file can need a lot of memory and time).
"""

import json
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from controlplane.core.errors import ApplicationError
from serving.archive import ArchiveError, check_zip
from serving.loaders import FORMATS, detect_format
from serving.loaders.base import LoaderError

from .choices import ModelFormat, ValidationStatus
from .sandbox import run_sandboxed, sandbox_limits


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


def run_load_check(path: Path, model_format: str, *, trusted: bool, scan_only: bool = False) -> dict[str, Any]:
    arguments = ["serving.loaders.check", "--format", model_format]
    if scan_only:
        arguments.append("--scan-pickle")
    else:
        arguments.append("--smoke")
        if trusted:
            arguments.append("--trusted")
    timeout = settings.RAYLANE_VALIDATION_TIMEOUT_S
    limits = sandbox_limits()
    started = time.monotonic()
    try:
        returncode, stdout, stderr = run_sandboxed(
            arguments, timeout=timeout, limits=limits, artifact=Path(path).resolve()
        )
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
