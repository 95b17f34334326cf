"""Code that runs during validation finds no secret, even as root: not in files, not in other processes' environments.

A trusted Python package (real upload, real admin trust, real sandboxed subprocess) tries, when it is loaded, to read
the secrets file, the project's .env, the artifact store, /proc/1/environ and the environments of the web process
and of another process holding a secret, and to unmount what hides them. The canary value must appear nowhere: not
in what the code read, not in the verdict, not in the stored version.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from controlplane.registry import validation
from controlplane.registry.models import ModelVersion
from controlplane.registry.sandbox import sandbox_isolation, sandbox_limits
from controlplane.registry.services import version_set_trusted
from tests import factories
from tests.processes import live_pids_with

pytestmark = pytest.mark.django_db

CANARY = "canary-3f9a1c7e55d2"


@pytest.fixture
def site(tmp_path, settings):
    """A BASE_DIR-like layout with secrets in var/ and .env, holding the artifact store, and a process with a secret."""
    root = tmp_path / "site"
    (root / "var").mkdir(parents=True)
    secrets_file = root / "var" / "secrets.env"
    secrets_file.write_text(f"SECRET_KEY={CANARY}\nRAYLANE_ARTIFACT_SIGNING_KEY={CANARY}\n")
    secrets_file.chmod(0o600)
    dotenv = root / ".env"
    dotenv.write_text(f"DATABASE_URL=postgres://raylane:{CANARY}@db/raylane\n")
    settings.RAYLANE_SECRETS_FILE = secrets_file
    settings.RAYLANE_ARTIFACT_ROOT = root / "var" / "artifacts"
    extra = [str(root / "var"), str(dotenv)]
    settings.RAYLANE_VALIDATION_HIDDEN_PATHS = [*getattr(settings, "RAYLANE_VALIDATION_HIDDEN_PATHS", []), *extra]
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"],
        env={"SECRET_KEY": CANARY, "PATH": os.environ.get("PATH", "")},
    )
    try:
        yield {"root": root, "secrets": secrets_file, "dotenv": dotenv, "holder_pid": holder.pid}
    finally:
        holder.kill()
        holder.wait()


def _snooping_package(site: dict, report: Path) -> bytes:
    """model.py that tries every way at a secret when imported and writes what it got to ``report``."""
    code = f"""
import ctypes, json, os, subprocess

def attempt(action):
    try:
        value = action()
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    except Exception as exc:
        return f"failed: {{type(exc).__name__}}"

def read(path):
    with open(path, "rb") as handle:
        return handle.read()

def unmount(path):
    libc = ctypes.CDLL(None, use_errno=True)
    return "unmounted" if libc.umount2(path.encode(), 2) == 0 else f"failed: errno {{ctypes.get_errno()}}"

seen = {{
    "secrets": attempt(lambda: read({str(site["secrets"])!r})),
    "dotenv": attempt(lambda: read({str(site["dotenv"])!r})),
    "var": attempt(lambda: os.listdir({str(site["root"] / "var")!r})),
    "init_environ": attempt(lambda: read("/proc/1/environ")),
    "web_environ": attempt(lambda: read("/proc/{os.getpid()}/environ")),
    "holder_environ": attempt(lambda: read("/proc/{site["holder_pid"]}/environ")),
    "every_environ": {{
        pid: attempt(lambda pid=pid: read(f"/proc/{{pid}}/environ")) for pid in os.listdir("/proc") if pid.isdigit()
    }},
    "unmount": attempt(lambda: unmount({str(site["root"] / "var")!r})),
    "umount_command": attempt(lambda: subprocess.run(["umount", "-l", {str(site["root"] / "var")!r}]).returncode),
    "status": attempt(lambda: read("/proc/self/status")),
}}
seen["secrets_after_unmount"] = attempt(lambda: read({str(site["secrets"])!r}))
with open({str(report)!r}, "w") as handle:
    json.dump(seen, handle, default=repr)
