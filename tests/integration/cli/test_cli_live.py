"""The whole model lifecycle from Python and from a terminal, against a running Raylane (web, worker, monitor, real
Ray): log_model a scikit-learn estimator, deploy it, a canary rollout watched with `raylane rollout status --watch` to
its promotion, a failing version rolled back by itself (exit 1, the reason printed), a rollback, `--json` parsed, and
the one-line errors of an unknown model, a bad token and an unreachable server.

One deployment serves the whole module; each test reads the state it starts from instead of assuming the previous
test's. Waits are bounded by the system's own intervals (policies' pauses and progress deadline, the rollout stall
restart), never fixed sleeps.
"""

from __future__ import annotations

import json
import select
import stat
import time

import numpy as np
import pytest

import raylane
from tests import factories
from tests.integration.live.conftest import LoadGenerator, wait_until, zip_of

from .conftest import TEAM, free_port

# django_db: pytest-django creates the test database only for a run whose tests ask for it. The tests themselves
# write nothing through the ORM (each runs in an empty transaction of its own); the processes they talk to commit.
pytestmark = [pytest.mark.ray, pytest.mark.django_db]

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
# Loads and passes the upload's smoke prediction on a row of zeros; fails every real request.
FAILING_MODEL = b"""import numpy as np

def predict(rows):
    if np.any(np.asarray(rows) != 0):
        raise RuntimeError("this version fails on every real row")
    return np.zeros(len(rows), dtype=np.int64)
"""
PROGRESS_DEADLINE_S = 120  # the engine fails a rollout whose candidate is not ready by then
STALLED_S = 4  # RAYLANE_ROLLOUT_STALLED_S of the live worker: beat restarts a lost tick chain after this
SERVING_TIMEOUT_S = 180  # a first deployment: reconcile, replicas start on Ray, the version loads
ANALYSIS = {"interval_s": 1, "min_requests": 5, "max_error_rate": 0.05}
LOG_TAIL_S = 15  # the monitor tails replica logs every second; a few passes and the websocket's first backlog


def rollout_budget(steps: list[dict]) -> float:
    """The longest a rollout of these steps can honestly take before the engine itself ends it."""
    return PROGRESS_DEADLINE_S + sum(step["pause_s"] or 0 for step in steps) + 2 * STALLED_S


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got: {text!r}"
    return lines[0]


@pytest.fixture(scope="module")
def iris(sdk):
    """A fitted estimator logged from Python with a progress callback, and deployed (version 1)."""
    estimator = factories.train_iris()
    progress: list[tuple[int, int]] = []
    name = f"iris-cli-{int(time.time() * 1000) % 10**8}"
    started = time.monotonic()
    version = sdk.log_model(
        estimator,
        name=name,
        team=TEAM,
        metadata={"dataset": "iris"},
        progress=lambda sent, total: progress.append((sent, total)),
    )
    deployment = sdk.deploy(name, version.version, wait=True, timeout=SERVING_TIMEOUT_S)
    return {
        "name": name,
        "estimator": estimator,
        "version": version,
        "progress": progress,
        "deployment": deployment,
        "deployed_in_s": time.monotonic() - started,
    }


def test_log_model_and_deploy_from_python(iris, sdk, web, live):
    version, progress = iris["version"], iris["progress"]
    assert (version.version, version.format, version.validation_status) == (1, "skops", "valid")
    assert version.deployable and version.metadata == {"dataset": "iris"} and version.created_by == "cli-deployer"
    assert progress[-1] == (version.size, version.size), "the progress callback reached the whole file"
    assert [sent for sent, _ in progress] == sorted(sent for sent, _ in progress)
    assert iris["deployment"].stable_version == 1

    expected = iris["estimator"].predict(np.array(ROWS)).tolist()
    for protocol in ("v1", "v2"):
        answer = sdk.predict(iris["name"], ROWS, protocol=protocol)
        assert answer.version == 1 and answer.predictions == expected, protocol
    pinned = sdk.predict(iris["name"], ROWS, version=1)
    assert pinned.version == 1

    # Without serve_url, the SDK finds the ingress where the console does: the port the server's page announces.
    with raylane.Client(web.url, sdk.transport.token) as discovering:
        assert discovering.serve_url == live["base"]


