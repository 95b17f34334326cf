"""The Django admin writes the same audit log as the API: every add, change, delete and action, and every login.

The admin site is the most powerful door into the control plane (users, superuser flags, trust), so what happens
there must be as visible as an API call. Entries go through `audit_record`, inside the admin's own transaction, with
`"via": "admin"` in their changes and the client's address per NUM_PROXIES.
"""

import math
from typing import Any

from django.contrib import admin
from django.db import models, transaction
from django.http import HttpRequest, HttpResponse

from .addresses import client_address
from .choices import AuditAction
from .models import Team
from .services import audit_record, login_record
from .throttling import login_throttle_wait

SECRET_FIELDS = {"key_hash"}  # and every field whose name mentions a password (password1, password2, ...)


def plain(value: Any) -> Any:
    """A JSON-friendly rendering of a form value: model instances by their string, querysets as lists."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, (list, tuple, set, models.QuerySet)):
        return [plain(item) for item in value]
    return str(value)


def form_changes(form: Any, *, change: bool) -> dict[str, Any]:
    """What the form changed, field by field (from/to for a change, the values for an add); secrets only by name."""
    changes: dict[str, Any] = {}
    for name in form.changed_data:
        if name in SECRET_FIELDS or "password" in name:
            changes[name] = "changed"
            continue
        after = plain(form.cleaned_data.get(name))
        changes[name] = {"from": plain(form.initial.get(name)), "to": after} if change else after
    return changes


class AuditedModelAdmin(admin.ModelAdmin):
    """A ModelAdmin whose writes are audited. `audit_team_path` leads from an object to its team ("team",
    "model__team"); objects without one are audited without a team."""

    audit_team_path: str | None = None

    def audit_team(self, obj: models.Model) -> Team | None:
        if isinstance(obj, Team):
            return obj
        target: Any = obj
        for part in (self.audit_team_path or "").split("__"):
            if not part or target is None:
                return None
            target = getattr(target, part, None)
        return target if isinstance(target, Team) else None

    def audit(
        self, request: HttpRequest, action: str, obj: models.Model, changes: dict[str, Any], team: Team | None = None
    ) -> None:
        audit_record(
            actor=request.user,
            action=action,
            target=obj,
            team=team or self.audit_team(obj),
            changes={"via": "admin", **changes},
            remote_addr=client_address(request),
        )

    def save_model(self, request: HttpRequest, obj: models.Model, form: Any, change: bool) -> None:
        changes = form_changes(form, change=change)
        super().save_model(request, obj, form, change)
        self.audit(request, AuditAction.UPDATE if change else AuditAction.CREATE, obj, {"fields": changes})

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Inline rows (a team's memberships) are audited one by one, under the parent's team."""
        team, parent = self.audit_team(form.instance), {"parent": str(form.instance)}
        for doomed in formset.deleted_forms:  # before saving, while they still have their ids
            if doomed.instance.pk is not None:
                self.audit(request, AuditAction.DELETE, doomed.instance, parent, team)
        super().save_formset(request, form, formset, change)
        for obj in formset.new_objects:
            self.audit(request, AuditAction.CREATE, obj, parent, team)
        for obj, fields in formset.changed_objects:
            self.audit(request, AuditAction.UPDATE, obj, {"fields": fields, **parent}, team)

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        with transaction.atomic():
            self.audit(request, AuditAction.DELETE, obj, {})
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        with transaction.atomic():
            for obj in queryset:
                self.audit(request, AuditAction.DELETE, obj, {"bulk": True})
            super().delete_queryset(request, queryset)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        """Every action but delete_selected (audited in delete_queryset) records one entry per selected object."""
        actions = super().get_actions(request)
        # The stubs allow None values; Django 5 always stores (function, name, description).
        return {  # type: ignore[misc]  # see above
            name: (func if name == "delete_selected" else self.audited_action(func, name), name, description)
            for name, (func, _, description) in actions.items()
        }

    def audited_action(self, func: Any, name: str) -> Any:
        def run(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: models.QuerySet) -> Any:
            with transaction.atomic():
                for obj in queryset:
                    self.audit(request, AuditAction.UPDATE, obj, {"action": name})
                return func(modeladmin, request, queryset)

        return run


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin site's login, behind the same throttles as the API login, and audited (success and failure)."""
    if request.method == "POST":
        wait = login_throttle_wait(request)
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            return HttpResponse(
                f"Too many login attempts from this address or for this username; try again in {seconds} s.",
                status=429,
                content_type="text/plain; charset=utf-8",
                headers={"Retry-After": str(seconds)},
            )
    response = admin.site.login(request)
    if request.method == "POST":
        succeeded = response.status_code in (301, 302) and request.user.is_authenticated
        login_record(
            user=request.user if succeeded else None,  # type: ignore[arg-type]  # succeeded: a user, not anonymous
            username=str(request.POST.get("username", "")),
            remote_addr=client_address(request),
            via="admin",
        )
    return response
