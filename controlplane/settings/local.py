"""Developer machine: `make up`. Debug on, everything on loopback."""

from .base import *  # noqa: F403
from .base import ALLOWED_HOSTS, RAYLANE_ARTIFACT_SIGNING_KEY, SECRET_KEY, env
from .guards import refuse_default_secrets

DEBUG = env.bool("DEBUG", default=True)

refuse_default_secrets(
    secret_key=SECRET_KEY, artifact_signing_key=RAYLANE_ARTIFACT_SIGNING_KEY, debug=DEBUG, allowed_hosts=ALLOWED_HOSTS
)
