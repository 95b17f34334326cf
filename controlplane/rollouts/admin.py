from django.contrib import admin

from controlplane.accounts.admin_audit import AuditedModelAdmin

from .models import Deployment, RolloutPolicy


@admin.register(RolloutPolicy)
class RolloutPolicyAdmin(AuditedModelAdmin):
    audit_team_path = "team"
    list_display = ["name", "team", "strategy", "on_failure", "updated_at"]
    list_filter = ["strategy", "team"]
    search_fields = ["name"]


@admin.register(Deployment)
class DeploymentAdmin(AuditedModelAdmin):
    audit_team_path = "team"
    list_display = ["model", "team", "stable_version", "updated_at"]
    list_filter = ["team"]
