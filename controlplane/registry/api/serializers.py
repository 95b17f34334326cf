from django.contrib.auth.base_user import AbstractBaseUser
from django.core.validators import RegexValidator
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from controlplane.accounts.models import slug_validator
from controlplane.api.fields import SafeJSONField, TeamField
from serving.protocol import DATATYPES

from ..models import Model, ModelVersion

tag_validator = RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$", "Tags use letters, digits and _ . : / -")


class ModelSerializer(serializers.ModelSerializer):
    team = TeamField()
    name = serializers.CharField(
        max_length=63,
        validators=[slug_validator, UniqueValidator(queryset=Model.objects.all(), message="A model has this name.")],
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50, validators=[tag_validator]), max_length=50, required=False
    )
    owner: "serializers.SlugRelatedField[AbstractBaseUser]" = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    latest_version = serializers.SerializerMethodField()
    version_count = serializers.SerializerMethodField()

    class Meta:
        model = Model
        fields = [
            "name",
            "team",
            "description",
            "tags",
            "owner",
            "latest_version",
            "version_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def get_latest_version(self, obj: Model) -> int | None:
        latest = max((v.version for v in obj.versions.all()), default=None)
        return latest

    def get_version_count(self, obj: Model) -> int:
        return len(obj.versions.all())


class ModelUpdateSerializer(ModelSerializer):
    """The name is the model's route and cannot change once created; the team changes only through a move
    (registry.services.model_update says so; a PUT that repeats the current team is fine)."""

    name = serializers.CharField(read_only=True)


class ModelMoveSerializer(serializers.Serializer):
    team = TeamField(help_text="The team that takes the model over (you must be an admin of it)")


class ModelVersionSerializer(serializers.ModelSerializer):
    model: "serializers.SlugRelatedField[Model]" = serializers.SlugRelatedField(slug_field="name", read_only=True)
    sha256 = serializers.CharField(source="artifact_id", read_only=True)
    size = serializers.IntegerField(source="artifact.size", read_only=True)
    created_by: "serializers.SlugRelatedField[AbstractBaseUser]" = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    trusted_by: "serializers.SlugRelatedField[AbstractBaseUser]" = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    metadata = SafeJSONField(required=False)
    deployable = serializers.BooleanField(read_only=True)

    class Meta:
        model = ModelVersion
        fields = [
            "model",
            "version",
            "filename",
            "sha256",
            "size",
            "format",
            "framework",
            "framework_version",
            "signature",
            "metadata",
            "trusted",
            "trusted_by",
            "trusted_at",
            "validation_status",
            "validation_error",
            "validation_details",
            "deployable",
            "created_by",
            "created_at",
        ]
        read_only_fields = [f for f in fields if f != "metadata"]


class SignatureTensorSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    datatype = serializers.ChoiceField(choices=DATATYPES)
    shape = serializers.ListField(child=serializers.IntegerField(min_value=-1, max_value=2**31 - 1), max_length=16)


class SignatureSerializer(serializers.Serializer):
    inputs = SignatureTensorSerializer(many=True, allow_empty=False)
    outputs = SignatureTensorSerializer(many=True, required=False)


class ModelVersionUploadSerializer(serializers.Serializer):
    artifact = serializers.FileField(help_text="The model file: .skops, .onnx, .pt, .pt2, .keras, .zip, .pkl, .joblib")
    metadata = SafeJSONField(required=False, help_text="Free-form JSON object, e.g. training run, metrics, dataset")
    signature = SafeJSONField(required=False, help_text="Overrides the detected input/output signature")

    def validate_signature(self, value: dict) -> dict:
        signature = SignatureSerializer(data=value)
        signature.is_valid(raise_exception=True)
        return signature.validated_data


class ModelVersionTrustSerializer(serializers.Serializer):
    trusted = serializers.BooleanField()
