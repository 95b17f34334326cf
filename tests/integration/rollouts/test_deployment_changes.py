"""A deployment change during a rollout, and the events of every change of what serves (issue 11, item 0)."""

import pytest

from controlplane.accounts.models import AuditEntry
from controlplane.rollouts import services
from controlplane.rollouts.models import Deployment, Rollout, RolloutEvent, RolloutPolicy
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(people, twin, django_capture_on_commit_callbacks):
    model = factories.make_model(people["team"], "iris")
    for number in (1, 2, 3):
        factories.make_version(model, number)
    canary = RolloutPolicy.objects.create(
        team=people["team"], name="canary", strategy="canary", steps=[{"weight": 10, "pause_s": None}]
    )
    with django_capture_on_commit_callbacks(execute=True):
        deployment = Deployment.objects.create(
            team=people["team"], model=model, stable_version=model.versions.get(version=1)
        )
    return {"deployment": deployment, "canary": canary, "client": factories.client_for(people["deployer"])}


@pytest.fixture
def pushes(monkeypatch):
    """What services push on the websockets' groups (sent after commit), as (group, kind, data)."""
    sent = []
    monkeypatch.setattr(services.state, "broadcast", lambda group, kind, data: sent.append((group, kind, data)))
    return sent


@pytest.fixture
def at_ten_percent(world, monitor, django_capture_on_commit_callbacks):
    """A canary of v2 holding at 10% until a person promotes it."""
    client, deployment = world["client"], world["deployment"]
    with django_capture_on_commit_callbacks(execute=True):  # the reconcile loads v2 on the twin
        response = client.post(
            f"/api/v1/deployments/{deployment.pk}/rollouts/",
            {"version": 2, "policy": world["canary"].pk},
            format="json",
        )
    assert response.status_code == 201, response.json()
    rollout_id = response.json()["id"]
    monitor.tick()  # the twin loads v2 at once: the sample shows it ready
    services.rollout_tick(rollout_id=rollout_id)
    rollout = Rollout.objects.get(pk=rollout_id)
    assert (rollout.phase, rollout.candidate_weight) == ("progressing", 10)
    return rollout


def events(world):
    response = world["client"].get(f"/api/v1/deployments/{world['deployment'].pk}/events/")
    assert response.status_code == 200
    return response.json()["events"]


def test_deploying_during_a_rollout_is_refused_with_the_rollouts_state(world, twin, at_ten_percent):
    rollout = at_ten_percent
    url = f"/api/v1/deployments/{world['deployment'].pk}/"
    response = world["client"].patch(url, {"stable_version": 3}, format="json")
    assert response.status_code == 409, response.json()
    expected = f"rollout #{rollout.pk} is progressing (canary 10%); abort it first, or send abort_rollout=true"
    assert response.json()["detail"] == expected
    assert response.json()["stable_version"] == [expected] and response.json()["rollout"] == rollout.pk
    assert Deployment.objects.get().stable_version.version == 1, "nothing changed underneath the rollout"
    assert Rollout.objects.get(pk=rollout.pk).phase == "progressing"
    # What does not change what serves still goes through, and so does naming the version already stable.
    assert world["client"].patch(url, {"autoscaling": {"max_replicas": 2}}, format="json").status_code == 200
    assert world["client"].patch(url, {"stable_version": 1}, format="json").status_code == 200


def test_abort_rollout_true_aborts_first_and_records_both_events(
    world, twin, at_ten_percent, pushes, django_capture_on_commit_callbacks
):
    rollout = at_ten_percent
    with django_capture_on_commit_callbacks(execute=True):
        response = world["client"].patch(
            f"/api/v1/deployments/{world['deployment'].pk}/",
            {"stable_version": 3, "abort_rollout": True},
            format="json",
        )
    assert response.status_code == 200, response.json()
    assert response.json()["stable_version"] == 3 and "abort_rollout" not in response.json()
    assert Rollout.objects.get(pk=rollout.pk).phase == "aborted"
    user_config = twin.status().applications["iris"].deployed_config["deployments"][0]["user_config"]
    assert user_config["weights"] == {"3": 100}
    kinds = [(event["kind"], event["rollout"]) for event in events(world)]
    assert kinds[-2:] == [("aborted", rollout.pk), ("deployed", None)]
    assert events(world)[-1]["message"] == "v3 is the stable version (was v1): all traffic on v3"
    assert events(world)[-1]["actor_username"] == "deployer"
    pushed = [(group, data["event"]["kind"]) for group, _, data in pushes if group.startswith("deployment-")]
    assert pushed[-2:] == [(f"deployment-{world['deployment'].pk}", "aborted"), (pushed[-1][0], "deployed")]
    assert pushes[-1][2]["rollout"] is None and pushes[-1][2]["stable_version"] == 3
    audit = AuditEntry.objects.filter(target_type="rollouts.deployment", action="update").latest("pk")
    assert audit.changes == {"stable_version": {"from": str(world["deployment"].stable_version.pk), "to": str(
        Deployment.objects.get().stable_version.pk)}}  # fmt: skip


