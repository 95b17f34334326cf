"""The audit log refuses TRUNCATE too (UPDATE and DELETE: 0002), and the app's database role gets its rights.

TRUNCATE fires no row triggers, so it needs a statement trigger of its own. Its one way through is a session of the
table's owner (or a superuser) that sets `raylane.audit_truncate = allow` (the test suite's flush between
transactional tests): those could drop the trigger anyway, so this opens nothing. The app role has no TRUNCATE right.

The grants (accounts/dbroles.py) go to settings.DATABASE_APP_ROLE, the role of DATABASE_URL, when migrations run as
another role (DATABASE_MIGRATE_URL); with one role for both there is nothing to grant. A role that does not exist yet
is skipped: scripts/check_services.py creates it and applies the same grants on every `make up`.
"""

from django.conf import settings
from django.db import migrations, models

from controlplane.accounts.dbroles import app_role_grants

FORBID_TRUNCATE = """
CREATE OR REPLACE FUNCTION raylane_audit_no_truncate() RETURNS trigger AS $$
BEGIN
    IF current_setting('raylane.audit_truncate', true) = 'allow'
       AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE') THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: TRUNCATE is not allowed';
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS accounts_auditentry_no_truncate ON accounts_auditentry;
CREATE TRIGGER accounts_auditentry_no_truncate
BEFORE TRUNCATE ON accounts_auditentry
FOR EACH STATEMENT EXECUTE FUNCTION raylane_audit_no_truncate();
"""

ALLOW_TRUNCATE = """
DROP TRIGGER IF EXISTS accounts_auditentry_no_truncate ON accounts_auditentry;
DROP FUNCTION IF EXISTS raylane_audit_no_truncate();
"""


def grant_app_role(apps, schema_editor):
    role = getattr(settings, "DATABASE_APP_ROLE", "") or ""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_schema()")
        current_user, schema = cursor.fetchone()
        if not role or role == current_user:
            return
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            return
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema])
        tables = {name for (name,) in cursor.fetchall()}
        for statement in app_role_grants(role=role, schema=schema, tables=tables):
            cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_team_quotas")]
    operations = [
        migrations.RunSQL(FORBID_TRUNCATE, ALLOW_TRUNCATE),
        migrations.RunPython(grant_app_role, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="auditentry",
            name="remote_addr",
            field=models.GenericIPAddressField(
                blank=True,
                help_text="The client's address (NUM_PROXIES); empty for the system: a Celery task or management command.",
                null=True,
            ),
        ),
    ]
