#!/usr/bin/env python3
"""Check that PostgreSQL and Redis answer; start them when they are installed here but stopped; otherwise say
exactly what to do. Then create the database named in DATABASE_URL if it does not exist.

Used by `make up` and `make test`; needs only the standard library, django-environ and psycopg from the venv.
"""

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

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/raylane"
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


def ensure_database(url: str) -> None:
    config = environ.Env.db_url_config(url)
    name = config["NAME"]
    params = {"host": config.get("HOST") or "127.0.0.1", "port": config.get("PORT") or 5432}
    params |= {"user": config.get("USER") or "postgres", "password": config.get("PASSWORD") or None}
    try:
        with psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=5, **params) as connection:
            exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                print(f"ok: created database '{name}'")
            else:
                print(f"ok: database '{name}' exists")
    except psycopg.OperationalError as exc:
        sys.exit(
            f"error: cannot log in to PostgreSQL as '{params['user']}': {exc}\n"
            "Set DATABASE_URL to a role that may create databases, e.g. postgres://user:password@host:5432/raylane"
        )


def main() -> None:
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
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
    ensure_database(database_url)


if __name__ == "__main__":
    main()
