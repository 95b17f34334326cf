import django_filters

from controlplane.api.filters import UTCIsoDateTimeFilter

from .models import AuditEntry


class AuditEntryFilterSet(django_filters.FilterSet):
    actor = django_filters.CharFilter(field_name="actor_username")
    team = django_filters.CharFilter(field_name="team_slug")
    since = UTCIsoDateTimeFilter(field_name="at", lookup_expr="gte")
    until = UTCIsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = AuditEntry
        fields = ["action", "target_type", "target_id", "actor", "team", "since", "until"]
