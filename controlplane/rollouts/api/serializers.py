from django.contrib.auth.base_user import AbstractBaseUser
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from controlplane.accounts.models import Team
from controlplane.api.fields import ScopedPrimaryKeyField, ScopedSlugField, TeamField
from controlplane.registry.models import Model
from controlplane.registry.selectors import version_numbered

from .. import policies, services
from ..engine import Command
from ..limits import LIMIT_NAMES, MAX_DEPTH_CEILING, limits_validated
from ..models import Deployment, Rollout, RolloutEvent, RolloutPolicy


class StepSerializer(serializers.Serializer):
    """The shape of a step; its ranges and order are rollouts.policies' to check."""

    weight = serializers.IntegerField(help_text="0-100: the candidate's share of requests")
    pause_s = serializers.IntegerField(allow_null=True, help_text="null waits for a human to promote")


class AnalysisSerializer(serializers.Serializer):
    """The shape of the analysis settings, with their defaults; the ranges are rollouts.policies' to check."""

    interval_s = serializers.IntegerField(default=10)
    initial_delay_s = serializers.IntegerField(default=0)
    min_requests = serializers.IntegerField(default=20)
    max_error_rate = serializers.FloatField(required=False, allow_null=True)
    max_p99_ms = serializers.FloatField(required=False, allow_null=True)
    max_p99_ratio = serializers.FloatField(required=False, allow_null=True)
    min_shadow_agreement = serializers.FloatField(required=False, allow_null=True)
    failure_limit = serializers.IntegerField(default=1)
    inconclusive_limit = serializers.IntegerField(default=3)
    max_p_value = serializers.FloatField(
        default=0.01, help_text="A gate fails only on evidence this strong (one-sided p-value; bounds at 1 - this)"
    )
    min_latency_delta_ms = serializers.FloatField(
        default=5.0, help_text="Under max_p99_ratio, a p99 slower by less than this is no regression"
    )


@extend_schema_field(StepSerializer(many=True))
class StepsField(serializers.JSONField):
    """In: a list of steps, its shape checked here. Out: as stored, so a row written around the validator (raw SQL,
    an old admin) is shown for correction rather than failing the whole list."""

    def to_internal_value(self, data: object) -> list[dict]:
        # many=True hands max_length to the ListSerializer DRF builds; the stubs know only StepSerializer's arguments
        steps = StepSerializer(data=data, many=True, max_length=policies.MAX_STEPS)  # type: ignore[call-arg]  # see above
        steps.is_valid(raise_exception=True)
        return [dict(step) for step in steps.validated_data]


@extend_schema_field(AnalysisSerializer)
class AnalysisField(serializers.JSONField):
    """In: the analysis settings, their shape checked here. Out: as stored (see StepsField)."""

    def to_internal_value(self, data: object) -> dict:
        analysis = AnalysisSerializer(data=data)
        analysis.is_valid(raise_exception=True)
        return dict(analysis.validated_data)


