import django_filters

from .models import Deployment, RolloutPolicy


class RolloutPolicyFilterSet(django_filters.FilterSet):
    team = django_filters.CharFilter(field_name="team__slug")

    class Meta:
        model = RolloutPolicy
        fields = ["team", "strategy", "on_failure"]


class DeploymentFilterSet(django_filters.FilterSet):
    team = django_filters.CharFilter(field_name="team__slug")
    model = django_filters.CharFilter(field_name="model__name")

    class Meta:
        model = Deployment
        fields = ["team", "model"]
