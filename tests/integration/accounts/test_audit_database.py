"""The audit log holds in the database itself: TRUNCATE is refused to everyone, and the role the app connects as may
only SELECT and INSERT there, owns nothing, and so cannot drop or disable the triggers either."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from controlplane.accounts.dbroles import app_role_grants

ROOT = Path(__file__).resolve().parents[3]
APP_ROLE = "raylane_test_app"  # a role of the test suite's own, on the shared server; created when missing

REFUSED_TO_THE_APP = [
    "TRUNCATE accounts_auditentry",
    "UPDATE accounts_auditentry SET action = 'delete'",
    "DELETE FROM accounts_auditentry",
    "DROP TRIGGER accounts_auditentry_append_only ON accounts_auditentry",
    "ALTER TABLE accounts_auditentry DISABLE TRIGGER ALL",
    "DROP TABLE accounts_auditentry",
    "INSERT INTO django_migrations (app, name, applied) VALUES ('accounts', 'fake', now())",
    "CREATE TABLE public.raylane_intruder (id int)",
]
INSERT_ENTRY = (
    "INSERT INTO accounts_auditentry (at, action, target_type, target_id, target_repr, actor_username, team_slug, "
    "changes) VALUES (now(), 'create', 'test', '', '', '', '', '{}') RETURNING id"
)


def params(settings_dict: dict, **overrides: str) -> dict:
    return {
        "host": settings_dict["HOST"] or "127.0.0.1",
        "port": settings_dict["PORT"] or 5432,
        "user": settings_dict["USER"] or "postgres",
        "password": settings_dict["PASSWORD"] or None,
        "dbname": settings_dict["NAME"],
        "connect_timeout": 5,
        "options": "-c lock_timeout=10s",  # a test never hangs on a lock; it fails
    } | overrides


@pytest.fixture
def test_database(db) -> Iterator[dict]:
    """The test database's connection settings, for raw connections of our own: they see committed state only, and
    this test's own transaction takes no lock on the audit table (it never touches it)."""
    settings_dict = dict(connection.settings_dict)
    with psycopg.connect(**params(settings_dict), autocommit=True) as admin:
        if not admin.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]:
            pytest.skip("needs the test database's user to be a superuser, to create and become the app role")
    yield settings_dict


def refused(conn: psycopg.Connection, statement: str) -> str:
    with pytest.raises(psycopg.Error) as caught:
        conn.execute(statement)
    return str(caught.value)


def test_truncate_is_refused_even_to_the_owner(test_database):
    with psycopg.connect(**params(test_database), autocommit=True) as conn:
        assert "append-only" in refused(conn, "TRUNCATE accounts_auditentry")
        assert "append-only" in refused(conn, "TRUNCATE accounts_auditentry CASCADE")


def test_the_app_role_may_only_select_and_insert_in_the_audit_log(test_database):
    with psycopg.connect(**params(test_database), autocommit=True) as owner:
        owner.execute(
            sql.SQL("DO $$ BEGIN CREATE ROLE {} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$").format(
                sql.Identifier(APP_ROLE)
            )
        )
        tables = {name for (name,) in owner.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        for statement in app_role_grants(role=APP_ROLE, tables=tables):
            owner.execute(statement)

    with psycopg.connect(**params(test_database), autocommit=True) as conn:
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(APP_ROLE)))
        conn.execute("SET raylane.audit_truncate = 'allow'")  # the test suite's way through is not the app's
        for statement in REFUSED_TO_THE_APP:
            message = refused(conn, statement)
            assert "permission denied" in message or "must be owner" in message, (statement, message)
        with conn.transaction(force_rollback=True):
            entry_id = conn.execute(INSERT_ENTRY).fetchone()[0]
            assert conn.execute("SELECT action FROM accounts_auditentry WHERE id = %s", (entry_id,)).fetchone() == (
                "create",
            )
            # Everything else is ordinary rows: the app reads, writes and deletes them.
            conn.execute("UPDATE accounts_team SET name = name WHERE false")
            conn.execute("DELETE FROM django_session WHERE false")
        assert conn.execute("SELECT has_table_privilege('accounts_team', 'TRUNCATE')").fetchone() == (False,)


def run(command: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_check_services_and_migrate_set_up_two_roles(test_database):
    """`make up`'s path on a fresh database: check_services creates the owner, the app role and the database
    (twice: idempotent), `manage.py migrate` runs as the owner, and the app role ends up unable to touch history."""
    suffix = f"{os.getpid()}"
    database, owner, app = f"raylane_roles_{suffix}", f"raylane_owner_{suffix}", f"raylane_app_{suffix}"
    host, port = test_database["HOST"] or "127.0.0.1", test_database["PORT"] or 5432
    admin = params(test_database, dbname="postgres")
    admin_url = f"postgres://{admin['user']}:{admin['password'] or ''}@{host}:{port}/postgres"
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "controlplane.settings.local",
        "DATABASE_URL": f"postgres://{app}@{host}:{port}/{database}",
        "DATABASE_MIGRATE_URL": f"postgres://{owner}@{host}:{port}/{database}",
        "DATABASE_ADMIN_URL": admin_url,
    }
    try:
        run([sys.executable, "scripts/check_services.py"], environment)
        again = run([sys.executable, "scripts/check_services.py"], environment)
        assert f"database role '{app}' exists" in again.stdout
        run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], environment)
        run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-c",
                "from controlplane.accounts.services import audit_record; audit_record(actor=None, action='create', "
                "target_type='test'); from django.db import connection; assert connection.settings_dict['USER'] == "
                f"'{app}', connection.settings_dict['USER']",
            ],
            environment,
        )
        with psycopg.connect(**params(test_database, dbname=database, user=app), autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM accounts_auditentry").fetchone() == (1,)
            for statement in REFUSED_TO_THE_APP:
                message = refused(conn, statement)
                assert "permission denied" in message or "must be owner" in message, (statement, message)
        with psycopg.connect(**params(test_database, dbname=database, user=owner), autocommit=True) as conn:
            assert "append-only" in refused(conn, "TRUNCATE accounts_auditentry")
            assert "append-only" in refused(conn, "DELETE FROM accounts_auditentry")
    finally:
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
            for role in (app, owner):
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