class RolloutPolicySerializer(serializers.ModelSerializer):
    team = TeamField()
    name = serializers.CharField(max_length=100)
    steps = StepsField(required=False)
    analysis = AnalysisField(required=False)
    step_weight = serializers.IntegerField(
        min_value=1,
        max_value=100,
        required=False,
        write_only=True,
        help_text="Simple mode (instead of steps): add this much weight every interval_s up to max_weight, then 100",
    )
    max_weight = serializers.IntegerField(min_value=1, max_value=100, required=False, write_only=True)
    interval_s = serializers.IntegerField(min_value=0, max_value=7 * 24 * 3600, required=False, write_only=True)
    created_by: "serializers.SlugRelatedField[AbstractBaseUser]" = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = RolloutPolicy
        fields = [
            "id",
            "team",
            "name",
            "description",
            "strategy",
            "steps",
            "step_weight",
            "max_weight",
            "interval_s",
            "analysis",
            "on_failure",
            "progress_deadline_s",
            "shadow_percent",
            "auto_promote_s",
            "keep_warm_s",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class RequestLimitsSchema(serializers.Serializer):
    """What one inference request to this deployment may hold. Null or absent: the site default
    (RAYLANE_INFERENCE_MAX_*); body size and element count stop at the site's ceilings (rollouts.limits)."""

    max_body_bytes = serializers.IntegerField(min_value=1, allow_null=True, required=False)
    max_elements = serializers.IntegerField(min_value=1, allow_null=True, required=False)
    max_depth = serializers.IntegerField(min_value=1, max_value=MAX_DEPTH_CEILING, allow_null=True, required=False)


@extend_schema_field(RequestLimitsSchema)
class LimitsField(serializers.JSONField):
    """A deployment's own request limits; every limit is shown, null where the site default applies."""

    # The stubs type JSONField's output as str (its binary mode); this field answers the object itself.
    def to_representation(self, value: object) -> dict:  # type: ignore[override]  # see above
        chosen = value if isinstance(value, dict) else {}
        return {name: chosen.get(name) for name in LIMIT_NAMES}


class DeploymentSerializer(serializers.ModelSerializer):
    model = ScopedSlugField(slug_field="name", queryset=Model.objects.all())
    team: "serializers.SlugRelatedField[Team]" = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    stable_version = serializers.IntegerField(
        source="stable_version.version", required=False, allow_null=True, min_value=1, max_value=2**31 - 1
    )
    default_policy = ScopedPrimaryKeyField(queryset=RolloutPolicy.objects.all(), required=False, allow_null=True)
    route = serializers.CharField(read_only=True)
    autoscaling = serializers.DictField(required=False)
    batching = serializers.DictField(required=False)
    resources = serializers.DictField(required=False)
    limits = LimitsField(required=False, allow_null=True)
    created_by: "serializers.SlugRelatedField[AbstractBaseUser]" = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    abort_rollout = serializers.BooleanField(
        write_only=True,
        default=False,
        help_text="Changing stable_version while a rollout is active is refused (409); true aborts the rollout first",
    )

    class Meta:
        model = Deployment
        fields = [
            "id",
            "model",
            "team",
            "route",
            "stable_version",
            "default_policy",
            "autoscaling",
            "batching",
            "resources",
            "pooled",
            "pins",
            "require_key",
            "limits",
            "abort_rollout",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        if self.instance is not None:
            fields["model"].read_only = True
        return fields

    def validate_autoscaling(self, value: dict) -> dict:
        return validated_options(AutoscalingSerializer, value)

    def validate_batching(self, value: dict) -> dict:
        return validated_options(BatchingSerializer, value)

    def validate_resources(self, value: dict) -> dict:
        return validated_options(ResourcesSerializer, value)

    def validate_limits(self, value: object) -> dict:
        return limits_validated(value)  # a 400 naming the limit at fault, e.g. "limits.max_depth"

    def validate(self, attrs: dict) -> dict:
        """Resolve the version number to the version; what may serve is the service's rule (deployment_rules_check)."""
        number = attrs.pop("stable_version", {}).get("version") if "stable_version" in attrs else None
        if number is not None:  # null leaves what serves as it is
            # no model in attrs only on an update, which has an instance
            model = attrs.get("model") or self.instance.model  # type: ignore[union-attr]  # see above
            attrs["stable_version"] = version_numbered(model=model, number=number, field="stable_version")
        return attrs


class AutoscalingSerializer(serializers.Serializer):
    min_replicas = serializers.IntegerField(min_value=0, max_value=1000, default=1)
    max_replicas = serializers.IntegerField(min_value=1, max_value=1000, default=1)
    target_ongoing_requests = serializers.FloatField(min_value=0.1, max_value=10000, default=2)

    def validate(self, attrs: dict) -> dict:
        if attrs["min_replicas"] > attrs["max_replicas"]:
            raise serializers.ValidationError({"min_replicas": ["Must not exceed max_replicas."]})
        return attrs


class BatchingSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(default=False)
    max_batch_size = serializers.IntegerField(min_value=1, max_value=4096, default=16)
    batch_wait_timeout_s = serializers.FloatField(
        min_value=0, max_value=10, default=0.0, help_text="0 batches what queued while the model was busy"
    )


class ResourcesSerializer(serializers.Serializer):
    num_cpus = serializers.FloatField(min_value=0, max_value=1024, default=0.25)
    num_gpus = serializers.FloatField(min_value=0, max_value=64, default=0)
    memory_mb = serializers.IntegerField(min_value=0, max_value=10**7, required=False, allow_null=True)
    custom = serializers.DictField(
        child=serializers.FloatField(min_value=0, max_value=10**6),
        required=False,
        help_text='Ray custom resources each replica needs, e.g. {"gpu_pool": 1}: replicas go to nodes started '
        "with them (`ray start --resources`).",
    )

    def validate_custom(self, value: dict) -> dict:
        for name in value:
            if isinstance(name, str) and name.startswith(RAY_NODE_RESOURCE_PREFIX):
                raise serializers.ValidationError(
                    f"{name!r}: '{RAY_NODE_RESOURCE_PREFIX}…' resources are Ray's own node-affinity resources; "
                    "they would pin replicas to one machine and escape the team's quota. Use a custom resource that "
                    "the nodes are started with (`ray start --resources`)."
                )
            if not name or len(name) > 100 or name in RAY_BUILTIN_RESOURCES or not name.isprintable():
                raise serializers.ValidationError(
                    f"{name!r} is not a custom resource name (1-100 printable characters, not one of Ray's own: "
                    f"{', '.join(sorted(RAY_BUILTIN_RESOURCES))})."
                )
        return value


RAY_BUILTIN_RESOURCES = {"CPU", "GPU", "memory", "object_store_memory"}
RAY_NODE_RESOURCE_PREFIX = "node:"


def validated_options(serializer_class: type[serializers.Serializer], value: dict) -> dict:
    options = serializer_class(data=value)
    options.is_valid(raise_exception=True)
    return dict(options.validated_data)


class RolloutEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = RolloutEvent
        fields = ["id", "at", "kind", "message", "data", "actor_username"]
        read_only_fields = fields


class DeploymentEventSerializer(RolloutEventSerializer):
    rollout = serializers.IntegerField(source="rollout_id", read_only=True, allow_null=True)

    class Meta(RolloutEventSerializer.Meta):
        fields = [*RolloutEventSerializer.Meta.fields, "rollout"]
        read_only_fields = fields


class EventsSerializer(serializers.Serializer):
    seq = serializers.IntegerField(help_text="The deployment's event stream sequence number when this was read")
    events = DeploymentEventSerializer(many=True)


class RolloutSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="deployment.model.name", read_only=True)
    from_version = serializers.IntegerField(source="from_number", read_only=True)
    to_version = serializers.IntegerField(source="to_number", read_only=True)
    stable_weight = serializers.SerializerMethodField()
    allowed_commands = serializers.SerializerMethodField(
        help_text="The commands the rollout's state allows now (the engine's rule); a console shows exactly these"
    )
    created_by: "serializers.SlugRelatedField[AbstractBaseUser]" = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = Rollout
        fields = [
            "id",
            "deployment",
            "model",
            "from_version",
            "to_version",
            "policy",
            "policy_snapshot",
            "phase",
            "stable_weight",
            "candidate_weight",
            "shadow_percent",
            "step_index",
            "reason",
            "allowed_commands",
            "created_by",
            "created_at",
            "updated_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_stable_weight(self, rollout: Rollout) -> int:
        return 100 - rollout.candidate_weight

    @extend_schema_field(
        serializers.ListField(child=serializers.ChoiceField(choices=[command.value for command in Command]))
    )
    def get_allowed_commands(self, rollout: Rollout) -> list[str]:
        return services.rollout_allowed_commands(rollout)


class RolloutDetailSerializer(RolloutSerializer):
    events = RolloutEventSerializer(many=True, read_only=True)

    class Meta(RolloutSerializer.Meta):
        fields = [*RolloutSerializer.Meta.fields, "events"]
        read_only_fields = fields


class RolloutStartSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1, help_text="The candidate version number")
    policy = ScopedPrimaryKeyField(
        queryset=RolloutPolicy.objects.all(),
        required=False,
        allow_null=True,
        help_text="A policy id; defaults to the deployment's default policy",
    )


class RollbackSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1, help_text="The version to serve at 100%")
