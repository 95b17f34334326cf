"""Shapes of the history endpoints (for the OpenAPI schema; the data is built by the services)."""

from rest_framework import serializers


class PointSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    at = serializers.DateTimeField()
    requests = serializers.IntegerField(help_text="Requests answered in the interval")
    rate = serializers.FloatField(help_text="Requests per second")
    # named like Serializer.errors; DRF's metaclass moves declared fields off the class, so nothing is shadowed
    errors = serializers.IntegerField(help_text="Answered 5xx")  # type: ignore[assignment]  # see above
    error_rate = serializers.FloatField()
    client_errors = serializers.IntegerField(help_text="Answered 4xx")
    p50_ms = serializers.FloatField(allow_null=True)
    p95_ms = serializers.FloatField(allow_null=True)
    p99_ms = serializers.FloatField(allow_null=True)
    mean_ms = serializers.FloatField(allow_null=True)
    ongoing = serializers.FloatField(allow_null=True, help_text="Requests in flight")
    replicas_total = serializers.IntegerField(help_text="Model server replicas")
    replicas_ready = serializers.IntegerField(help_text="Replicas with the version loaded")
    replicas_loading = serializers.IntegerField()
    replicas_failed = serializers.IntegerField()
    replica_states = serializers.DictField(child=serializers.IntegerField())
    shadow_requests = serializers.IntegerField()
    shadow_agreements = serializers.IntegerField()


class SeriesSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    points = PointSerializer(many=True)


class MetricSeriesSerializer(serializers.Serializer):
    deployment = serializers.IntegerField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    step_s = serializers.IntegerField()
    # named like Field.source; DRF's metaclass moves declared fields off the class, so nothing is shadowed
    source = serializers.ChoiceField(choices=["raw", "rollup"])  # type: ignore[assignment]  # see above
    seq = serializers.IntegerField(help_text="The metrics stream's sequence number when this was read")
    series = SeriesSerializer(many=True)


class LogLineSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    level = serializers.CharField()
    model = serializers.CharField(allow_null=True)
    version = serializers.IntegerField(allow_null=True)
    replica = serializers.CharField()
    request_id = serializers.CharField(allow_blank=True)
    message = serializers.CharField(allow_blank=True)


class LogsSerializer(serializers.Serializer):
    seq = serializers.IntegerField(help_text="The log stream's sequence number when this was read")
    lines = LogLineSerializer(many=True)