def test_canary_rollout_watched_to_promotion(iris, sdk, cli, model_files):
    name = iris["name"]
    uploaded = cli("upload", str(model_files["skops_v2"]), "--model", name, "--json")
    assert uploaded.returncode == 0, uploaded.stderr
    candidate = json.loads(uploaded.stdout)
    assert candidate["validation_status"] == "valid" and candidate["deployable"] is True
    stable = sdk.deployments.get(name).stable_version

    steps = [{"weight": 10, "pause_s": 1}, {"weight": 50, "pause_s": None}, {"weight": 100, "pause_s": 0}]
    policy = sdk.policies.create(
        team=TEAM, name=f"canary-{time.time_ns()}", strategy="canary", steps=steps,
        progress_deadline_s=PROGRESS_DEADLINE_S,
    )  # fmt: skip
    budget = rollout_budget(steps)
    started = cli("rollout", "start", name, "--version", str(candidate["version"]), "--policy", policy.name, "--json")
    assert started.returncode == 0, started.stderr
    rollout = json.loads(started.stdout)
    assert (rollout["from_version"], rollout["to_version"]) == (stable, candidate["version"])

    watcher = cli.start("rollout", "status", str(rollout["id"]), "--watch", "--timeout", str(budget))
    try:
        handle = sdk.rollout_handle(rollout["id"])
        for update in handle.watch(timeout=budget):  # the SDK's own watch, over the same websocket
            if update.event.kind == "step" and update.event.data.get("weight") == 50:
                break
        assert update.candidate_weight == 50 and handle.rollout.candidate_weight == 50
        paused = cli("rollout", "pause", str(rollout["id"]), "--json")
        assert paused.returncode == 0 and json.loads(paused.stdout)["phase"] == "paused", paused.stderr
        resumed = cli("rollout", "resume", str(rollout["id"]), "--json")
        assert resumed.returncode == 0 and json.loads(resumed.stdout)["phase"] == "progressing", resumed.stderr
        promoted = cli("rollout", "promote", str(rollout["id"]))
        assert promoted.returncode == 0, promoted.stderr
        output, errors = watcher.communicate(timeout=budget)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, errors
    for seen in ("step 1: 10% to the candidate", "step 2: 50% to the candidate", "paused", "resumed", "succeeded"):
        assert seen in output, f"{seen!r} not in the watch:\n{output}"
    assert output.strip().splitlines()[-1].startswith(f"rollout {rollout['id']} succeeded")

    assert handle.wait(timeout=budget).succeeded
    assert sdk.deployments.get(name).stable_version == candidate["version"]
    wait_until(
        lambda: sdk.predict(name, ROWS).version == candidate["version"],
        timeout_s=budget,
        what=f"v{candidate['version']} answering alone",
    )


def test_a_failing_version_is_rolled_back_and_the_cli_says_why(iris, sdk, admin_sdk, cli, tmp_path):
    name = iris["name"]
    stable = sdk.deployments.get(name).stable_version
    package = tmp_path / "failing.zip"
    package.write_bytes(zip_of({"model.py": FAILING_MODEL}))
    uploaded = sdk.versions.upload(name, package)
    assert uploaded.validation_status == "needs_trust" and not uploaded.deployable
    assert admin_sdk.versions.trust(name, uploaded.version).deployable

    steps = [{"weight": 20, "pause_s": 30}, {"weight": 100, "pause_s": 0}]
    policy = sdk.policies.create(
        team=TEAM, name=f"guarded-{time.time_ns()}", strategy="canary", steps=steps, analysis=ANALYSIS,
        progress_deadline_s=PROGRESS_DEADLINE_S,
    )  # fmt: skip
    budget = rollout_budget(steps)
    with LoadGenerator(f"{sdk.serve_url}/v1/models/{name}:predict", limit_s=budget):
        watched = cli(
            *("rollout", "start", name, "--version", str(uploaded.version), "--policy", str(policy.id)),
            *("--watch", "--timeout", str(budget)),
            timeout=budget + 30,
        )
    assert watched.returncode == 1, watched.stdout + watched.stderr
    reason = one_line(watched.stderr)
    assert reason.startswith("rollout ") and " failed: rolled back: error rate " in reason and "> max 5.0%" in reason
    assert "analysis" in watched.stdout and "failed" in watched.stdout

    rollout = sdk.rollouts.list(deployment=sdk.deployments.id_of(name), limit=1)[0]
    with pytest.raises(raylane.RolloutFailed) as failure:
        sdk.rollout_handle(rollout.id).wait(timeout=budget)
    assert failure.value.reason in reason and failure.value.phase == "failed"
    assert sdk.deployments.get(name).stable_version == stable
    assert sdk.predict(name, ROWS).version == stable

    # The candidate's errors are in the replicas' logs, over REST and over the logs websocket (-f); the monitor
    # tails them once a second.
    wanted = {"level": "ERROR", "q": "fails on every real row"}
    wait_until(lambda: list(sdk.logs(name, **wanted)), timeout_s=LOG_TAIL_S, what="the failures in the logs")
    errors = cli("logs", name, "--level", "ERROR", "--grep", wanted["q"], "-n", "5")
    assert errors.returncode == 0, errors.stderr
    assert "ERROR" in errors.stdout and wanted["q"] in errors.stdout
    follower = cli.start("logs", name, "-f", "--level", "ERROR", "--grep", wanted["q"], "--json")
    try:
        ready, _, _ = select.select([follower.stdout], [], [], LOG_TAIL_S)
        assert ready, "no log line came over the websocket"
        line = json.loads(follower.stdout.readline())
        assert line["level"] == "ERROR" and wanted["q"] in line["message"]
    finally:
        follower.kill()
        follower.communicate(timeout=10)


