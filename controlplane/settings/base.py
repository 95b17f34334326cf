"""Settings shared by every environment. Everything that differs between machines comes from the environment."""

import sys
from datetime import timedelta
from pathlib import Path

import environ

from .guards import INSECURE_ARTIFACT_SIGNING_KEY, INSECURE_SECRET_KEY, parse_networks

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")
# Random secrets `make up` generates on first run (0600); the environment still wins over the file.
RAYLANE_SECRETS_FILE = Path(env("RAYLANE_SECRETS_FILE", default=str(BASE_DIR / "var" / "secrets.env")))
if RAYLANE_SECRETS_FILE.is_file():
    environ.Env.read_env(RAYLANE_SECRETS_FILE)

# The built-in keys only serve a loopback debug server: local.py and production.py refuse them otherwise (guards.py).
SECRET_KEY = env("SECRET_KEY", default=INSECURE_SECRET_KEY)
# Signs the expiring per-artifact download links replicas get; its own secret, never derived from SECRET_KEY.
RAYLANE_ARTIFACT_SIGNING_KEY = env("RAYLANE_ARTIFACT_SIGNING_KEY", default=INSECURE_ARTIFACT_SIGNING_KEY)
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "channels",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "controlplane.api",
    "controlplane.accounts",
    "controlplane.registry",
    "controlplane.rollouts",
    "controlplane.monitoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "controlplane.accounts.addresses.ClientAddressMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "controlplane.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "controlplane.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "controlplane" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Two database roles. The app connects as DATABASE_URL's role, which reads and writes rows but owns no table, so
# even an injected query cannot alter the schema, drop the audit log's triggers or rewrite its entries (it may only
# SELECT and INSERT there). `manage.py migrate` connects as DATABASE_MIGRATE_URL's role, the tables' owner, and
# grants the app role its rights (accounts/dbroles.py). `make up` uses two local roles that
# scripts/check_services.py creates: raylane (owner) and raylane_app. Setting only DATABASE_URL uses one role for
# both, as before (the test suite does this).
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://raylane_app@127.0.0.1:5432/raylane")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASE_APP_ROLE = DATABASES["default"]["USER"]
DATABASE_MIGRATE_URL = env(
    "DATABASE_MIGRATE_URL", default=env("DATABASE_URL", default="postgres://raylane@127.0.0.1:5432/raylane")
)
if sys.argv[1:2] == ["migrate"]:  # `manage.py migrate` (or django-admin): the only command that runs as the owner
    DATABASES["default"] = {**DATABASES["default"], **environ.Env.db_url_config(DATABASE_MIGRATE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "raylane",
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(BASE_DIR / "var" / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# The web console's build (`npm run build` in frontend/), served under /static/app/; absent until it is built.
STATICFILES_DIRS = [("app", BASE_DIR / "frontend" / "dist")] if (BASE_DIR / "frontend" / "dist").is_dir() else []
# Vite names the console's assets by content hash (index-B7x_2Qz9.js): cache them for a year, as WhiteNoise does for
# Django's own hashed names. index.html itself is served by the console view, always revalidated.
WHITENOISE_IMMUTABLE_FILE_TEST = r"^/static/app/assets/.+-[A-Za-z0-9_-]{8}\.(js|css|woff2?|svg|png)$"

LOGIN_URL = "/admin/login/"


# --- Websockets (Channels) -------------------------------------------------------------------------------------
# Group sends never block the sender: a client too slow to drain its channel loses messages (and resyncs from
# REST when it sees a gap in the sequence numbers) instead of slowing whoever publishes.
def channel_layers(redis_url: str) -> dict:
    """Channels over Redis. channels_redis waits 5 s per blocking read; redis-py's own 5 s socket timeout would end
    that read with an error, killing every consumer that got no message for 5 s (an idle logs socket)."""
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": redis_url, "socket_timeout": 30}],
                "capacity": 500,
                "expiry": 30,
                "prefix": "raylane:ws",
            },
        }
    }


CHANNEL_LAYERS = channel_layers(REDIS_URL)

# --- Ray ----------------------------------------------------------------------------------------------------
RAY_ADDRESS = env("RAY_ADDRESS", default="")
RAY_DASHBOARD_URL = env("RAY_DASHBOARD_URL", default="http://127.0.0.1:8265")

