import django.contrib.postgres.fields
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="metricsample",
            name="split_requests",
            field=models.PositiveIntegerField(
                default=0, help_text="Answered for the weighted split, 4xx excluded: what a rollout's analysis reads"
            ),
        ),
        migrations.AddField(
            model_name="metricsample",
            name="split_errors",
            field=models.PositiveIntegerField(default=0, help_text="Of split_requests, answered 5xx"),
        ),
        migrations.AddField(
            model_name="metricsample",
            name="split_latency_buckets",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.PositiveIntegerField(),
                default=list,
                help_text="Latency of split_requests (per bucket)",
                size=None,
            ),
        ),
        migrations.AddField(
            model_name="metricsample",
            name="pinned_requests",
            field=models.PositiveIntegerField(default=0, help_text="Answered for clients that pinned the version"),
        ),
    ]
