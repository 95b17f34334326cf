"""What every command shares: the global options, the SDK client they make, and the printers."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer
from rich.console import Console

from ..client import Client
from .output import dumps, dumps_line

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON (the API's objects) instead of a table.")]


@dataclass
class State:
    url: str | None = None
    token: str | None = None
    serve_url: str | None = None
    client: Client | None = field(default=None, repr=False)

    def connect(self) -> Client:
        if self.client is None:
            self.client = Client(self.url, self.token, serve_url=self.serve_url)
        return self.client


def state(ctx: typer.Context) -> State:
    found = ctx.find_object(State)
    return found if found is not None else ctx.ensure_object(State)


def client(ctx: typer.Context) -> Client:
    return state(ctx).connect()


stdout = Console(highlight=False, soft_wrap=False)
stderr = Console(stderr=True, highlight=False)


def show(value: Any, *, as_json: bool, human: Any = None) -> None:
    """JSON of `value` with --json, else `human` (a Rich renderable or text; default: `value` itself)."""
    if as_json:
        sys.stdout.write(dumps(value) + "\n")
        sys.stdout.flush()
        return
    rendered = value if human is None else human
    if isinstance(rendered, str):
        typer.echo(rendered)
    else:
        stdout.print(rendered)


def show_line(value: Any) -> None:
    """One JSON object per line (streams: watched rollouts, followed logs)."""
    sys.stdout.write(dumps_line(value) + "\n")
    sys.stdout.flush()


def note(text: str) -> None:
    """Progress and advice for people, on stderr so it never mixes with the output scripts read."""
    typer.echo(text, err=True)
