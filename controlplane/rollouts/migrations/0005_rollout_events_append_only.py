"""Rollout events are a record of decisions: like the audit log, the database refuses to change or delete them
(deleting the whole rollout, which cascades, is the one way out, and only for a deployment being deleted)."""

from django.db import migrations

FORBID = """
CREATE OR REPLACE FUNCTION raylane_rollout_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'rollout events are append-only: UPDATE is not allowed';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER rollouts_rolloutevent_append_only
BEFORE UPDATE ON rollouts_rolloutevent
FOR EACH ROW EXECUTE FUNCTION raylane_rollout_events_append_only();
"""

ALLOW = """
DROP TRIGGER IF EXISTS rollouts_rolloutevent_append_only ON rollouts_rolloutevent;
DROP FUNCTION IF EXISTS raylane_rollout_events_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("rollouts", "0004_rollouts_and_events")]
    operations = [migrations.RunSQL(FORBID, ALLOW)]
