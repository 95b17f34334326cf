"""deploy, undeploy, rollback, predict, logs, deployments ls, policies ls."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ..inference import PROTOCOLS
from .context import JsonFlag, client, note, show, show_line, stderr
from .output import deployments_table, log_line, policies_table

DeploymentArg = Annotated[
    str, typer.Argument(metavar="DEPLOYMENT", help="A deployment's id, or the name of its model.")
]
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def deploy(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="The model to serve.")],
    version: Annotated[
        int | None, typer.Option("--version", "-v", min=1, help="Default: the newest deployable version.")
    ] = None,
    min_replicas: Annotated[int | None, typer.Option(min=0, help="Autoscaling floor.")] = None,
    max_replicas: Annotated[int | None, typer.Option(min=1, help="Autoscaling ceiling.")] = None,
    cpus: Annotated[float | None, typer.Option(min=0, help="CPUs per replica (default 0.25).")] = None,
    wait: Annotated[bool, typer.Option(help="Wait until the version answers on the inference route.")] = True,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait with --wait.")] = 300,
    as_json: JsonFlag = False,
) -> None:
    """Serve a version of a model at 100%: creates its deployment, or switches an existing one at once (for a
    gradual switch under a policy, use `raylane rollout start`).

    Examples:

      raylane deploy iris --version 1

      raylane deploy iris --version 3 --min-replicas 1 --max-replicas 4 --no-wait
    """
    options: dict[str, Any] = {}
    if min_replicas is not None or max_replicas is not None:
        low = min_replicas if min_replicas is not None else 1
        options["autoscaling"] = {"min_replicas": low, "max_replicas": max_replicas or max(low, 1)}
    if cpus is not None:
        options["resources"] = {"num_cpus": cpus}
    connected = client(ctx)
    deployment = connected.deploy(model, version, **options)
    if wait:
        with stderr.status(f"waiting for {model} v{deployment.stable_version} to answer", spinner="dots"):
            connected.wait_until_serving(model, deployment.stable_version, timeout=timeout)
    human = (
        f"deployment {deployment.id}: {model} v{deployment.stable_version} "
        + ("answers at " if wait else "goes to ")
        + f"{connected.serve_url if wait else ''}{deployment.route}:predict"
    )
    show(deployment, as_json=as_json, human=human)


def undeploy(
    ctx: typer.Context,
    deployment: DeploymentArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Stop serving a model: its deployment is deleted and its replicas go away (the model and versions stay).

    Example: raylane undeploy iris --yes
    """
    connected = client(ctx)
    target = connected.deployments.get(deployment)
    if not yes:
        if not sys.stdin.isatty():
            raise typer.BadParameter("undeploying needs --yes when not run from a terminal", param_hint="--yes")
        typer.confirm(f"Stop serving {target.model} (deployment {target.id})?", abort=True)
    connected.undeploy(target.id)
    show({"undeployed": target.id, "model": target.model}, as_json=as_json, human=f"undeployed {target.model}")


def rollback(
    ctx: typer.Context,
    deployment: DeploymentArg,
    to: Annotated[int, typer.Option("--to", min=1, help="The version to serve at 100%.")],
    as_json: JsonFlag = False,
) -> None:
    """Serve an earlier version at 100% at once, aborting any active rollout (both are recorded).

    Example: raylane rollback iris --to 1
    """
    result = client(ctx).rollback(deployment, to)
    show(result, as_json=as_json, human=f"deployment {result.id}: {result.model} v{result.stable_version} is stable")


def read_data(value: str) -> Any:
    """--data: JSON, @file with JSON, or - for stdin."""
    try:
        if value == "-":
            text = sys.stdin.read()
        elif value.startswith("@"):
            text = Path(value[1:]).read_text(encoding="utf-8")
        else:
            text = value
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {value[1:]}: {exc.strerror or exc}", param_hint="--data") from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--data") from exc


def predict(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="The deployed model.")],
    data: Annotated[
        str, typer.Option("--data", "-d", help="JSON rows (or a whole v1/v2 body), @file, or - for stdin.")
    ],
    version: Annotated[int | None, typer.Option("--version", "-v", min=1, help="Pin this version.")] = None,
    protocol: Annotated[str, typer.Option(help="v1 (KServe) or v2 (Open Inference Protocol).")] = "v1",
    key: Annotated[
        str | None, typer.Option(envvar="RAYLANE_DATA_KEY", help="Data-plane key, for deployments that need one.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Ask a deployed model, over the inference route (not through the control plane).

    Examples:

      raylane predict iris --data '[[5.1, 3.5, 1.4, 0.2]]'

      raylane predict iris --data @rows.json --version 2 --protocol v2
    """
    if protocol not in PROTOCOLS:
        raise typer.BadParameter(f"one of {', '.join(PROTOCOLS)}", param_hint="--protocol")
    body = read_data(data)
    try:
        answer = client(ctx).predict(model, body, version=version, protocol=protocol, key=key)
    except (ValueError, TypeError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--data") from exc
    if as_json:
        show(
            {"model": model, "version": answer.version, "predictions": answer.predictions, "body": answer.body},
            as_json=True,
        )
        return
    typer.echo(json.dumps(answer.predictions))
    note(f"answered by {model} v{answer.version}")


def logs(
    ctx: typer.Context,
    deployment: DeploymentArg,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep streaming new lines (Ctrl-C stops).")] = False,
    level: Annotated[str | None, typer.Option(help="This level and above: DEBUG, INFO, WARNING, ERROR.")] = None,
    version: Annotated[int | None, typer.Option("--version", "-v", min=1, help="Lines of this version only.")] = None,
    replica: Annotated[str | None, typer.Option(help="Replicas whose id contains this.")] = None,
    grep: Annotated[str | None, typer.Option("--grep", "-q", help="Lines containing this text.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, help="Without -f: the last N.")] = 200,
    as_json: JsonFlag = False,
) -> None:
    """The replicas' log lines of a deployment (Serve's log, the model's prints and errors).

    Examples:

      raylane logs iris --level ERROR

      raylane logs iris -f --version 2
    """
    if level is not None and level.upper() not in LEVELS:
        raise typer.BadParameter(f"one of {', '.join(LEVELS)}", param_hint="--level")
    lines = client(ctx).logs(
        deployment,
        follow=follow,
        level=level.upper() if level else None,
        version=version,
        replica=replica,
        q=grep,
        limit=None if follow else limit,
    )
    try:
        for line in lines:
            if as_json:
                show_line(line)
            else:
                typer.echo(log_line(line))
    except KeyboardInterrupt:
        return


deployments_app = typer.Typer(help="Deployments: list.", no_args_is_help=True)


@deployments_app.command("ls")
def deployments_list(
    ctx: typer.Context,
    team: Annotated[str | None, typer.Option(help="Only this team's deployments.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """What is deployed, and which version is stable."""
    found = client(ctx).deployments.list(team=team)
    show(found, as_json=as_json, human=deployments_table(found))


policies_app = typer.Typer(help="Rollout policies: list.", no_args_is_help=True)


@policies_app.command("ls")
def policies_list(
    ctx: typer.Context,
    team: Annotated[str | None, typer.Option(help="Only this team's policies.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Rollout policies (strategy and steps), to name in `raylane rollout start --policy`."""
    found = client(ctx).policies.list(team=team)
    show(found, as_json=as_json, human=policies_table(found))
