import django_filters
from django.db.models import QuerySet

from .choices import ModelFormat, ValidationStatus
from .models import Model, ModelVersion


class ModelFilterSet(django_filters.FilterSet):
    tag = django_filters.CharFilter(field_name="tags", lookup_expr="contains", method="filter_tag")
    owner = django_filters.CharFilter(field_name="owner__username")
    team = django_filters.CharFilter(field_name="team__slug")

    class Meta:
        model = Model
        fields = ["tag", "owner", "team"]

    def filter_tag(self, queryset: QuerySet[Model], name: str, value: str) -> QuerySet[Model]:
        return queryset.filter(tags__contains=[value])


class ModelVersionFilterSet(django_filters.FilterSet):
    format = django_filters.ChoiceFilter(choices=ModelFormat.choices)
    validation_status = django_filters.ChoiceFilter(choices=ValidationStatus.choices)
    trusted = django_filters.BooleanFilter()
    sha256 = django_filters.CharFilter(field_name="artifact_id")

    class Meta:
        model = ModelVersion
        fields = ["format", "validation_status", "trusted", "sha256"]
