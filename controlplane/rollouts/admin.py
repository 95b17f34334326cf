from typing import Any

from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest

from controlplane.accounts.admin_audit import AuditedModelAdmin

from . import services
from .models import Deployment, RolloutPolicy


@admin.register(RolloutPolicy)
class RolloutPolicyAdmin(AuditedModelAdmin):
    """Policies are checked by the model's clean() (rollouts.policies, as in the API): the form names the field."""

    audit_team_path = "team"
    list_display = ["name", "team", "strategy", "on_failure", "updated_at"]
    list_filter = ["strategy", "team"]
    search_fields = ["name"]


@admin.register(Deployment)
class DeploymentAdmin(AuditedModelAdmin):
    """What a deployment serves changes only through the API's deploy and rollback (rollouts.services), which
    refuse to pull the stable version from under a rollout and record an event: here it is read-only once set."""

    audit_team_path = "team"
    list_display = ["model", "team", "stable_version", "updated_at"]
    list_filter = ["team"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = super().get_readonly_fields(request, obj)
        return [*fields, "stable_version"] if obj is not None else fields

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if not change and obj.stable_version_id is not None:
                # the admin site serves only signed-in staff: a user, never AnonymousUser
                services.stable_change_record(deployment=obj, before=None, user=request.user)  # type: ignore[arg-type]  # see above
