from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "controlplane.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from controlplane.rollouts import observers

        from . import selectors, signals  # noqa: F401  (signals connects the receivers)

        # Rollouts may not import monitoring (it is the higher layer), so their analysis gets the samples from here.
        observers.read_samples_from(selectors)
