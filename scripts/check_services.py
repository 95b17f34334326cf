#!/usr/bin/env python3
"""Check that PostgreSQL and Redis answer; start them when they are installed here but stopped; otherwise say
exactly what to do. Then make the database ready for two roles, idempotently:

- the owner (DATABASE_MIGRATE_URL's user, `raylane` by default), which owns the database and runs migrations;
- the app (DATABASE_URL's user, `raylane_app` by default), which only reads and writes rows and may only SELECT and
  INSERT in the audit log (controlplane/accounts/dbroles.py).

Missing roles and the database are created through DATABASE_ADMIN_URL (default: the local `postgres` superuser,
trust-authenticated on a Debian install); a database some other role owns (made before there were two roles) is
handed to the owner, and the app role's grants are applied again. With only DATABASE_URL set, one role does
everything and only the database is created, as before.

Used by `make up` and `make test`; needs only the standard library, django-environ and psycopg from the venv.
"""

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from urllib.parse import urlparse

import environ
import psycopg
from psycopg import sql

DEFAULT_DATABASE_URL = "postgres://raylane_app@127.0.0.1:5432/raylane"
DEFAULT_MIGRATE_URL = "postgres://raylane@127.0.0.1:5432/raylane"
DBROLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "controlplane", "accounts", "dbroles.py")
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(host: str, port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if reachable(host, port):
            return True
        time.sleep(0.5)
    return False


def local(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1", "")


def try_start_postgres() -> bool:
    if shutil.which("pg_ctlcluster") and os.path.isdir("/etc/postgresql"):
        for version in sorted(os.listdir("/etc/postgresql")):
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=False)
        return True
    return False


def try_start_redis(port: int) -> bool:
    if shutil.which("redis-server"):
        subprocess.run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            check=False,
        )
        return True
    return False


def ensure(name: str, host: str, port: int, start, how_to: str) -> None:  # type: ignore[no-untyped-def]
    if reachable(host, port):
        print(f"ok: {name} answers on {host}:{port}")
        return
    if local(host) and start() and wait_for(host, port, 20):
        print(f"ok: {name} was stopped; started it on {host}:{port}")
        return
    sys.exit(f"error: {name} does not answer on {host}:{port}.\n{how_to}")


def connect_params(config: dict) -> dict:
    params = {"host": config.get("HOST") or "127.0.0.1", "port": config.get("PORT") or 5432}
    return params | {"user": config.get("USER") or "postgres", "password": config.get("PASSWORD") or None}


def app_role_grants():  # type: ignore[no-untyped-def]
    """controlplane/accounts/dbroles.py, loaded by path: importing the controlplane package would start Django."""
    spec = importlib.util.spec_from_file_location("raylane_dbroles", DBROLES)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.app_role_grants


def ensure_role(connection: psycopg.Connection, user: str, password: str | None) -> None:
    row = connection.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (user,)).fetchone()
    if row is None:
        statement = sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(user))
        if password:
            statement = sql.SQL("{} PASSWORD {}").format(statement, sql.Literal(password))
        connection.execute(statement)
        print(f"ok: created database role '{user}'")
    else:
        print(f"ok: database role '{user}' exists")


def adopt(database: dict, admin: dict, owner: str) -> None:
    """Hand the database's tables, sequences and functions (made by another role, e.g. before there were two roles)
    to the owner, so its migrations may alter them."""
    with psycopg.connect(dbname=database["NAME"], autocommit=True, connect_timeout=5, **admin) as connection:
        relations = connection.execute(
            """SELECT c.relkind, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
                 AND pg_get_userbyid(c.relowner) <> %s
                 AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                 AND d.objid = c.oid AND d.deptype IN ('a', 'i', 'e'))""",
            (owner,),
        ).fetchall()
        for kind, name in relations:
            keyword = {"S": "SEQUENCE", "v": "VIEW", "m": "MATERIALIZED VIEW"}.get(kind, "TABLE")
            connection.execute(
                sql.SQL("ALTER {} {} OWNER TO {}").format(sql.SQL(keyword), sql.Identifier(name), sql.Identifier(owner))
            )
        functions = connection.execute(
            """SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> %s
                 AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                                 AND d.objid = p.oid AND d.deptype = 'e')""",
            (owner,),
        ).fetchall()
        for (signature,) in functions:
            connection.execute(
                sql.SQL("ALTER FUNCTION {} OWNER TO {}").format(sql.SQL(signature), sql.Identifier(owner))
            )
        if relations or functions:
            print(f"ok: handed {len(relations) + len(functions)} tables, sequences and functions to '{owner}'")


