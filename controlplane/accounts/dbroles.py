"""What the app's database role may do: rows in, rows out, no schema, and only SELECT and INSERT on the audit log.

The app connects as a role that owns nothing (settings: DATABASE_URL); migrations run as the owner
(DATABASE_MIGRATE_URL). An owner can drop triggers, so ownership is what would let an injected query erase history;
the app role has none, no TRUNCATE and no TRIGGER right anywhere.

Plain SQL text and no Django import: the accounts migration runs these statements as the owner, and
scripts/check_services.py (standard library + psycopg) runs them as the server's admin on every `make up`, so a
database migrated before the role existed, or by another owner, still ends up with the same grants. Every statement is
idempotent.
"""

AUDIT_TABLE = "accounts_auditentry"
MIGRATIONS_TABLE = "django_migrations"


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def app_role_grants(*, role: str, schema: str = "public", owner: str | None = None, tables: set[str]) -> list[str]:
    """Statements that give `role` ordinary DML on the tables of `schema` and on those created later by `owner`
    (default: whoever runs them), except the audit log (SELECT, INSERT) and the migration history (SELECT).
    `tables` names the tables that exist now, so the table-specific statements are skipped before the first migrate.
    """
    app, ns = quote(role), quote(schema)
    for_owner = f"FOR ROLE {quote(owner)} " if owner else ""
    statements = [
        f"GRANT USAGE ON SCHEMA {ns} TO {app}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {ns} TO {app}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {ns} TO {app}",
        f"ALTER DEFAULT PRIVILEGES {for_owner}IN SCHEMA {ns} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}",
        f"ALTER DEFAULT PRIVILEGES {for_owner}IN SCHEMA {ns} GRANT USAGE, SELECT ON SEQUENCES TO {app}",
    ]
    if AUDIT_TABLE in tables:
        audit = f"{ns}.{quote(AUDIT_TABLE)}"
        statements += [f"REVOKE ALL ON {audit} FROM {app}, PUBLIC", f"GRANT SELECT, INSERT ON {audit} TO {app}"]
    if MIGRATIONS_TABLE in tables:
        history = f"{ns}.{quote(MIGRATIONS_TABLE)}"
        statements += [f"REVOKE ALL ON {history} FROM {app}, PUBLIC", f"GRANT SELECT ON {history} TO {app}"]
    return statements