# --- Artifacts ------------------------------------------------------------------------------------------------
RAYLANE_ARTIFACT_ROOT = env.path("RAYLANE_ARTIFACT_ROOT", default=str(BASE_DIR / "var" / "artifacts"))
RAYLANE_MAX_UPLOAD_BYTES = env.int("RAYLANE_MAX_UPLOAD_BYTES", default=2 * 1024**3)
# Zip-based formats: refuse archives that would expand beyond this, or by more than this ratio (zip bombs).
RAYLANE_MAX_UNPACKED_BYTES = env.int("RAYLANE_MAX_UNPACKED_BYTES", default=8 * 1024**3)
RAYLANE_MAX_ZIP_RATIO = env.int("RAYLANE_MAX_ZIP_RATIO", default=200)
RAYLANE_MAX_ZIP_ENTRIES = env.int("RAYLANE_MAX_ZIP_ENTRIES", default=10_000)
# The load check runs in a subprocess with these limits, so a hostile or broken file cannot hurt the web process.
RAYLANE_VALIDATION_TIMEOUT_S = env.int("RAYLANE_VALIDATION_TIMEOUT_S", default=120)
RAYLANE_VALIDATION_MEMORY_BYTES = env.int("RAYLANE_VALIDATION_MEMORY_BYTES", default=8 * 1024**3)
# ... and these: the largest file it may write, how many files it may hold open, and how many processes it may add
# to the user's count (the kernel does not apply that one to root; the verdict records whether it held).
RAYLANE_VALIDATION_FILE_BYTES = env.int("RAYLANE_VALIDATION_FILE_BYTES", default=RAYLANE_MAX_UNPACKED_BYTES)
RAYLANE_VALIDATION_OPEN_FILES = env.int("RAYLANE_VALIDATION_OPEN_FILES", default=1024)
RAYLANE_VALIDATION_MAX_PROCESSES = env.int("RAYLANE_VALIDATION_MAX_PROCESSES", default=64)
# Processes and threads one validation run may have at once, held by a pids cgroup where the machine lets us make
# one (registry/cgroups.py): unlike RLIMIT_NPROC it binds root too. TensorFlow alone starts a few dozen threads.
RAYLANE_VALIDATION_MAX_TASKS = env.int("RAYLANE_VALIDATION_MAX_TASKS", default=512)
# Folders and files the sandbox hides (tmpfs / /dev/null) besides the secrets file and the artifact root.
RAYLANE_VALIDATION_HIDDEN_PATHS = env.list(
    "RAYLANE_VALIDATION_HIDDEN_PATHS", default=[str(BASE_DIR / "var"), str(BASE_DIR / ".env")]
)
RAYLANE_TOKEN_DEFAULT_DAYS = env.int("RAYLANE_TOKEN_DEFAULT_DAYS", default=90)
RAYLANE_TOKEN_MAX_DAYS = env.int("RAYLANE_TOKEN_MAX_DAYS", default=365)

# Uploads stream through a hashing handler straight to a file next to the artifact store, never into memory.
FILE_UPLOAD_HANDLERS = ["controlplane.registry.uploads.HashingUploadHandler"]
# The ASGI handler spools every request body before Django sees it: past this many bytes it goes to a file under
# <artifact root>/incoming (controlplane.asgi), never to memory. Not 0: for Python's SpooledTemporaryFile, 0 means
# "never roll over", i.e. hold the whole body in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
FILE_UPLOAD_TEMP_DIR: str | None = None  # controlplane.asgi and the upload handler use <artifact root>/incoming
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Refused by the ASGI middleware (controlplane.api.limits) before authentication or Django reads a byte: any
# request body over RAYLANE_MAX_REQUEST_BYTES, except uploads of a version (limit RAYLANE_MAX_UPLOAD_BYTES).
RAYLANE_MAX_REQUEST_BYTES = env.int("RAYLANE_MAX_REQUEST_BYTES", default=1024 * 1024)
# Per-request limits of the model servers (inference), defaults for every deployment.
RAYLANE_INFERENCE_MAX_BODY_BYTES = env.int("RAYLANE_INFERENCE_MAX_BODY_BYTES", default=16 * 1024**2)
RAYLANE_INFERENCE_MAX_ELEMENTS = env.int("RAYLANE_INFERENCE_MAX_ELEMENTS", default=10_000_000)
RAYLANE_INFERENCE_MAX_DEPTH = env.int("RAYLANE_INFERENCE_MAX_DEPTH", default=32)
# How far a deployment's own `limits` may raise the two that decide a request's memory in a shared replica (never
# below the defaults above); max_depth goes up to 256. Deployers may always lower them.
RAYLANE_INFERENCE_MAX_BODY_BYTES_CEILING = env.int("RAYLANE_INFERENCE_MAX_BODY_BYTES_CEILING", default=64 * 1024**2)
RAYLANE_INFERENCE_MAX_ELEMENTS_CEILING = env.int("RAYLANE_INFERENCE_MAX_ELEMENTS_CEILING", default=20_000_000)

