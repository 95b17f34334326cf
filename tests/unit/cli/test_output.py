"""What the CLI prints and which exit code it gives, from the objects the SDK returns."""

import json
from datetime import UTC, datetime

import pytest
from rich.console import Console

from raylane import errors
from raylane.cli import output
from raylane.types import AuditEntry, Model, ModelVersion, Rollout, RolloutEvent, RolloutUpdate, from_api


def rendered(renderable) -> str:
    console = Console(record=True, width=200, color_system=None)
    console.print(renderable)
    return console.export_text()


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (errors.NotFound("model 'x' not found", status=404), output.EXIT_NOT_FOUND),
        (errors.AuthError("Invalid token.", status=401), output.EXIT_AUTH),
        (errors.PermissionDenied("deployers only", status=403), output.EXIT_AUTH),
        (errors.NotConfigured("no Raylane server given"), output.EXIT_AUTH),
        (errors.Conflict("a rollout is active", status=409), output.EXIT_FAILED),
        (errors.BadRequest("bad", status=400), output.EXIT_FAILED),
        (errors.ServerUnreachable("cannot reach"), output.EXIT_FAILED),
        (errors.RolloutFailed(Rollout(id=1, phase="failed", reason="rolled back: p99")), output.EXIT_FAILED),
        (errors.WaitTimeout("still progressing"), output.EXIT_FAILED),
    ],
)
def test_exit_codes(exc, code):
    assert output.exit_code_for(exc) == code


def test_error_lines_are_one_line_and_say_what_to_do():
    bad_token = output.error_line(errors.AuthError("Invalid token.", status=401))
    assert bad_token == "error: Invalid token. (log in again with `raylane login`, or set RAYLANE_TOKEN)"
    unreachable = output.error_line(errors.ServerUnreachable("cannot reach the Raylane server at http://h:1: refused"))
    assert "RAYLANE_URL" in unreachable and "\n" not in unreachable
    with_field = output.error_line(errors.BadRequest("Must be at most 100.", status=400, field="steps[0].weight"))
    assert with_field == "error: steps[0].weight: Must be at most 100."
    named = output.error_line(errors.BadRequest("model 'iris' has no version 9", status=400, field="version"))
    assert named == "error: model 'iris' has no version 9", "a message that names its field is not prefixed"
    multiline = output.error_line(errors.ServerError("the model failed:\n  Traceback\n  boom", status=500))
    assert multiline == "error: the model failed: Traceback boom"


def test_json_output_is_the_api_objects_with_iso_times():
    version = from_api(
        ModelVersion, {"model": "iris", "version": 2, "created_at": "2025-01-02T03:04:05.000006Z", "extra": 1}
    )
    data = json.loads(output.dumps([version]))
    assert data[0]["model"] == "iris" and data[0]["version"] == 2
    assert data[0]["created_at"] == "2025-01-02T03:04:05.000006+00:00"
    assert "extra" not in data[0], "fields the SDK does not know are not invented"


def test_tables_hold_the_values_and_never_interpret_markup():
    models = [Model(name="iris", team="ml", latest_version=3, version_count=3, tags=["[bold]x[/bold]"])]
    text = rendered(output.models_table(models))
    assert "iris" in text and "ml" in text and "[bold]x[/bold]" in text
    versions = [
        ModelVersion(model="iris", version=1, format="skops", validation_status="valid", deployable=True, size=2048),
        ModelVersion(model="iris", version=2, format="pickle", validation_status="needs_trust", size=10),
    ]
    text = rendered(output.versions_table(versions, stable=1))
    assert "1 (stable)" in text and "needs_trust" in text and "2.0 KiB" in text and "10 B" in text


def test_rollout_lines():
    at = datetime(2025, 1, 1, 12, 0, 1, tzinfo=UTC)
    rollout = Rollout(
        id=7,
        model="iris",
        from_version=1,
        to_version=2,
        phase="progressing",
        stable_weight=90,
        candidate_weight=10,
        step_index=0,
        policy_snapshot={"strategy": "canary", "steps": [{"weight": 10}, {"weight": 100}]},
        allowed_commands=["pause", "promote", "abort"],
    )
    summary = output.rollout_summary(rollout)
    assert summary[0] == "rollout 7  iris  v1 → v2  progressing (canary, step 1/2)"
    assert summary[1] == "traffic   v1 90% · v2 10%" and summary[-1] == "commands  pause, promote, abort"
    update = RolloutUpdate(
        rollout=7,
        phase="progressing",
        from_version=1,
        to_version=2,
        candidate_weight=10,
        stable_weight=90,
        allowed_commands=[],
        event=RolloutEvent(id=1, at=at, kind="step", message="step 1: 10% to the candidate"),
    )
    assert output.update_line(update).endswith("step       step 1: 10% to the candidate  [v1 90% · v2 10%]")
    failed = Rollout(id=7, model="iris", phase="failed", reason="rolled back: error rate 50.0% > max 5.0%")
    assert output.outcome_line(failed) == "rollout 7 failed: rolled back: error rate 50.0% > max 5.0%"
    done = Rollout(id=7, model="iris", to_version=2, phase="succeeded")
    assert output.outcome_line(done) == "rollout 7 succeeded: v2 of iris is the stable version"


def test_audit_changes_are_cut_short():
    entry = AuditEntry(action="update", changes={"metadata": {"to": "x" * 500}})
    assert len(output.changes_text(entry)) == 80