# What the code read also goes into the verdict, where an attacker would look for it.
raise RuntimeError(json.dumps(seen, default=repr)[:4000])
"""
    return factories.zip_bytes({"model.py": code.encode()})


def test_trusted_code_reads_no_secret_from_files_or_other_processes(site, people, client_for, tmp_path) -> None:
    report = tmp_path / "seen.json"
    factories.make_model(people["team"], "iris")
    upload = client_for(people["deployer"]).post(
        "/api/v1/models/iris/versions/",
        {"artifact": SimpleUploadedFile("snoop.zip", _snooping_package(site, report))},
        format="multipart",
    )
    assert upload.status_code == 201, upload.json()
    version = ModelVersion.objects.get(model__name="iris", version=upload.json()["version"])
    assert not report.exists()  # untrusted: the package was never imported

    version = version_set_trusted(version=version, trusted=True, user=people["admin"])

    seen = json.loads(report.read_text())
    sandbox = version.validation_details.get("sandbox", {})
    if sandbox.get("pid_namespace") is False:
        pytest.skip(f"this machine gives the sandbox no namespaces: {sandbox.get('isolation_note')}")
    assert CANARY not in json.dumps(seen)
    assert CANARY not in version.validation_error
    assert CANARY not in json.dumps(version.validation_details)
    assert seen["secrets"] in ("", []) or seen["secrets"].startswith("failed")
    assert seen["secrets_after_unmount"] == seen["secrets"]
    assert seen["dotenv"] in ("", []) or seen["dotenv"].startswith("failed")
    assert seen["var"] == [] or str(seen["var"]).startswith("failed")
    assert seen["unmount"].startswith("failed")
    assert seen["umount_command"] != 0
    for name in ("init_environ", "web_environ", "holder_environ"):
        assert "DATABASE_URL" not in seen[name] and "SECRET_KEY" not in seen[name], name
    assert seen["web_environ"].startswith("failed")  # the web process is not even visible
    assert seen["holder_environ"].startswith("failed")
    status = dict(line.split(":\t", 1) for line in seen["status"].splitlines() if ":\t" in line)
    assert int(status["CapEff"], 16) == 0
    assert int(status["CapBnd"], 16) == 0
    assert status["NoNewPrivs"].strip() == "1"
    assert sandbox["capabilities_dropped"] is True
    assert str(site["root"] / "var") in sandbox["hidden_paths"]
    assert str(site["dotenv"]) in sandbox["hidden_paths"]


def test_an_artifact_inside_a_hidden_folder_is_still_loaded(site, tmp_path) -> None:
    """The artifact root is hidden, yet the file being validated (stored there) is bound into the sandbox."""
    path = site["root"] / "var" / "artifacts" / "incoming" / "upload.bin"
    path.parent.mkdir(parents=True)
    factories.write_skops(path)

    result = validation.artifact_validate(path=path, filename="iris.skops", size=path.stat().st_size)

    assert result.status == "valid", result.error
    sandbox = result.details["sandbox"]
    if sandbox.get("pid_namespace"):
        assert str(site["root"] / "var") in sandbox["hidden_paths"]


def test_the_default_hidden_paths_cover_the_project_secrets(settings) -> None:
    hidden = [Path(path) for path in settings.RAYLANE_VALIDATION_HIDDEN_PATHS]
    assert settings.BASE_DIR / "var" in hidden
    assert settings.BASE_DIR / ".env" in hidden


def test_a_child_that_leaves_the_process_group_dies_with_the_sandbox(tmp_path) -> None:
    """setsid escapes a process-group kill, not a PID namespace: its init's death takes every process in it."""
    if not sandbox_isolation().namespaces:
        pytest.skip(f"this machine gives the sandbox no PID namespace: {sandbox_isolation().note}")
    marker = f"raylane-escapee-{os.getpid()}-{time.monotonic_ns()}"
    started = tmp_path / "started"
    code = f"""
import subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", {marker!r}], start_new_session=True)
open({str(started)!r}, "w").write("started")
def predict(inputs):
    return inputs
"""
    package = tmp_path / "package.zip"
    package.write_bytes(factories.zip_bytes({"model.py": code.encode()}))

    outcome = validation.run_load_check(package, "pyfunc", trusted=True)

    assert outcome["status"] == "valid", outcome
    assert started.exists()
    deadline = time.monotonic() + 10  # SIGKILL is delivered asynchronously; wait for it, bounded
    while live_pids_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    survivors = live_pids_with(marker)
    for pid in survivors:  # do not leave the escapee behind when the assertion fails
        os.kill(pid, signal.SIGKILL)
    assert survivors == []


def test_a_fork_bomb_is_held_by_the_task_limit_even_as_root(tmp_path, settings) -> None:
    """RLIMIT_NPROC does not bind root; the run's pids cgroup does, and its leftovers die with it."""
    if not sandbox_limits().max_tasks:
        pytest.skip("this machine lets the sandbox create no pids cgroup")
    settings.RAYLANE_VALIDATION_MAX_TASKS = 40
    marker = f"raylane-forked-{os.getpid()}-{time.monotonic_ns()}"
    code = f"""
import os, sys, time
children = 0
try:
    for _ in range(200):
        pid = os.fork()
        if pid == 0:
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", {marker!r}])
        children += 1
except OSError as exc:
    raise RuntimeError(f"fork refused after {{children}} children: {{exc}}")
raise RuntimeError(f"forked all {{children}} children")
def predict(inputs):
    return inputs
"""
    package = tmp_path / "package.zip"
    package.write_bytes(factories.zip_bytes({"model.py": code.encode()}))

    outcome = validation.run_load_check(package, "pyfunc", trusted=True)

    survivors = live_pids_with(marker)
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert "fork refused after" in outcome.get("error", ""), outcome
    forked = int(outcome["error"].split("fork refused after ")[1].split()[0])
    assert 0 < forked < 40
    assert outcome["details"]["sandbox"]["task_limit"] == 40
    assert survivors == []
