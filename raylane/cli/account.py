"""login, logout, whoami, tokens, audit."""

from __future__ import annotations

import socket
import sys
from typing import Annotated

import typer

from ..auth import token_from_password
from ..client import Client
from ..config import config_path, forget_token, load_config, save_config
from .context import JsonFlag, client, note, show, state
from .output import audit_table, dumps, tokens_table


def read_secret(prompt: str) -> str:
    """Hidden prompt on a terminal; one line of stdin otherwise (scripts pipe it in)."""
    if sys.stdin.isatty():
        return typer.prompt(prompt, hide_input=True)
    return sys.stdin.readline().strip()


def login(
    ctx: typer.Context,
    url: Annotated[
        str | None, typer.Argument(help="The server, e.g. http://127.0.0.1:8000.", show_default=False)
    ] = None,
    token: Annotated[
        str | None, typer.Option("--with-token", help="An API token (rl_…); else asked for, or read from stdin.")
    ] = None,
    username: Annotated[
        str | None, typer.Option("--username", "-u", help="Log in with a password and create a token for this CLI.")
    ] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    expires_in_days: Annotated[
        int | None, typer.Option("--days", min=1, help="With --username: the new token's lifetime.")
    ] = None,
    serve_url: Annotated[
        str | None, typer.Option("--serve-url", help="Where models answer, if not the server's host on port 8080.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check a token against the server and store the server URL and token in your config file (mode 0600).

    Examples:

      raylane login http://127.0.0.1:8000                 # asks for a token (rl_…)

      echo "$TOKEN" | raylane login http://127.0.0.1:8000

      raylane login http://127.0.0.1:8000 -u alice        # asks for alice's password, creates a token
    """
    settings = state(ctx)
    path = config_path()
    url = url or settings.url or load_config(path).get("url") or typer.prompt("Raylane server URL")
    if username:
        password = sys.stdin.readline().rstrip("\n") if password_stdin else typer.prompt("Password", hide_input=True)
        created = token_from_password(
            url, username, password, name=f"raylane CLI on {socket.gethostname()}", expires_in_days=expires_in_days
        )
        token = created.key
    elif not token:
        token = read_secret("API token (rl_…)")
    checked = Client(url, token, serve_url=serve_url)
    user = checked.me()
    save_config(path, {"url": checked.url, "token": token, "serve_url": serve_url})
    teams = ", ".join(f"{m['team']} ({m['role']})" for m in user.teams) or "no team yet"
    if as_json:
        show({"url": checked.url, "user": user, "config": str(path)}, as_json=True)
        return
    typer.echo(f"Logged in to {checked.url} as {user.username}; teams: {teams}.")
    note(f"Stored the URL and token in {path} (readable by you only).")


def logout(as_json: JsonFlag = False) -> None:
    """Forget the stored token (the URL stays). The token itself stays valid until it expires: revoke it with
    `raylane tokens revoke ID` if it may have leaked."""
    path = config_path()
    forgot = forget_token(path)
    if as_json:
        show({"forgot_token": forgot, "config": str(path)}, as_json=True)
    else:
        typer.echo(f"Removed the token from {path}." if forgot else f"No token stored in {path}.")


def whoami(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Who the token belongs to, on which server, with which teams and roles."""
    connected = client(ctx)
    user = connected.me()
    if as_json:
        show({"url": connected.url, "user": user}, as_json=True)
        return
    teams = ", ".join(f"{m['team']} ({m['role']})" for m in user.teams) or "no team yet"
    admin = " · site admin" if user.is_superuser else ""
    typer.echo(f"{user.username} on {connected.url}{admin}\nteams: {teams}")


tokens_app = typer.Typer(help="Your API tokens: list, create, revoke.", no_args_is_help=True)


@tokens_app.command("ls")
def tokens_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Your tokens, newest first (keys are never shown again after creation)."""
    found = client(ctx).tokens.list()
    show(found, as_json=as_json, human=tokens_table(found))


@tokens_app.command("create")
def tokens_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. 'ci-deploy'.")],
    days: Annotated[int | None, typer.Option("--days", min=1, help="Lifetime (server default: 90 days).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a token; its key is printed once. The API mints tokens for a logged-in session or a site admin's
    token only: `raylane login -u NAME` creates one from a password.

    Example: raylane tokens create ci-deploy --days 30 --json | jq -r .key
    """
    created = client(ctx).tokens.create(name, expires_in_days=days)
    if as_json:
        typer.echo(dumps(created))
        return
    typer.echo(created.key)
    note(
        f"token {created.id} '{created.name}' expires {created.expires_at:%Y-%m-%d}: "
        "store the key now, it is not shown again"
    )


@tokens_app.command("revoke")
def tokens_revoke(
    ctx: typer.Context,
    token_id: Annotated[int, typer.Argument(metavar="ID", help="The token's id (`raylane tokens ls`).")],
    as_json: JsonFlag = False,
) -> None:
    """Revoke a token at once: every request and open stream using it is refused from now on."""
    client(ctx).tokens.revoke(token_id)
    show({"revoked": token_id}, as_json=as_json, human=f"Revoked token {token_id}.")


def audit(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many entries.")] = 50,
    action: Annotated[str | None, typer.Option(help="e.g. create, update, delete, upload, trust, login.")] = None,
    actor: Annotated[str | None, typer.Option(help="Only this username's entries.")] = None,
    team: Annotated[str | None, typer.Option(help="Only this team's entries.")] = None,
    target_type: Annotated[str | None, typer.Option("--target", help="e.g. deployment, modelversion.")] = None,
    since: Annotated[str | None, typer.Option(help="ISO 8601 time, e.g. 2025-01-31T12:00:00Z.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The audit log, newest first: every write and login you may see.

    Example: raylane audit --actor alice --action trust --limit 20
    """
    entries = client(ctx).audit.list(
        action=action, actor=actor, team=team, target_type=target_type, since=since, limit=limit
    )
    show(entries, as_json=as_json, human=audit_table(entries))
