from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "controlplane.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the receivers)
