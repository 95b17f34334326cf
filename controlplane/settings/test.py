"""Test suite: the real Postgres and Redis, fast password hashing, generous throttles unless a test tightens them."""

from .base import *  # noqa: F403
from .base import BASE_DIR, DATABASES, REST_FRAMEWORK, channel_layers, env

DEBUG = False
# Fixed keys of its own: the suite runs without var/secrets.env and never serves anyone.
SECRET_KEY = "test-only-secret-key-never-used-outside-the-test-suite-0123456789"
RAYLANE_ARTIFACT_SIGNING_KEY = "test-only-artifact-signing-key-never-used-outside-the-test-suite"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# One role that may create the test database (by default the local superuser), not make up's two roles. Transactional
# tests flush tables with TRUNCATE, which the audit log refuses unless its owner's session asks for it like this.
_database = env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/raylane")
DATABASES = {
    "default": {
        **DATABASES["default"],
        **_database,
        "OPTIONS": {**_database.get("OPTIONS", {}), "options": "-c raylane.audit_truncate=allow"},
    }
}
DATABASE_APP_ROLE = DATABASES["default"]["USER"]
RAYLANE_ARTIFACT_ROOT = env.path("RAYLANE_ARTIFACT_ROOT", default=str(BASE_DIR / "var" / "test-artifacts"))
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"auth": "10000/min", "auth_username": "10000/min", "upload": "10000/min"},
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Eager unless a test runs a real worker process (tests/integration/live), which sets these for itself.
CELERY_TASK_ALWAYS_EAGER = env.bool("RAYLANE_EAGER_TASKS", default=True)
CELERY_TASK_DEFAULT_QUEUE = env("RAYLANE_TASK_QUEUE", default="celery")
# The in-memory ServeCluster twin; tests of the real cluster build their own RayDashboardCluster.
RAYLANE_SERVE_CLUSTER = env("RAYLANE_SERVE_CLUSTER", default="memory")
# Static files are not collected for tests; WhiteNoise would warn about the missing folder on every request.
MIDDLEWARE = [m for m in MIDDLEWARE if m != "whitenoise.middleware.WhiteNoiseMiddleware"]  # noqa: F405
# Tests drive rollouts tick by tick (rollout_tick), instead of eager Celery re-scheduling itself forever.
RAYLANE_ROLLOUT_AUTO_TICK = env.bool("RAYLANE_ROLLOUT_AUTO_TICK", default=False)
# A Redis database of their own, so tests never mix their sequence numbers, log buffers or monitor lease with a
# `make up` running on the same machine.
REDIS_URL = env("RAYLANE_TEST_REDIS_URL", default="redis://127.0.0.1:6379/15")
CHANNEL_LAYERS = channel_layers(REDIS_URL)
CELERY_BROKER_URL = REDIS_URL
