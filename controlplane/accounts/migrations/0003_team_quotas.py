import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_audit_append_only"),
    ]

    operations = [
        migrations.CreateModel(
            name="TeamQuota",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "max_replicas",
                    models.PositiveIntegerField(blank=True, help_text="Replicas; empty is unlimited", null=True),
                ),
                ("max_cpus", models.FloatField(blank=True, help_text="CPUs; empty is unlimited", null=True)),
                ("max_gpus", models.FloatField(blank=True, help_text="GPUs; empty is unlimited", null=True)),
                (
                    "max_custom",
                    models.JSONField(
                        blank=True,
                        default=dict,
                        help_text='Ray custom resources, name → amount, e.g. {"tpu": 4}; unnamed is unlimited',
                    ),
                ),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "team",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="quota", to="accounts.team"
                    ),
                ),
            ],
        ),
    ]
