"""Production settings pass Django's deployment checklist, and no settings start with a built-in secret outside a
loopback debug server."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from controlplane.settings.guards import INSECURE_SECRET_KEY

SECRET_VARIABLES = ("SECRET_KEY", "RAYLANE_ARTIFACT_SIGNING_KEY", "DEBUG", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE")
REAL_SECRET = "a-production-secret-key-that-is-long-and-random-0123456789-abcdefghij"
REAL_SIGNING_KEY = "an-artifact-signing-key-that-is-long-and-random-9876543210-zyxwvu"


def environment(tmp_path: Path, settings_module: str, **variables: str) -> dict[str, str]:
    """The test process's environment without any secret (nor var/secrets.env), plus `variables`."""
    clean = {name: value for name, value in os.environ.items() if name not in SECRET_VARIABLES}
    return {
        **clean,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "RAYLANE_SECRETS_FILE": str(tmp_path / "no-secrets.env"),
        **variables,
    }


def start(env: dict[str, str]) -> subprocess.CompletedProcess:
    """Load the settings the way every process does at start (django.setup)."""
    code = "import django; django.setup(); print('started')"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    env = environment(
        tmp_path,
        "controlplane.settings.production",
        SECRET_KEY=REAL_SECRET,
        RAYLANE_ARTIFACT_SIGNING_KEY=REAL_SIGNING_KEY,
        ALLOWED_HOSTS="raylane.example.com",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = start(
        environment(tmp_path, "controlplane.settings.production", RAYLANE_ARTIFACT_SIGNING_KEY=REAL_SIGNING_KEY)
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"SECRET_KEY": REAL_SECRET}, "RAYLANE_ARTIFACT_SIGNING_KEY"),
        ({"SECRET_KEY": INSECURE_SECRET_KEY, "RAYLANE_ARTIFACT_SIGNING_KEY": REAL_SIGNING_KEY}, "built-in"),
        ({"SECRET_KEY": REAL_SECRET, "RAYLANE_ARTIFACT_SIGNING_KEY": REAL_SECRET}, "its own random secret"),
    ],
)
def test_production_needs_both_keys_from_the_environment_and_distinct(tmp_path, variables, message):
    result = start(environment(tmp_path, "controlplane.settings.production", **variables))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


@pytest.mark.parametrize(
    "variables",
    [
        {"DEBUG": "false"},
        {"DEBUG": "true", "ALLOWED_HOSTS": "raylane.example.com"},
        {"DEBUG": "true", "ALLOWED_HOSTS": "localhost,*"},
        {"DEBUG": "true", "ALLOWED_HOSTS": "127.0.0.1,0.0.0.0"},
    ],
)
def test_the_built_in_secret_key_is_refused_unless_debug_on_loopback(tmp_path, variables):
    result = start(environment(tmp_path, "controlplane.settings.local", **variables))
    assert result.returncode != 0, result.stdout
    assert "SECRET_KEY is the built-in development key" in result.stderr
    assert "make up" in result.stderr and "secrets.token_urlsafe" in result.stderr, "the message says how to set it"


def test_a_fresh_checkout_still_runs_a_loopback_debug_server(tmp_path):
    result = start(environment(tmp_path, "controlplane.settings.local", ALLOWED_HOSTS="127.0.0.1,localhost,[::1]"))
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_make_writes_random_secrets_once_and_the_settings_read_them(tmp_path):
    make = subprocess.run(
        ["make", "-s", "-f", str(Path(settings.BASE_DIR) / "Makefile"), "var/secrets.env"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert make.returncode == 0, make.stderr
    secrets_file = tmp_path / "var" / "secrets.env"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    values = dict(line.split("=", 1) for line in secrets_file.read_text().splitlines())
    assert set(values) == {"SECRET_KEY", "RAYLANE_ARTIFACT_SIGNING_KEY"}
    assert len(set(values.values())) == 2 and all(len(value) >= 50 for value in values.values())
    again = subprocess.run(
        ["make", "-f", str(Path(settings.BASE_DIR) / "Makefile"), "var/secrets.env"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0 and "up to date" in again.stdout
    assert dict(line.split("=", 1) for line in secrets_file.read_text().splitlines()) == values, "never overwritten"

    env = environment(tmp_path, "controlplane.settings.local", DEBUG="false", RAYLANE_SECRETS_FILE=str(secrets_file))
    code = "import django; django.setup(); from django.conf import settings as s; print(s.SECRET_KEY)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == values["SECRET_KEY"]
