"""Hostile model files through the real upload API and the real validation sandbox.

The corpus is generated (tests/hostile.py); every file here is refused with a message naming the problem or stored
as needs_trust with the offending names listed, and the file its payload would create never appears. The full
corpus (over 300 files) is checked in-process by the unit tests; here a representative share goes through the API,
because each upload runs a sandboxed subprocess.
"""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from controlplane.registry.sandbox import network_isolation_available
from controlplane.registry.validation import ArtifactRejected, run_load_check
from tests import factories
from tests.hostile import HostileFile, corpus, write_gzip_long_string_joblib
from tests.processes import live_pids_with

pytestmark = pytest.mark.django_db

SENTINEL_DIR = Path(os.environ.get("RAYLANE_HOSTILE_SENTINEL_DIR", "/tmp/raylane-hostile-sentinel"))
SENTINEL = SENTINEL_DIR / "pwned"


def _api_share(files: list[HostileFile]) -> list[HostileFile]:
    """About sixty-five files: every archive and special case, and an even spread of the skops and pickle gadgets."""
    every = {"skops-": 28, "pickle-p": 5, "joblib-": 4}
    seen = dict.fromkeys(every, 0)
    chosen = []
    for hostile in files:
        prefix = next((prefix for prefix in every if hostile.name.startswith(prefix)), None)
        if hostile.name == "torchscript-garbage.pt":
            continue  # importing torch in a fresh subprocess takes half a minute here; the unit corpus covers it
        if prefix is None or "dtype" in hostile.name or "operator" in hostile.name or "method" in hostile.name:
            chosen.append(hostile)
            continue
        if seen[prefix] % every[prefix] == 0:
            chosen.append(hostile)
        seen[prefix] += 1
    return chosen


HOSTILE = list(corpus(SENTINEL))
API_SHARE = _api_share(HOSTILE)


def test_the_corpus_is_large_and_the_api_share_representative() -> None:
    assert len(HOSTILE) >= 200
    assert 50 <= len(API_SHARE) <= 80
    kinds = {hostile.name.rsplit(".", 1)[1] for hostile in API_SHARE}
    assert kinds == {"skops", "pkl", "joblib", "zip", "onnx", "pt", "keras"}


@pytest.fixture
def iris(people):
    return factories.make_model(people["team"], "iris")


@pytest.fixture
def deployer(people, client_for):
    return client_for(people["deployer"])


@pytest.fixture(scope="module")
def rss_before() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@pytest.mark.parametrize("hostile", API_SHARE, ids=[hostile.name for hostile in API_SHARE])
def test_hostile_upload_is_refused_or_waits_for_trust(iris, deployer, settings, hostile, rss_before) -> None:
    settings.RAYLANE_MAX_UNPACKED_BYTES = 32 * 1024**2
    SENTINEL_DIR.mkdir(parents=True, exist_ok=True)
    for leftover in SENTINEL.parent.glob(f"{SENTINEL.name}*"):
        leftover.unlink()
    response = deployer.post(
        "/api/v1/models/iris/versions/",
        {"artifact": SimpleUploadedFile(hostile.name, hostile.data)},
        format="multipart",
    )
    assert response.status_code in (201, 400), response.content[:500]
    body = response.json()
    if response.status_code == 400:
        answer = json.dumps(body)
    else:
        assert body["validation_status"] == "needs_trust", body
        assert body["deployable"] is False
        answer = body["validation_error"] + json.dumps(body["validation_details"])
    assert hostile.expect in answer, answer[:2000]
    assert list(SENTINEL.parent.glob(f"{SENTINEL.name}*")) == []  # numpy.save appends .npy


def test_web_process_memory_stays_bounded(rss_before) -> None:
    """Runs after the corpus (file order): the web process's peak RSS grew by less than 300 MB over it."""
    growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert growth_kib < 300 * 1024


def test_pickle_details_show_both_scanners_and_the_sandbox(iris, deployer, tmp_path) -> None:
    data = factories.write_booby_pickle(tmp_path / "booby.pkl", tmp_path / "marker").read_bytes()
    body = deployer.post(
        "/api/v1/models/iris/versions/", {"artifact": SimpleUploadedFile("booby.pkl", data)}, format="multipart"
    ).json()
    details = body["validation_details"]
    assert "pathlib.Path.touch" in details["needs_review"]
    assert details["scan_verdict"] == "needs_review"
    assert details["second_opinion"]["tool"] == "fickling"
    assert details["second_opinion"]["version"]
    assert details["sandbox"]["network_isolated"] is network_isolation_available()


