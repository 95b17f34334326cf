from django.contrib import admin

from .models import Deployment, RolloutPolicy


@admin.register(RolloutPolicy)
class RolloutPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "strategy", "on_failure", "updated_at"]
    list_filter = ["strategy", "team"]
    search_fields = ["name"]


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = ["model", "team", "stable_version", "updated_at"]
    list_filter = ["team"]