# --- REST API -------------------------------------------------------------------------------------------------
# How many reverse proxies of ours stand in front of the web process. 0: the client is the TCP peer and
# X-Forwarded-For is ignored (anyone can write it); N: the Nth X-Forwarded-For entry from the right. Used by the
# throttles and every audit entry (accounts/addresses.py). uvicorn itself rewrites REMOTE_ADDR from X-Forwarded-For
# for peers in its --forwarded-allow-ips (default 127.0.0.1): run it with --no-proxy-headers when NUM_PROXIES > 0.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "controlplane.accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "controlplane.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "controlplane.api.exceptions.exception_handler",
    # Login: per client address (`auth`, also token creation) and per username (`auth_username`), see
    # accounts/throttling.py. NUM_PROXIES below decides which address counts.
    "DEFAULT_THROTTLE_RATES": {
        "auth": env("RAYLANE_THROTTLE_AUTH", default="20/min"),
        "auth_username": env("RAYLANE_THROTTLE_AUTH_USERNAME", default="10/min"),
        "upload": env("RAYLANE_THROTTLE_UPLOAD", default="60/hour"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "NUM_PROXIES": NUM_PROXIES,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Raylane API",
    "DESCRIPTION": "Model registry, rollouts and monitoring for Ray Serve.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {"RoleEnum": "controlplane.accounts.choices.Role"},  # one enum for every role field
}

# --- Celery ---------------------------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE = {
    "reconcile": {"task": "rollouts.reconcile", "schedule": timedelta(seconds=10)},
    "resume-stalled-rollouts": {"task": "rollouts.resume_stalled", "schedule": timedelta(seconds=5)},
    "prune-expired-tokens": {"task": "accounts.prune_expired_tokens", "schedule": timedelta(hours=1)},
    "collect-orphan-artifacts": {"task": "registry.collect_orphan_artifacts", "schedule": timedelta(hours=6)},
    "roll-up-metrics": {"task": "monitoring.rollup", "schedule": timedelta(seconds=60)},
    "prune-metrics": {"task": "monitoring.prune", "schedule": timedelta(minutes=10)},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Serving --------------------------------------------------------------------------------------------------
# Where Ray Serve listens for inference (its HTTP options are fixed once Serve runs).
RAYLANE_SERVE_HOST = env("RAYLANE_SERVE_HOST", default="127.0.0.1")
RAYLANE_SERVE_PORT = env.int("RAYLANE_SERVE_PORT", default=8080)
# Where clients send inference when it is not this host on RAYLANE_SERVE_PORT (a load balancer): GET /api/v1/info/.
RAYLANE_SERVE_URL = env.str("RAYLANE_SERVE_URL", default="")
# "ray" drives the cluster at RAY_DASHBOARD_URL; "memory" is the in-process twin for fast control-plane tests.
RAYLANE_SERVE_CLUSTER = env("RAYLANE_SERVE_CLUSTER", default="ray")
# Replicas read artifacts from this folder when it is mounted on their node (the artifact root on one machine),
# and otherwise download them from the control plane's internal endpoint with per-artifact signed links that expire
# after RAYLANE_ARTIFACT_URL_TTL_S (renewed by reconcile once half of that is left, so the Serve config stays put).
RAYLANE_ARTIFACT_SHARED_PATH = env("RAYLANE_ARTIFACT_SHARED_PATH", default=str(RAYLANE_ARTIFACT_ROOT))
RAYLANE_INTERNAL_URL = env("RAYLANE_INTERNAL_URL", default="http://127.0.0.1:8000")
RAYLANE_ARTIFACT_URL_TTL_S = env.int("RAYLANE_ARTIFACT_URL_TTL_S", default=7 * 24 * 3600)
# /internal/artifacts/ answers only these source networks (the Ray nodes): CIDRs, comma-separated.
RAYLANE_INTERNAL_ALLOWED_NETWORKS = env.list("RAYLANE_INTERNAL_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"])
parse_networks(RAYLANE_INTERNAL_ALLOWED_NETWORKS, "RAYLANE_INTERNAL_ALLOWED_NETWORKS")
# Each tick of an active rollout schedules the next one (Celery countdown); tests turn this off and tick by hand.
RAYLANE_ROLLOUT_AUTO_TICK = env.bool("RAYLANE_ROLLOUT_AUTO_TICK", default=True)
# An active rollout no worker advanced for this long gets its tick chain restarted by beat (a lost countdown).
RAYLANE_ROLLOUT_STALLED_S = env.int("RAYLANE_ROLLOUT_STALLED_S", default=30)
# Models whose replicas ask for GPUs or more memory than this run in dedicated mode (one application per version).
RAYLANE_DEDICATED_MEMORY_MB = env.int("RAYLANE_DEDICATED_MEMORY_MB", default=4096)
# How many pooled (long-tail) model versions one pool replica keeps loaded before evicting the least recently used.
RAYLANE_POOL_MODELS_PER_REPLICA = env.int("RAYLANE_POOL_MODELS_PER_REPLICA", default=8)
RAYLANE_ARTIFACT_CACHE_BYTES = env.int("RAYLANE_ARTIFACT_CACHE_BYTES", default=10 * 1024**3)
# Extra Ray runtime_env for every application (JSON), e.g. {"env_vars": {...}} on a multi-node cluster.
RAYLANE_RUNTIME_ENV = env.json("RAYLANE_RUNTIME_ENV", default={})

