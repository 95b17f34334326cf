"""Every write of the rollouts app, in one namespace: `services.<entity>_<action>(...)`, keyword-only, one
transaction each, the audit entry and events written inside it, side effects (reconcile, the next tick, pushes)
scheduled after commit. API views, Celery tasks, management commands and the admin all call these.

- `rollouts`: start a rollout, command it (pause, resume, promote, abort), tick it, restart stalled tick chains;
- `deployments`: create, change, roll back and delete a deployment (quota, rules, never under a rollout);
- `keys`: create and revoke a deployment's data-plane keys;
- `policies`: create, change and delete rollout policies (the one validator, rollouts.policies);
- `state`: how the engine's decisions are stored, recorded as events and pushed, shared by the above.
"""

from .deployments import (
    deployment_create,
    deployment_delete,
    deployment_quota_enforce,
    deployment_rollback,
    deployment_update,
)
from .keys import deployment_key_create, deployment_key_revoke
from .policies import policy_create, policy_delete, policy_update
from .rollouts import rollout_command, rollout_start, rollout_tick, rollouts_resume_stalled
from .state import rollout_allowed_commands, rollout_summary, rollout_traffic, stable_change_record

__all__ = [
    "deployment_create",
    "deployment_delete",
    "deployment_key_create",
    "deployment_key_revoke",
    "deployment_quota_enforce",
    "deployment_rollback",
    "deployment_update",
    "policy_create",
    "policy_delete",
    "policy_update",
    "rollout_allowed_commands",
    "rollout_command",
    "rollout_start",
    "rollout_summary",
    "rollout_tick",
    "rollout_traffic",
    "rollouts_resume_stalled",
    "stable_change_record",
]
