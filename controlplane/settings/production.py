"""Production: only tightens base.py. `manage.py check --deploy` is clean with these settings."""

from .base import *  # noqa: F403
from .base import ALLOWED_HOSTS, env
from .guards import refuse_default_secrets

DEBUG = False
SECRET_KEY = env("SECRET_KEY")  # no default: refuse to start without a real key
RAYLANE_ARTIFACT_SIGNING_KEY = env("RAYLANE_ARTIFACT_SIGNING_KEY")  # its own secret, never derived from SECRET_KEY
refuse_default_secrets(
    secret_key=SECRET_KEY, artifact_signing_key=RAYLANE_ARTIFACT_SIGNING_KEY, debug=DEBUG, allowed_hosts=ALLOWED_HOSTS
)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Replicas download artifacts over the cluster network with signed links (registry/internal.py), often plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$", r"^internal/"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# The API schema and its docs pages describe every endpoint: only for people who are logged in (session or token).
SPECTACULAR_SETTINGS = {
    **SPECTACULAR_SETTINGS,  # noqa: F405
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
}
