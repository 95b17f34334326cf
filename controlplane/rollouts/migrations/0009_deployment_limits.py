from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("rollouts", "0008_deployment_keys"),
    ]

    operations = [
        migrations.AddField(
            model_name="deployment",
            name="limits",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="What one inference request may hold: {max_body_bytes, max_elements, max_depth}; null or "
                "absent takes the site default (rollouts.limits)",
            ),
        ),
    ]
