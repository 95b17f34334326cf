import pytest

from controlplane.rollouts.models import Deployment, RolloutPolicy
from tests import factories


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what the request scheduled after commit (the reconcile), as production does once the write commits."""

    def call(method, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return method(*args, **kwargs)

    return call


@pytest.fixture
def canary_world(people, twin, committed):
    """iris serving v1 on the twin, v2 ready beside it, and a two-step canary policy (`first_weight`, then 100%)
    with `analysis`; a deployer's client starts rollouts with `start_canary`."""

    def build(*, first_weight: int, analysis: dict) -> dict:
        model = factories.make_model(people["team"], "iris")
        for number in (1, 2):
            factories.make_version(model, number)
        policy = RolloutPolicy.objects.create(
            team=people["team"],
            name="canary",
            strategy="canary",
            steps=[{"weight": first_weight, "pause_s": 0}, {"weight": 100, "pause_s": 0}],
            analysis=analysis,
        )
        deployment = committed(
            Deployment.objects.create, team=people["team"], model=model, stable_version=model.versions.get(version=1)
        )
        return {"deployment": deployment, "policy": policy, "client": factories.client_for(people["deployer"])}

    return build


def start_canary(world: dict, committed) -> int:
    """Start the rollout of v2 with the world's policy through the API; its id."""
    response = committed(
        world["client"].post,
        f"/api/v1/deployments/{world['deployment'].pk}/rollouts/",
        {"version": 2, "policy": world["policy"].pk},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()["id"]
