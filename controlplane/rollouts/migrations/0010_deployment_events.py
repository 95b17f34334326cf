"""Events of a deployment that no rollout made (a deploy, a rollback): RolloutEvent.rollout becomes nullable and
every event names its deployment. Existing events get theirs from their rollout; the append-only trigger
(0005) is lifted for that one UPDATE only."""

import django.db.models.deletion
from django.db import migrations, models

BACKFILL = """
ALTER TABLE rollouts_rolloutevent DISABLE TRIGGER rollouts_rolloutevent_append_only;
UPDATE rollouts_rolloutevent AS event SET deployment_id = rollout.deployment_id
    FROM rollouts_rollout AS rollout WHERE event.rollout_id = rollout.id AND event.deployment_id IS NULL;
SET CONSTRAINTS ALL IMMEDIATE;
ALTER TABLE rollouts_rolloutevent ENABLE TRIGGER rollouts_rolloutevent_append_only;
"""


class Migration(migrations.Migration):
    dependencies = [("rollouts", "0009_deployment_limits")]

    operations = [
        migrations.AlterField(
            model_name="rolloutevent",
            name="rollout",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="events",
                to="rollouts.rollout",
            ),
        ),
        migrations.AddField(
            model_name="rolloutevent",
            name="deployment",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="events",
                to="rollouts.deployment",
            ),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
