import django_filters

from .choices import RolloutPhase
from .models import Deployment, Rollout, RolloutPolicy


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


class RolloutFilterSet(django_filters.FilterSet):
    """`deployment` is a plain number, not a choice among every deployment: another team's id and a missing id both
    give an empty list (the queryset is scoped), never "not a valid choice" for one of them only."""

    deployment = django_filters.NumberFilter(field_name="deployment_id")
    phase = django_filters.ChoiceFilter(choices=RolloutPhase.choices)

    class Meta:
        model = Rollout
        fields = ["deployment", "phase"]
