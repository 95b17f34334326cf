"""The `raylane` command: Typer + Rich over the SDK. Every command takes --json; errors are one line on stderr and
the exit code says what kind (raylane.cli.output)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from .. import __version__
from ..errors import RaylaneError
from . import account, registry, rollouts, serving
from .context import State
from .output import EXIT_CODES_HELP, error_line, exit_code_for

HELP = """Raylane from a terminal: register models, deploy them, roll new versions out under a policy, watch it
happen, ask the models, read their logs.

Log in once (the URL and token go to your config file, mode 0600), or set RAYLANE_URL and RAYLANE_TOKEN:

  raylane login http://127.0.0.1:8000

  raylane upload iris.skops --model iris

  raylane deploy iris --version 1

  raylane rollout start iris --version 2 --policy careful --watch

  raylane predict iris --data '[[5.1, 3.5, 1.4, 0.2]]'

Tab completion: raylane --install-completion."""


class RaylaneGroup(TyperGroup):
    """Turns the SDK's errors into one line on stderr and the documented exit code, for every command."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except RaylaneError as exc:
            typer.echo(error_line(exc), err=True)
            raise typer.Exit(exit_code_for(exc)) from None


app = typer.Typer(
    name="raylane",
    cls=RaylaneGroup,
    help=HELP,
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_show_locals=False,
)


def show_version(value: bool) -> None:
    if value:
        typer.echo(f"raylane {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    url: Annotated[
        str | None, typer.Option("--url", envvar="RAYLANE_URL", help="The server (default: from `raylane login`).")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token", envvar="RAYLANE_TOKEN", help="An API token (default: from `raylane login`).", show_default=False
        ),
    ] = None,
    serve_url: Annotated[
        str | None,
        typer.Option(
            "--serve-url", envvar="RAYLANE_SERVE_URL", help="Where models answer (default: announced by the server)."
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=show_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    ctx.obj = State(url=url, token=token, serve_url=serve_url)


app.command("login")(account.login)
app.command("logout")(account.logout)
app.command("whoami")(account.whoami)
app.add_typer(registry.models_app, name="models")
app.command("upload")(registry.upload)
app.command("deploy")(serving.deploy)
app.command("undeploy")(serving.undeploy)
app.add_typer(rollouts.rollout_app, name="rollout")
app.command("rollback")(serving.rollback)
app.command("predict")(serving.predict)
app.command("logs")(serving.logs)
app.add_typer(serving.deployments_app, name="deployments")
app.add_typer(serving.policies_app, name="policies")
app.add_typer(account.tokens_app, name="tokens")
app.command("audit")(account.audit)


def main() -> None:
    app(prog_name="raylane")
