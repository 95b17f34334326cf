"""A deployment's own request limits (body size, element count, JSON nesting): set through the API within the site's
ceilings, every bad value a 400 naming the limit, carried to the replicas in user_config and applied in place."""

import pytest

from controlplane.rollouts.models import Deployment
from tests import factories

pytestmark = pytest.mark.django_db

DEFAULTS = {"max_body_bytes": None, "max_elements": None, "max_depth": None}


@pytest.fixture
def iris(people):
    model = factories.make_model(people["team"], "iris")
    factories.make_version(model, 1)
    return model


@pytest.fixture
def site(settings):
    settings.RAYLANE_INFERENCE_MAX_BODY_BYTES = 16 * 1024**2
    settings.RAYLANE_INFERENCE_MAX_ELEMENTS = 10_000_000
    settings.RAYLANE_INFERENCE_MAX_DEPTH = 32
    settings.RAYLANE_INFERENCE_MAX_BODY_BYTES_CEILING = 64 * 1024**2
    settings.RAYLANE_INFERENCE_MAX_ELEMENTS_CEILING = 20_000_000
    return settings


def served_limits(twin, app: str = "iris") -> dict:
    return twin.status().applications[app].deployed_config["deployments"][0]["user_config"]["limits"]


def test_limits_default_to_the_site_settings(iris, site, twin, people, client_for, committed):
    client = client_for(people["deployer"])
    response = committed(client.post, "/api/v1/deployments/", {"model": "iris", "stable_version": 1}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["limits"] == DEFAULTS
    assert client.get(f"/api/v1/deployments/{response.json()['id']}/").json()["limits"] == DEFAULTS
    expected = {"max_body_bytes": 16 * 1024**2, "max_elements": 10_000_000, "max_depth": 32}
    assert served_limits(twin) == served_limits(twin, "iris.v1") == expected


def test_limits_set_on_create_reach_both_protocols_and_fill_the_rest_from_the_settings(
    iris, site, twin, people, client_for, committed
):
    client = client_for(people["deployer"])
    payload = {"model": "iris", "stable_version": 1, "limits": {"max_body_bytes": 32 * 1024**2, "max_depth": 8}}
    response = committed(client.post, "/api/v1/deployments/", payload, format="json")
    assert response.status_code == 201, response.json()
    chosen = {"max_body_bytes": 32 * 1024**2, "max_elements": None, "max_depth": 8}
    assert response.json()["limits"] == chosen
    assert client.get(f"/api/v1/deployments/{response.json()['id']}/").json()["limits"] == chosen
    expected = {"max_body_bytes": 32 * 1024**2, "max_elements": 10_000_000, "max_depth": 8}
    assert served_limits(twin) == served_limits(twin, "iris.v1") == expected


def test_changing_limits_reconfigures_replicas_in_place(iris, site, twin, people, client_for, committed):
    client = client_for(people["deployer"])
    created = committed(client.post, "/api/v1/deployments/", {"model": "iris", "stable_version": 1}, format="json")
    replicas = {name: twin.status().applications[name].replica_ids() for name in ("iris", "iris.v1")}
    url = f"/api/v1/deployments/{created.json()['id']}/"
    response = committed(client.patch, url, {"limits": {"max_elements": 1000}}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["limits"] == {**DEFAULTS, "max_elements": 1000}
    assert served_limits(twin)["max_elements"] == 1000
    assert {name: twin.status().applications[name].replica_ids() for name in replicas} == replicas
    back = committed(client.patch, url, {"limits": None}, format="json")
    assert back.status_code == 200 and back.json()["limits"] == DEFAULTS
    assert served_limits(twin)["max_elements"] == 10_000_000


def test_pooled_deployments_carry_their_limits_into_the_pool(iris, site, twin, people, client_for, committed):
    payload = {"model": "iris", "stable_version": 1, "pooled": True, "limits": {"max_depth": 4}}
    response = committed(client_for(people["deployer"]).post, "/api/v1/deployments/", payload, format="json")
    assert response.status_code == 201, response.json()
    pool = twin.status().applications["_raylane"].deployed_config["deployments"][0]["user_config"]
    assert pool["models"]["iris"]["limits"]["max_depth"] == 4


@pytest.mark.parametrize(
    ("limits", "field", "message"),
    [
        ({"max_depth": 0}, "limits.max_depth", "limits.max_depth: must be an integer from 1 to 256"),
        ({"max_depth": 257}, "limits.max_depth", "limits.max_depth: must be an integer from 1 to 256"),
        ({"max_depth": "8"}, "limits.max_depth", "limits.max_depth: must be an integer from 1 to 256"),
        ({"max_depth": 8.5}, "limits.max_depth", "limits.max_depth: must be an integer from 1 to 256"),
        ({"max_depth": True}, "limits.max_depth", "limits.max_depth: must be an integer from 1 to 256"),
        (
            {"max_body_bytes": 64 * 1024**2 + 1},
            "limits.max_body_bytes",
            "limits.max_body_bytes: must be an integer from 1 to 67108864 (64 MiB, the site's "
            "RAYLANE_INFERENCE_MAX_BODY_BYTES_CEILING)",
        ),
        ({"max_body_bytes": -1}, "limits.max_body_bytes", "limits.max_body_bytes: must be an integer from 1"),
        (
            {"max_elements": 20_000_001},
            "limits.max_elements",
            "limits.max_elements: must be an integer from 1 to 20000000 (the site's "
            "RAYLANE_INFERENCE_MAX_ELEMENTS_CEILING)",
        ),
        ({"max_elements": [1]}, "limits.max_elements", "limits.max_elements: must be an integer"),
        ({"max_size": 5}, "limits.max_size", "limits.max_size: not a limit; the limits are max_body_bytes"),
        ([1, 2], "limits", "limits: must be an object"),
        ("big", "limits", "limits: must be an object"),
    ],
)
def test_bad_limits_are_a_400_naming_the_limit(iris, site, twin, people, client_for, limits, field, message):
    client = client_for(people["deployer"])
    created = client.post(
        "/api/v1/deployments/", {"model": "iris", "stable_version": 1, "limits": limits}, format="json"
    )
    assert created.status_code == 400, created.content
    assert created.json()[field][0].startswith(message), created.json()
    assert not Deployment.objects.exists()
    deployment = Deployment.objects.create(team=iris.team, model=iris, stable_version=iris.versions.get())
    patched = client.patch(f"/api/v1/deployments/{deployment.pk}/", {"limits": limits}, format="json")
    assert patched.status_code == 400, patched.content
    assert patched.json()[field][0].startswith(message), patched.json()
    deployment.refresh_from_db()
    assert deployment.limits == {}


def test_the_ceiling_is_never_below_the_site_default(iris, site, people, client_for):
    site.RAYLANE_INFERENCE_MAX_BODY_BYTES = 128 * 1024**2  # an operator raised the default past the ceiling
    client = client_for(people["deployer"])
    payload = {"model": "iris", "stable_version": 1, "limits": {"max_body_bytes": 128 * 1024**2}}
    response = client.post("/api/v1/deployments/", payload, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["limits"]["max_body_bytes"] == 128 * 1024**2


def test_a_ceiling_lowered_after_saving_still_holds(iris, site, twin, people, client_for, committed):
    client = client_for(people["deployer"])
    payload = {"model": "iris", "stable_version": 1, "limits": {"max_body_bytes": 64 * 1024**2}}
    created = committed(client.post, "/api/v1/deployments/", payload, format="json")
    assert created.status_code == 201, created.json()
    site.RAYLANE_INFERENCE_MAX_BODY_BYTES_CEILING = 20 * 1024**2
    committed(client.patch, f"/api/v1/deployments/{created.json()['id']}/", {"pins": "keyed"}, format="json")
    assert served_limits(twin)["max_body_bytes"] == 20 * 1024**2
