from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "controlplane.api"
    label = "raylane_api"
    verbose_name = "API plumbing"

    def ready(self) -> None:
        from . import schema  # noqa: F401  registers the OpenAPI extension
