"""rollout start|status|pause|resume|promote|abort|ls."""

from __future__ import annotations

from typing import Annotated

import typer

from ..rollouts import RolloutHandle
from ..types import Rollout
from .context import JsonFlag, client, show, show_line
from .output import EXIT_FAILED, event_line, outcome_line, rollout_summary, rollouts_table, update_line

rollout_app = typer.Typer(
    help="Roll a new version out under a policy, watch it, and steer it.",
    no_args_is_help=True,
)
RolloutArg = Annotated[int, typer.Argument(metavar="ROLLOUT", help="The rollout's id.")]
WatchFlag = Annotated[bool, typer.Option("--watch", "-w", help="Stream events until it ends.")]
TimeoutOption = Annotated[
    float | None, typer.Option(min=1, help="With --watch: give up after this many seconds (the rollout goes on).")
]


@rollout_app.command("start")
def rollout_start(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(metavar="DEPLOYMENT", help="A deployment's id, or its model's name.")],
    version: Annotated[int, typer.Option("--version", "-v", min=1, help="The candidate version.")],
    policy: Annotated[
        str | None, typer.Option(help="A policy's id or name (default: the deployment's default policy).")
    ] = None,
    watch: WatchFlag = False,
    timeout: TimeoutOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Start replacing a deployment's stable version with another, under a rollout policy.

    Examples:

      raylane rollout start iris --version 2 --policy careful --watch

      raylane rollout start iris -v 2 --json | jq .id
    """
    handle = client(ctx).rollout(deployment, version, policy=policy)
    if watch:
        follow(handle, timeout=timeout, as_json=as_json)
        return
    rollout = handle.rollout
    show(rollout, as_json=as_json, human="\n".join(rollout_summary(rollout)))


@rollout_app.command("status")
def rollout_status(
    ctx: typer.Context,
    rollout_id: RolloutArg,
    watch: WatchFlag = False,
    timeout: TimeoutOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Where a rollout stands: phase, traffic, the commands it allows now, its events. Exits 1 when it was rolled
    back or aborted.

    Example: raylane rollout status 12 --watch
    """
    handle = client(ctx).rollout_handle(rollout_id)
    if watch:
        follow(handle, timeout=timeout, as_json=as_json)
        return
    rollout = handle.rollout
    if as_json:
        show(rollout, as_json=True)
    else:
        typer.echo("\n".join([*rollout_summary(rollout), "events:", *(event_line(e) for e in rollout.events[-20:])]))
    if rollout.phase in ("failed", "aborted"):
        raise typer.Exit(EXIT_FAILED)


def follow(handle: RolloutHandle, *, timeout: float | None, as_json: bool) -> None:
    """Print every event (JSON lines with --json) until the rollout ends; exit 1 unless it succeeded."""
    if not as_json:
        typer.echo("\n".join(rollout_summary(handle.rollout)))
    for update in handle.watch(timeout=timeout):
        if as_json:
            show_line(update)
        else:
            typer.echo(update_line(update))
    rollout = handle.rollout
    if as_json:
        show_line(rollout)
    else:
        typer.echo(outcome_line(rollout), err=not rollout.succeeded)
    if not rollout.succeeded:
        raise typer.Exit(EXIT_FAILED)


def command(ctx: typer.Context, rollout_id: int, name: str, as_json: bool) -> Rollout:
    rollout = client(ctx).rollouts.command(rollout_id, name)
    show(rollout, as_json=as_json, human="\n".join(rollout_summary(rollout)))
    return rollout


@rollout_app.command("pause")
def rollout_pause(ctx: typer.Context, rollout_id: RolloutArg, as_json: JsonFlag = False) -> None:
    """Hold the rollout at its current weights (analysis keeps running)."""
    command(ctx, rollout_id, "pause", as_json)


@rollout_app.command("resume")
def rollout_resume(ctx: typer.Context, rollout_id: RolloutArg, as_json: JsonFlag = False) -> None:
    """Continue a paused rollout."""
    command(ctx, rollout_id, "resume", as_json)


@rollout_app.command("promote")
def rollout_promote(ctx: typer.Context, rollout_id: RolloutArg, as_json: JsonFlag = False) -> None:
    """Skip the remaining steps: all traffic to the candidate (refused until it is loaded everywhere)."""
    command(ctx, rollout_id, "promote", as_json)


@rollout_app.command("abort")
def rollout_abort(ctx: typer.Context, rollout_id: RolloutArg, as_json: JsonFlag = False) -> None:
    """All traffic back to the stable version; the rollout ends as aborted."""
    command(ctx, rollout_id, "abort", as_json)


@rollout_app.command("ls")
def rollout_list(
    ctx: typer.Context,
    deployment: Annotated[
        str | None, typer.Argument(metavar="[DEPLOYMENT]", help="Only this deployment's (id or model name).")
    ] = None,
    phase: Annotated[
        str | None, typer.Option(help="pending, progressing, paused, warm, succeeded, failed, aborted.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1)] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Rollouts, newest first."""
    connected = client(ctx)
    deployment_id = connected.deployments.id_of(deployment) if deployment else None
    found = connected.rollouts.list(deployment=deployment_id, phase=phase, limit=limit)
    show(found, as_json=as_json, human=rollouts_table(found))
