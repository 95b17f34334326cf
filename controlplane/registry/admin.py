from django.contrib import admin

from controlplane.accounts.admin_audit import AuditedModelAdmin

from .models import Artifact, Model, ModelVersion

VERSION_INLINE_FIELDS = ("version", "format", "validation_status", "trusted", "artifact", "created_at")


class ModelVersionInline(admin.TabularInline):
    model = ModelVersion
    extra = 0
    fields = VERSION_INLINE_FIELDS
    readonly_fields = VERSION_INLINE_FIELDS
    can_delete = False
    show_change_link = True


@admin.register(Model)
class ModelAdmin(AuditedModelAdmin):
    audit_team_path = "team"
    list_display = ["name", "team", "owner", "created_at"]
    list_filter = ["team"]
    search_fields = ["name", "description"]
    inlines = [ModelVersionInline]


@admin.register(ModelVersion)
class ModelVersionAdmin(AuditedModelAdmin):
    audit_team_path = "model__team"
    list_display = ["__str__", "format", "framework", "validation_status", "trusted", "created_at"]
    list_filter = ["format", "validation_status", "trusted"]
    search_fields = ["model__name", "artifact__sha256"]
    readonly_fields = [
        "model",
        "version",
        "artifact",
        "filename",
        "format",
        "framework",
        "framework_version",
        "signature",
        "trusted",
        "trusted_by",
        "trusted_at",
        "validation_status",
        "validation_error",
        "validation_details",
        "created_by",
        "created_at",
    ]


@admin.register(Artifact)
class ArtifactAdmin(AuditedModelAdmin):
    list_display = ["sha256", "size", "created_at"]
    search_fields = ["sha256"]
