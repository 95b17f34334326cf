"""The real local Ray head for tests: started once per session on ports shifted by 100, beside any developer head."""

from __future__ import annotations

import atexit
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from operations import ray_head
from serving.head import HeadSettings

# Ranges are 100 wide: two suites on one machine (two checkouts) pick different hundreds.
TEST_PORT_OFFSET = int(os.environ.get("RAYLANE_TEST_RAY_PORT_OFFSET", "100"))
TEST_RAY_DIR_PREFIX = "/tmp/rl-test-ray-"


def _stop_stale_test_heads() -> None:
    """Stop heads left by test sessions that died without teardown (SIGKILL), so their ports are free again."""
    for folder in Path("/tmp").glob(Path(TEST_RAY_DIR_PREFIX).name + "*"):
        try:
            pid = int(folder.name.rsplit("-", 1)[1])
            os.kill(pid, 0)
            continue
        except (ValueError, ProcessLookupError):
            pass
        except PermissionError:
            continue
        settings = HeadSettings.from_env({"RAYLANE_RAY_DIR": str(folder)})
        ray_head.stop_head(settings)
        shutil.rmtree(settings.haproxy_dir, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def ray_cluster(request: pytest.FixtureRequest) -> Iterator[HeadSettings]:
    """A real Ray head on ports shifted by 100, started once per session and always stopped."""
    _stop_stale_test_heads()
    settings = HeadSettings.from_env(
        {
            "RAYLANE_RAY_DIR": f"{TEST_RAY_DIR_PREFIX}{os.getpid()}",
            "RAYLANE_RAY_PORT_OFFSET": str(TEST_PORT_OFFSET),
            "RAYLANE_RAY_AUTH": os.environ.get("RAYLANE_RAY_AUTH", "token"),
            # Ingress replicas drain 30 s before they stop so HAProxy forgets them; nothing routes here.
            "RAYLANE_SERVE_INGRESS_DRAIN_S": "2",
        }
    )
    if ray_head.head_running(settings):
        pytest.fail(f"Port {settings.ports['gcs']} is taken: another test Ray head is running. Stop it first.")

    def stop() -> None:
        ray_head.stop_head(settings)
        atexit.unregister(stop)

    # The finalizer covers normal ends and failures; atexit covers Ctrl-C during a test, when pytest may skip it.
    request.addfinalizer(stop)
    atexit.register(stop)
    try:
        info = ray_head.start_head(settings)
    except KeyboardInterrupt:
        stop()
        raise
    print(f"\nRay test head started in {info.start_seconds:.1f} s at {info.dashboard_url}")
    yield settings