# --- monitoring ------------------------------------------------------------------------------------------------
# The monitor samples every deployed version once a second and keeps raw samples this long; 1-minute roll-ups are
# kept for RAYLANE_METRICS_ROLLUP_RETENTION_S. PROMETHEUS_URL reads Ray's metrics from an existing Prometheus
# (`/api/v1/query`) instead of scraping every node's metrics endpoint.
RAYLANE_METRICS_RAW_RETENTION_S = env.int("RAYLANE_METRICS_RAW_RETENTION_S", default=6 * 3600)
RAYLANE_METRICS_ROLLUP_RETENTION_S = env.int("RAYLANE_METRICS_ROLLUP_RETENTION_S", default=30 * 24 * 3600)
PROMETHEUS_URL = env("PROMETHEUS_URL", default="")
# Replica log lines kept per deployment for late joiners and the REST history.
RAYLANE_LOG_LINES_KEPT = env.int("RAYLANE_LOG_LINES_KEPT", default=1000)
# Open websockets re-check their user every this many seconds (membership, session, token) and close when it is gone.
RAYLANE_WS_RECHECK_S = env.float("RAYLANE_WS_RECHECK_S", default=5.0)
# The log backlog a logs socket gets on connect or on a filter change: at most this many bytes, the newest lines.
RAYLANE_WS_BACKLOG_BYTES = env.int("RAYLANE_WS_BACKLOG_BYTES", default=256 * 1024)
# Filter changes on a logs socket: a burst of this many, refilled at this many per second; a client that sends
# faster gets one error message and is closed (4429).
RAYLANE_WS_FILTER_BURST = env.int("RAYLANE_WS_FILTER_BURST", default=5)
RAYLANE_WS_FILTER_RATE = env.float("RAYLANE_WS_FILTER_RATE", default=1.0)
# A bearer token for Prometheus to scrape the control plane's /metrics; without it only site admins may read it.
RAYLANE_METRICS_TOKEN = env("RAYLANE_METRICS_TOKEN", default="")
