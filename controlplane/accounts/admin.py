from typing import Any

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group
from django.http import HttpRequest

from .admin_audit import AuditedModelAdmin
from .choices import AuditAction
from .models import ApiToken, AuditEntry, Membership, Team, TeamQuota

User = get_user_model()
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class AuditedUserAdmin(AuditedModelAdmin, UserAdmin):
    """Django's user admin, audited: superuser and staff flags, activity and passwords are the keys to everything."""

    def log_change(self, request: HttpRequest, obj: AbstractBaseUser, message: Any) -> LogEntry:
        # The password form saves without save_model; this is its one hook.
        if request.resolver_match and (request.resolver_match.url_name or "").endswith("_password_change"):
            self.audit(request, AuditAction.UPDATE, obj, {"fields": {"password": "changed"}})
        return super().log_change(request, obj, message)


@admin.register(Group)
class AuditedGroupAdmin(AuditedModelAdmin, GroupAdmin):
    pass


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(AuditedModelAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline]


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedModelAdmin):
    list_display = ["name", "user", "key_prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__username", "key_prefix"]
    readonly_fields = ["key_hash", "key_prefix", "created_at", "last_used_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # keys are shown once; create them through the API, which returns the key


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_username", "action", "target_type", "target_repr", "team_slug"]
    list_filter = ["action", "target_type"]
    search_fields = ["actor_username", "target_repr"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False


@admin.register(TeamQuota)
class TeamQuotaAdmin(AuditedModelAdmin):
    audit_team_path = "team"
    list_display = ["team", "max_replicas", "max_cpus", "max_gpus", "max_custom", "updated_at"]
    search_fields = ["team__slug"]
