"""What Ray's processes inherit from whoever starts the head: every replica, where a trusted version's own code
runs, sees this environment, so no control-plane secret may be in it."""

from pathlib import Path

from operations.ray_head import build_environment
from serving.head import HeadSettings

STARTER = {
    "PATH": "/usr/bin",
    "HOME": "/home/raylane",
    "LANG": "C.UTF-8",
    "OMP_NUM_THREADS": "1",
    "VIRTUAL_ENV": "/app/.venv",
    "RAYLANE_MAX_ZIP_RATIO": "50",  # replicas read the archive limits from their environment
    "SECRET_KEY": "django-secret",
    "RAYLANE_ARTIFACT_SIGNING_KEY": "signing-secret",
    "RAYLANE_CLUSTER_TOKEN": "cluster-secret",
    "RAYLANE_METRICS_TOKEN": "metrics-secret",
    "DATABASE_URL": "postgres://raylane:db-secret@db/raylane",
    "REDIS_URL": "redis://:redis-secret@redis:6379/0",
    "CELERY_BROKER_URL": "redis://:redis-secret@redis:6379/0",
    "AWS_SECRET_ACCESS_KEY": "aws-secret",
    "RAY_AUTH_TOKEN": "ray-secret-from-the-caller",
    "RAY_REDIS_PASSWORD": "ray-redis-secret",
    "DJANGO_SETTINGS_MODULE": "controlplane.settings.production",
}


def test_replicas_inherit_no_control_plane_secret(tmp_path):
    env = build_environment(HeadSettings(ray_dir=tmp_path / "ray"), base=dict(STARTER))
    leaked = [name for name, value in env.items() if "secret" in value]
    assert leaked == []
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "RAYLANE_ARTIFACT_SIGNING_KEY", "DJANGO_SETTINGS_MODULE"):
        assert name not in env


def test_what_ray_and_the_loaders_need_is_kept(tmp_path):
    settings = HeadSettings(ray_dir=tmp_path / "ray")
    env = build_environment(settings, base=dict(STARTER))
    for name in ("PATH", "HOME", "LANG", "OMP_NUM_THREADS", "VIRTUAL_ENV", "RAYLANE_MAX_ZIP_RATIO"):
        assert env[name] == STARTER[name]
    # Ray's own token: every Ray worker needs it to reach the GCS and raylet (see the ray_head docstring).
    assert Path(env["RAY_AUTH_TOKEN_PATH"]) == settings.token_path
