"""Raylane's Python SDK and the `raylane` command: the model lifecycle from a notebook or a terminal, over the
public REST API of a Raylane server (never its database).

    import raylane
    client = raylane.Client("http://127.0.0.1:8000", "rl_...")
    client.log_model(fitted_estimator, name="iris", team="ml")
"""

__version__ = "0.1.0"

from .client import Client
from .errors import (
    ApiError,
    AuthError,
    BadRequest,
    Conflict,
    NotConfigured,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    RaylaneError,
    RolloutFailed,
    ServerError,
    ServerUnreachable,
    WaitTimeout,
)
from .rollouts import RolloutHandle
from .types import (
    AuditEntry,
    Deployment,
    LogLine,
    Model,
    ModelVersion,
    Policy,
    Prediction,
    Rollout,
    RolloutEvent,
    RolloutUpdate,
    Team,
    Token,
    User,
)

__all__ = [
    "ApiError",
    "AuditEntry",
    "AuthError",
    "BadRequest",
    "Client",
    "Conflict",
    "Deployment",
    "LogLine",
    "Model",
    "ModelVersion",
    "NotConfigured",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "Policy",
    "Prediction",
    "RateLimited",
    "RaylaneError",
    "Rollout",
    "RolloutEvent",
    "RolloutFailed",
    "RolloutHandle",
    "RolloutUpdate",
    "ServerError",
    "ServerUnreachable",
    "Team",
    "Token",
    "User",
    "WaitTimeout",
    "__version__",
]
