from pathlib import Path

import pytest

from controlplane.accounts.choices import Role
from tests import factories

pytest_plugins = ["tests.ray_fixtures"]


@pytest.fixture(autouse=True)
def artifact_root(settings, tmp_path: Path) -> Path:
    """Every test gets its own artifact store, so tests can count the files they stored."""
    settings.RAYLANE_ARTIFACT_ROOT = tmp_path / "artifacts"
    return settings.RAYLANE_ARTIFACT_ROOT


@pytest.fixture(scope="session", autouse=True)
def flush_survives_deadlocks():
    """Live tests share a Celery worker and a monitor that keep reading while a transactional test's teardown
    truncates every table; PostgreSQL may then pick the TRUNCATE as a deadlock victim. It is rolled back whole, so
    the flush tries again (a few times, at once: the other side finishes its short transaction meanwhile)."""
    from django.core.management.base import CommandError
    from django.core.management.commands import flush

    original = flush.Command.handle

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        for attempt in range(5):
            try:
                return original(self, *args, **options)
            except CommandError as exc:
                if attempt == 4 or "deadlock detected" not in str(exc.__cause__):
                    raise
        return None

    flush.Command.handle = handle
    yield
    flush.Command.handle = original


@pytest.fixture(scope="session")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real model files trained once per session: skops and ONNX iris classifiers, and a pickled one."""
    folder = tmp_path_factory.mktemp("models")
    return {
        "skops": factories.write_skops(folder / "iris.skops"),
        "skops_v2": factories.write_skops(folder / "iris-v2.skops", seed=1),
        "onnx": factories.write_onnx(folder / "iris.onnx"),
        "pickle": factories.write_pickle(folder / "iris.pkl"),
    }


@pytest.fixture
def people(db) -> dict:
    """Two teams and one user per role: the cast of the permission tests."""
    users = {
        name: factories.make_user(name)
        for name in ("viewer", "deployer", "admin", "outsider", "foreign_deployer", "foreign_admin")
    }
    users["site_admin"] = factories.make_user("site_admin", superuser=True)
    team = factories.make_team(
        "ml", {users["viewer"]: Role.VIEWER, users["deployer"]: Role.DEPLOYER, users["admin"]: Role.ADMIN}
    )
    other = factories.make_team("other", {users["foreign_deployer"]: Role.DEPLOYER, users["foreign_admin"]: Role.ADMIN})
    return {**users, "team": team, "other_team": other}


@pytest.fixture
def client_for():
    return factories.client_for


@pytest.fixture
def twin():
    """The in-memory ServeCluster the control plane drives in tests (settings.test: RAYLANE_SERVE_CLUSTER=memory)."""
    from controlplane.rollouts.serve_target import in_memory_cluster

    in_memory_cluster.cache_clear()
    yield in_memory_cluster()
    in_memory_cluster.cache_clear()


@pytest.fixture(scope="session", autouse=True)
def clean_test_redis():
    """The tests' own Redis database (settings.test) starts empty: no sequence numbers or log lines of a previous
    run, whose database ids this run reuses."""
    import redis
    from django.conf import settings

    redis.Redis.from_url(settings.REDIS_URL).flushdb()


@pytest.fixture
def monitor(twin):
    """The monitor over the twin, ticked by hand (`monitor.tick()`); its first tick is the counters' baseline."""
    from controlplane.monitoring.collector import Monitor

    return Monitor(cluster=twin, prometheus_url="")
