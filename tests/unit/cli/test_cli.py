"""The `raylane` command without a server: version, help, usage errors and a missing login."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import raylane
from raylane.cli import app

runner = CliRunner()


@pytest.fixture
def no_login(tmp_path, monkeypatch):
    """No RAYLANE_* in the environment and an empty config folder: what a fresh machine has."""
    for name in ("RAYLANE_URL", "RAYLANE_TOKEN", "RAYLANE_SERVE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAYLANE_CONFIG", str(tmp_path / "config.json"))
    return tmp_path


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"raylane {raylane.__version__}"


def test_help_documents_exit_codes_and_examples():
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "Exit codes: 0 ok" in text and "4 not found" in text
    assert "raylane rollout start iris --version 2 --policy careful --watch" in text
    commands = ("login", "upload", "deploy", "undeploy", "rollout", "rollback", "predict", "logs", "tokens", "audit")
    for command in commands:
        assert f" {command} " in text
    rollout_help = " ".join(runner.invoke(app, ["rollout", "--help"], env={"COLUMNS": "200"}).stdout.split())
    for command in ("start", "status", "pause", "resume", "promote", "abort"):
        assert f" {command} " in rollout_help


def test_every_command_takes_json():
    commands = [
        ["login"],
        ["logout"],
        ["whoami"],
        ["models", "ls"],
        ["models", "show"],
        ["upload"],
        ["deploy"],
        ["undeploy"],
        ["rollout", "start"],
        ["rollout", "status"],
        ["rollout", "pause"],
        ["rollout", "resume"],
        ["rollout", "promote"],
        ["rollout", "abort"],
        ["rollout", "ls"],
        ["rollback"],
        ["predict"],
        ["logs"],
        ["deployments", "ls"],
        ["policies", "ls"],
        ["tokens", "ls"],
        ["tokens", "create"],
        ["tokens", "revoke"],
        ["audit"],
    ]
    for command in commands:
        result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, command
        assert "--json" in result.stdout, command


def test_usage_errors_exit_2(no_login):
    assert runner.invoke(app, ["upload", str(no_login)]).exit_code == 2  # a folder, and no --model
    assert runner.invoke(app, ["rollback", "iris"]).exit_code == 2  # no --to
    assert runner.invoke(app, ["no-such-command"]).exit_code == 2
    bad_json = runner.invoke(app, ["--url", "http://127.0.0.1:9", "predict", "iris", "--data", "[[1,"])
    assert bad_json.exit_code == 2 and "not JSON" in bad_json.stderr


def test_not_logged_in_is_exit_3_with_one_line(no_login):
    result = runner.invoke(app, ["models", "ls"])
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no Raylane server given") and "raylane login" in lines[0]


def test_logout_without_a_login(no_login):
    result = runner.invoke(app, ["logout", "--json"])
    assert result.exit_code == 0 and '"forgot_token": false' in result.stdout


def test_the_console_script_and_module_run(no_login):
    """`raylane` is installed into the venv (make install: pip install -e . --no-deps) and `python -m raylane` works."""
    script = Path(sys.executable).parent / "raylane"
    assert script.exists(), "run `make install`: it installs the raylane command into the venv"
    for command in ([str(script), "--version"], [sys.executable, "-m", "raylane", "--version"]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, env={**os.environ})
        assert done.returncode == 0 and done.stdout.strip() == f"raylane {raylane.__version__}", done.stderr
    completion = {**os.environ, "_RAYLANE_COMPLETE": "complete_bash", "COMP_WORDS": "raylane roll", "COMP_CWORD": "1"}
    offered = subprocess.run([str(script)], capture_output=True, text=True, timeout=60, env=completion)
    assert offered.stdout.split() == ["rollback", "rollout"], "shell completion (Typer's) completes commands"
