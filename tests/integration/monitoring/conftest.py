import pytest

from controlplane.rollouts.models import Deployment
from controlplane.rollouts.reconcile import reconcile
from tests import factories


@pytest.fixture
def deployment(people, twin):
    """iris v1 serving on the twin (v2 uploaded, not deployed)."""
    model = factories.make_model(people["team"], "iris")
    for number in (1, 2):
        factories.make_version(model, number)
    deployment = Deployment.objects.create(
        team=people["team"], model=model, stable_version=model.versions.get(version=1)
    )
    reconcile()
    return deployment