# -- the sandbox itself ------------------------------------------------------------------------------------------


def _pyfunc(tmp_path: Path, code: str) -> Path:
    path = tmp_path / "package.zip"
    path.write_bytes(factories.zip_bytes({"model.py": code.encode()}))
    return path


def test_trusted_code_sees_no_secret_and_runs_in_its_own_folder(tmp_path, monkeypatch) -> None:
    for name in ("SECRET_KEY", "RAYLANE_CLUSTER_TOKEN", "RAY_ADDRESS", "RAY_TOKEN_PATH"):
        monkeypatch.setenv(name, "leaked-" + name)
    monkeypatch.setenv("DATABASE_URL", os.environ.get("DATABASE_URL", "postgres://secret@127.0.0.1/x"))
    report = tmp_path / "report.json"
    code = f"""
import json, os
with open({str(report)!r}, "w") as handle:
    json.dump({{"environ": dict(os.environ), "cwd": os.getcwd()}}, handle)
def predict(inputs):
    return inputs
"""
    outcome = run_load_check(_pyfunc(tmp_path, code), "pyfunc", trusted=True)

    assert outcome["status"] == "valid", outcome
    seen = json.loads(report.read_text())
    leaked = [name for name in seen["environ"] if name in ("DATABASE_URL", "SECRET_KEY") or name.startswith("RAY")]
    assert [name for name in leaked if not name.startswith("RAYLANE_MAX_")] == []
    assert "leaked-" not in json.dumps(seen["environ"])
    assert seen["environ"]["OMP_NUM_THREADS"] == "1"
    assert seen["environ"]["HOME"] == seen["cwd"]
    assert not Path(seen["cwd"]).exists()  # the working folder is removed afterwards
    assert outcome["details"]["sandbox"]["network_isolated"] is network_isolation_available()


def test_trusted_code_cannot_reach_the_database_port(tmp_path) -> None:
    if not network_isolation_available():
        pytest.skip("this machine does not allow a network namespace (unshare); the verdict records that")
    report = tmp_path / "network.txt"
    code = f"""
import socket
try:
    socket.create_connection(("127.0.0.1", 5432), timeout=5).close()
    result = "connected"
except OSError as exc:
    result = f"refused: {{exc}}"
open({str(report)!r}, "w").write(result)
def predict(inputs):
    return inputs
"""
    run_load_check(_pyfunc(tmp_path, code), "pyfunc", trusted=True)

    assert report.read_text().startswith("refused")


def test_timeout_kills_the_whole_process_group(tmp_path, settings) -> None:
    settings.RAYLANE_VALIDATION_TIMEOUT_S = 20
    started_file = tmp_path / "child.started"
    marker = f"raylane-orphan-{os.getpid()}-{time.monotonic_ns()}"
    code = f"""
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", {marker!r}])
open({str(started_file)!r}, "w").write(str(child.pid))
time.sleep(600)
"""
    with pytest.raises(ArtifactRejected, match="did not finish within 20 s"):
        run_load_check(_pyfunc(tmp_path, code), "pyfunc", trusted=True)

    assert started_file.exists()
    deadline = time.monotonic() + 10  # SIGKILL is delivered asynchronously; wait for it, bounded
    while live_pids_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_pids_with(marker) == []


def test_a_small_joblib_that_decompresses_to_a_huge_string_leaves_the_web_process_small(iris, deployer, tmp_path):
    """The scan runs in the sandbox and skips long arguments in chunks: the web process never holds the bytes."""
    path = write_gzip_long_string_joblib(tmp_path / "big.joblib", 768 * 1024**2)
    data = path.read_bytes()
    assert len(data) < 4 * 1024**2
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    response = deployer.post(
        "/api/v1/models/iris/versions/", {"artifact": SimpleUploadedFile("big.joblib", data)}, format="multipart"
    )

    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024 < 200
    assert response.status_code == 201, response.json()
    assert "os.system" in response.json()["validation_details"]["needs_review"]