def test_rollback_to_an_earlier_version(iris, sdk, cli):
    name = iris["name"]
    result = cli("rollback", name, "--to", "1", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["stable_version"] == 1
    assert sdk.deployments.events(name)[-1].kind == "rolled_back"
    wait_until(lambda: sdk.predict(name, ROWS).version == 1, timeout_s=PROGRESS_DEADLINE_S, what="v1 answering again")

    answered = cli("predict", name, "--data", json.dumps(ROWS), "--json")
    assert answered.returncode == 0, answered.stderr
    assert json.loads(answered.stdout)["predictions"] == iris["estimator"].predict(np.array(ROWS)).tolist()
    shown = json.loads(cli("models", "show", name, "--json").stdout)
    assert shown["deployment"]["stable_version"] == 1
    assert [version["version"] for version in shown["versions"]] == list(range(1, len(shown["versions"]) + 1))
    listed = json.loads(cli("models", "ls", "--json").stdout)
    assert name in [model["name"] for model in listed]
    audit = json.loads(cli("audit", "--actor", "cli-deployer", "--limit", "50", "--json").stdout)
    assert {"upload", "create"} <= {entry["action"] for entry in audit}


def test_errors_are_one_line_with_their_exit_code(iris, cli):
    unknown = cli("models", "show", "no-such-model")
    assert unknown.returncode == 4
    assert one_line(unknown.stderr) == "error: model 'no-such-model' not found (or none of your teams can see it)"

    not_deployed = cli("rollback", "no-such-model", "--to", "1")
    assert not_deployed.returncode == 4 and "has no deployment" in one_line(not_deployed.stderr)

    bad_token = cli("models", "ls", RAYLANE_TOKEN="rl_not-a-real-token")
    assert bad_token.returncode == 3
    assert one_line(bad_token.stderr).startswith("error: Invalid token. (log in again with `raylane login`")

    minting = cli("tokens", "create", "from-a-token")  # the API mints tokens for sessions only
    assert minting.returncode == 3 and "logged-in session" in one_line(minting.stderr)

    url = f"http://127.0.0.1:{free_port()}"
    unreachable = cli("models", "ls", RAYLANE_URL=url)
    assert unreachable.returncode == 1
    assert one_line(unreachable.stderr).startswith(f"error: cannot reach the Raylane server at {url}")


def test_login_with_a_password_stores_an_owner_only_config(cli, web, tmp_path):
    config = tmp_path / "raylane" / "config.json"
    fresh = {"RAYLANE_TOKEN": None, "RAYLANE_URL": None, "RAYLANE_CONFIG": str(config)}
    logged_in = cli(
        "login", web.url, "--username", "cli-deployer", "--password-stdin", "--json",
        input="cli-deployer-pass-123\n", **fresh,
    )  # fmt: skip
    assert logged_in.returncode == 0, logged_in.stderr
    assert json.loads(logged_in.stdout)["user"]["username"] == "cli-deployer"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    stored = json.loads(config.read_text())
    assert stored["url"] == web.url and stored["token"].startswith("rl_")

    whoami = cli("whoami", "--json", **fresh)
    assert whoami.returncode == 0 and json.loads(whoami.stdout)["user"]["username"] == "cli-deployer"
    tokens = json.loads(cli("tokens", "ls", "--json", **fresh).stdout)
    mine = next(token for token in tokens if stored["token"].startswith(token["key_prefix"]))
    assert mine["name"].startswith("raylane CLI on ")
    assert cli("tokens", "revoke", str(mine["id"]), **fresh).returncode == 0
    revoked = cli("whoami", **fresh)
    assert revoked.returncode == 3 and "revoked" in one_line(revoked.stderr)

    wrong = cli("login", web.url, "--with-token", "rl_wrong", **fresh)
    assert wrong.returncode == 3 and json.loads(config.read_text()) == stored, "a refused token is not stored"


def test_undeploy(iris, sdk, cli):
    name = iris["name"]
    done = cli("undeploy", name, "--yes", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["model"] == name
    assert sdk.deployments.find(name) is None
    again = cli("undeploy", name, "--yes")
    assert again.returncode == 4 and "has no deployment" in one_line(again.stderr)
