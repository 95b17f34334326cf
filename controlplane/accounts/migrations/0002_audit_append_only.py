"""The audit log is append-only in the database itself, not only in the application: UPDATE and DELETE on it fail."""

from django.db import migrations

FORBID = """
CREATE OR REPLACE FUNCTION raylane_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % is not allowed', TG_OP;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER accounts_auditentry_append_only
BEFORE UPDATE OR DELETE ON accounts_auditentry
FOR EACH ROW EXECUTE FUNCTION raylane_audit_append_only();
"""

ALLOW = """
DROP TRIGGER IF EXISTS accounts_auditentry_append_only ON accounts_auditentry;
DROP FUNCTION IF EXISTS raylane_audit_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunSQL(FORBID, ALLOW)]
