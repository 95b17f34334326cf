"""Format detection and the load check.

A model file is loaded by the very loader that will serve it (serving.loaders), but in a subprocess with a time and
memory limit: a hostile or broken file can hang or crash that process, never the web server. Formats that execute
code when loaded (pickle, joblib, Python packages) are never loaded before an admin marks the version trusted; for
pickles the admin sees the globals the file would import, read from its opcodes.
"""

import json
import os
import resource
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from controlplane.api.exceptions import ApplicationError
from serving.archive import ArchiveError, check_zip
from serving.loaders import FORMATS, detect_format
from serving.loaders.base import LoaderError
from serving.pickle_scan import risky, scan_pickle_globals

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
    scan = scan_pickle_globals(path, inline_arrays=model_format == ModelFormat.JOBLIB)
    return ValidationResult(
        format=model_format,
        status=ValidationStatus.NEEDS_TRUST,
        framework=FORMATS[model_format].framework,
        error="pickle-based files run code when loaded; an admin must mark this version trusted before it is loaded",
        details={
            "pickle_globals": list(scan.globals),
            "risky_globals": risky(scan.globals),
            "scan_complete": scan.complete,
            "scan_note": scan.note,
        },
    )


def limit_resources() -> None:  # runs in the child between fork and exec
    memory = settings.RAYLANE_VALIDATION_MEMORY_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = settings.RAYLANE_VALIDATION_TIMEOUT_S
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_load_check(path: Path, model_format: str, *, trusted: bool) -> dict[str, Any]:
    command = [sys.executable, "-m", "serving.loaders.check", "--format", model_format, "--smoke", str(path)]
    if trusted:
        command.insert(-1, "--trusted")
    environment = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "RAYLANE_MAX_UNPACKED_BYTES": str(settings.RAYLANE_MAX_UNPACKED_BYTES),
        "RAYLANE_MAX_ZIP_RATIO": str(settings.RAYLANE_MAX_ZIP_RATIO),
        "RAYLANE_MAX_ZIP_ENTRIES": str(settings.RAYLANE_MAX_ZIP_ENTRIES),
    }
    timeout = settings.RAYLANE_VALIDATION_TIMEOUT_S
    try:
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=settings.BASE_DIR,
            env=environment,
            preexec_fn=limit_resources,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise ArtifactRejected(
            f"the load check did not finish within {timeout} s (RAYLANE_VALIDATION_TIMEOUT_S)"
        ) from exc
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        tail = completed.stderr.strip().splitlines()[-3:]
        raise ArtifactRejected(
            f"the load check crashed (exit code {completed.returncode}): {' '.join(tail) or 'no output'}"
        )
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError as exc:
        raise ArtifactRejected(f"the load check printed an unreadable result: {lines[-1][:200]}") from exc
