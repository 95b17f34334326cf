"""models ls|show, upload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from .context import JsonFlag, client, note, show, stderr, stdout
from .output import models_table, size, version_table, versions_table

models_app = typer.Typer(help="Models in the registry: list, show.", no_args_is_help=True)


@models_app.command("ls")
def models_list(
    ctx: typer.Context,
    team: Annotated[str | None, typer.Option(help="Only this team's models.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only models with this tag.")] = None,
    search: Annotated[str | None, typer.Option(help="Name, description or tag contains this.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The models your teams can see."""
    found = client(ctx).models.list(team=team, tag=tag, search=search)
    show(found, as_json=as_json, human=models_table(found))


@models_app.command("show")
def models_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The model's name.")],
    as_json: JsonFlag = False,
) -> None:
    """A model, its versions (with their validation) and its deployment.

    Example: raylane models show iris --json | jq '.versions[-1].validation_status'
    """
    connected = client(ctx)
    model = connected.models.get(name)
    versions = connected.versions.list(name)
    deployment = connected.deployments.find(name)
    if as_json:
        show({"model": model, "versions": versions, "deployment": deployment}, as_json=True)
        return
    served = f"deployment {deployment.id}, v{deployment.stable_version} stable" if deployment else "not deployed"
    typer.echo(f"{model.name}  team {model.team}  {served}")
    if model.description:
        typer.echo(model.description)
    stdout.print(versions_table(versions, stable=deployment.stable_version if deployment else None))


def parse_json_option(value: str | None, name: str) -> dict[str, Any] | None:
    if value is None:
        return None
    text = Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint=name) from exc
    if not isinstance(parsed, dict):
        raise typer.BadParameter("must be a JSON object", param_hint=name)
    return parsed


def upload(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The model file.")],
    model: Annotated[str, typer.Option("--model", "-m", help="The model it is a version of.")],
    team: Annotated[
        str | None, typer.Option(help="Create the model in this team if it does not exist (default: your only team).")
    ] = None,
    metadata: Annotated[str | None, typer.Option(help="JSON object (or @file), e.g. '{\"accuracy\": 0.97}'.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Upload a model file as the model's next version, with a progress bar. The server load-tests the file
    before it answers: the result says whether the version is deployable.

    Formats: .skops, .onnx, .pt / .pt2 (torch), .keras, .zip (Python package or SavedModel: need an admin's trust),
    .pkl / .joblib (need trust).

    Example: raylane upload iris.skops --model iris --metadata '{"accuracy": 0.97}'
    """
    extra = parse_json_option(metadata, "--metadata")
    connected = client(ctx)
    if connected.models.find(model) is None:
        owner = team or connected.default_team()
        connected.models.create(model, team=owner)
        note(f"created model '{model}' in team {owner}")
    total = file.stat().st_size
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=stderr, transient=True, disable=as_json) as bar:
        task = bar.add_task(f"uploading {file.name}", total=total)

        def sent(done: int, whole: int) -> None:
            description = f"uploading {file.name}" if done < whole else "validating on the server"
            bar.update(task, completed=done, description=description)

        version = connected.versions.upload(model, file, metadata=extra, progress=sent)
    if as_json:
        show(version, as_json=True)
        return
    stdout.print(version_table(version))
    if version.deployable:
        typer.echo(
            f"{model} v{version.version} ({size(version.size)}) is deployable: raylane deploy {model} "
            f"--version {version.version}"
        )
    else:
        note(
            f"{model} v{version.version} is not deployable yet: {version.validation_status}"
            + (f" ({version.validation_error})" if version.validation_error else "")
        )