def grant_app_role(database: dict, admin: dict, owner: str, app: str) -> None:
    with psycopg.connect(dbname=database["NAME"], autocommit=True, connect_timeout=5, **admin) as connection:
        # Before PostgreSQL 15 every role may create tables in `public`; the app role must not.
        connection.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        tables = {name for (name,) in connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        for statement in app_role_grants()(role=app, owner=owner, tables=tables):
            connection.execute(statement)
    print(f"ok: role '{app}' may read and write rows, and only SELECT and INSERT in the audit log")


def reachable_as_owner(database: dict, owner_params: dict) -> bool:
    """Roles made by hand (a hosted server without an admin login here) are fine: migrate grants the app role."""
    try:
        with psycopg.connect(dbname=database["NAME"], connect_timeout=5, **owner_params):
            return True
    except psycopg.OperationalError:
        return False


def ensure_database(app_url: str, migrate_url: str, admin_url: str | None) -> None:
    app, owner = environ.Env.db_url_config(app_url), environ.Env.db_url_config(migrate_url)
    name = owner["NAME"]
    if app["NAME"] != name:
        sys.exit(f"error: DATABASE_URL names database '{app['NAME']}' but DATABASE_MIGRATE_URL names '{name}'.")
    owner_params, app_params = connect_params(owner), connect_params(app)
    two_roles = app_params["user"] != owner_params["user"]
    admin = connect_params(environ.Env.db_url_config(admin_url)) if admin_url else {**owner_params, "user": "postgres"}
    if not two_roles:
        admin = owner_params  # one role does everything, as before: it must be able to create the database
    try:
        with psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=5, **admin) as connection:
            if two_roles:
                ensure_role(connection, owner_params["user"], owner_params["password"])
                ensure_role(connection, app_params["user"], app_params["password"])
                superuser = connection.execute(
                    "SELECT rolsuper FROM pg_roles WHERE rolname = %s", (app_params["user"],)
                )
                if superuser.fetchone()[0]:
                    print(
                        f"warning: the app role '{app_params['user']}' is a superuser: the audit log is not protected"
                    )
            row = connection.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if row is None:
                connection.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(name), sql.Identifier(owner_params["user"])
                    )
                )
                print(f"ok: created database '{name}', owned by '{owner_params['user']}'")
            else:
                print(f"ok: database '{name}' exists")
            if two_roles and row is not None:
                if row[0] != owner_params["user"]:
                    connection.execute(
                        sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                            sql.Identifier(name), sql.Identifier(owner_params["user"])
                        )
                    )
                adopt(owner, admin, owner_params["user"])
        if two_roles:
            grant_app_role(owner, admin, owner_params["user"], app_params["user"])
    except psycopg.OperationalError as exc:
        if two_roles and reachable_as_owner(owner, owner_params):
            print(
                f"ok: database '{name}' answers to its owner '{owner_params['user']}'; no admin login "
                f"({admin['user']}), so the roles and the app role's grants are left as they are"
            )
            return
        sys.exit(
            f"error: cannot log in to PostgreSQL as '{admin['user']}': {exc}\n"
            "Set DATABASE_ADMIN_URL to a role that may create roles and databases (postgres://user:password@host:5432/"
            "postgres), or create the roles and database yourself and set DATABASE_URL (the app's role) and "
            "DATABASE_MIGRATE_URL (the owner's)."
        )


def main() -> None:
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    migrate_url = os.environ.get("DATABASE_MIGRATE_URL") or os.environ.get("DATABASE_URL", DEFAULT_MIGRATE_URL)
    redis_url = urlparse(os.environ.get("REDIS_URL", DEFAULT_REDIS_URL))
    database = environ.Env.db_url_config(database_url)
    pg_host, pg_port = database.get("HOST") or "127.0.0.1", int(database.get("PORT") or 5432)
    ensure(
        "PostgreSQL",
        pg_host,
        pg_port,
        try_start_postgres,
        "Install and start it (Debian: apt-get install -y postgresql && pg_ctlcluster 15 main start), or point\n"
        "DATABASE_URL at a server you have (postgres://user:password@host:5432/raylane).",
    )
    redis_host, redis_port = redis_url.hostname or "127.0.0.1", redis_url.port or 6379
    ensure(
        "Redis",
        redis_host,
        redis_port,
        lambda: try_start_redis(redis_port),
        "Install and start it (Debian: apt-get install -y redis-server && redis-server --daemonize yes), or point\n"
        "REDIS_URL at a server you have (redis://host:6379/0).",
    )
    ensure_database(database_url, migrate_url, os.environ.get("DATABASE_ADMIN_URL"))


if __name__ == "__main__":
    main()