def test_every_change_of_what_serves_records_an_event(world, people, twin, django_capture_on_commit_callbacks):
    client, deployment = world["client"], world["deployment"]
    with django_capture_on_commit_callbacks(execute=True):
        for number in (3, 2):
            patched = client.patch(f"/api/v1/deployments/{deployment.pk}/", {"stable_version": number}, format="json")
            assert patched.status_code == 200, patched.json()
        rolled = client.post(f"/api/v1/deployments/{deployment.pk}/rollback/", {"version": 1}, format="json")
    assert rolled.status_code == 200
    assert [(event["kind"], event["data"]) for event in events(world)] == [
        ("deployed", {"from": 1, "to": 3}),
        ("rolled_back", {"from": 3, "to": 2}),  # deploying an older version is a rollback
        ("rolled_back", {"from": 2, "to": 1}),
    ]
    assert events(world)[-1]["message"] == "rolled back to v1 (was v2): all traffic on v1"

    other = factories.make_model(people["team"], "wine")
    factories.make_version(other, 1)
    created = client.post("/api/v1/deployments/", {"model": "wine", "stable_version": 1}, format="json")
    assert created.status_code == 201, created.json()
    (event,) = RolloutEvent.objects.filter(deployment_id=created.json()["id"])
    assert (event.kind, event.data, event.rollout_id) == ("deployed", {"from": None, "to": 1}, None)


def test_a_rollback_during_a_rollout_records_the_abort_and_the_rollback(world, twin, at_ten_percent):
    rollout = at_ten_percent
    response = world["client"].post(
        f"/api/v1/deployments/{world['deployment'].pk}/rollback/", {"version": 1}, format="json"
    )
    assert response.status_code == 200
    assert [event["kind"] for event in events(world)][-2:] == ["aborted", "rolled_back"]
    assert Rollout.objects.get(pk=rollout.pk).phase == "aborted"


def test_rollouts_list_the_commands_their_state_allows(world, twin, at_ten_percent, pushes):
    rollout = at_ten_percent
    client = world["client"]
    detail = client.get(f"/api/v1/rollouts/{rollout.pk}/").json()
    assert detail["allowed_commands"] == ["pause", "promote", "abort"]
    assert client.get("/api/v1/rollouts/").json()["results"][0]["allowed_commands"] == ["pause", "promote", "abort"]
    paused = client.post(f"/api/v1/rollouts/{rollout.pk}/pause/").json()
    assert paused["allowed_commands"] == ["resume", "promote", "abort"]
    assert pushes[-1][2]["allowed_commands"] == ["resume", "promote", "abort"], "the push carries them too"
    refused = client.post(f"/api/v1/rollouts/{rollout.pk}/pause/")
    assert refused.status_code == 409
    assert (
        refused.json()["detail"]
        == "cannot pause: the rollout is paused; only a pending or progressing rollout can be paused"
    )
    aborted = client.post(f"/api/v1/rollouts/{rollout.pk}/abort/").json()
    assert aborted["allowed_commands"] == []
    again = client.post(f"/api/v1/rollouts/{rollout.pk}/resume/")
    assert again.status_code == 409 and again.json()["detail"] == "cannot resume: the rollout is over (aborted)"


def test_the_admin_cannot_swap_the_stable_version_and_its_deploys_are_recorded(world, people):
    from django.test import Client

    admin = Client()
    admin.force_login(people["site_admin"])
    deployment = world["deployment"]
    change = admin.get(f"/admin/rollouts/deployment/{deployment.pk}/change/")
    assert change.status_code == 200
    assert "stable_version" not in change.context["adminform"].form.fields, "read-only: deploy through the API"

    wine = factories.make_model(people["team"], "wine")
    version = factories.make_version(wine, 1)
    form = {
        "team": people["team"].pk, "model": wine.pk, "stable_version": version.pk, "default_policy": "",
        "autoscaling": "{}", "batching": "{}", "resources": "{}", "pins": "open", "limits": "{}",
    }  # fmt: skip
    added = admin.post("/admin/rollouts/deployment/add/", form)
    assert added.status_code == 302, added.context["adminform"].form.errors
    created = Deployment.objects.get(model=wine)
    assert [(event.kind, event.actor_username) for event in created.events.all()] == [("deployed", "site_admin")]
