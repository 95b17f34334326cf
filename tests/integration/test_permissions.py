"""The permission matrix: every endpoint × anonymous / viewer / deployer of another team / deployer / admin.

Nobody reads or writes across teams: another team's objects are 404 (their existence is not revealed), and
lists never contain them.
"""

from dataclasses import dataclass

import pytest

from controlplane.accounts.choices import Role
from controlplane.accounts.models import AuditEntry
from controlplane.registry.choices import ModelFormat, ValidationStatus
from controlplane.registry.models import Artifact, ModelVersion
from controlplane.registry.storage import artifact_path
from controlplane.rollouts.models import Deployment, RolloutPolicy
from tests import factories

pytestmark = pytest.mark.django_db

ACTORS = ["anonymous", "viewer", "foreign_deployer", "deployer", "admin"]


@dataclass(frozen=True)
class Case:
    method: str
    url: str
    payload: dict | None
    # expected status per actor; foreign actors get 404 on objects, 400 when naming a foreign team in a body
    expect: dict[str, int]

    def __str__(self) -> str:
        return f"{self.method} {self.url}"


def read(url: str, foreign: int = 404) -> Case:
    return Case(
        "get", url, None, {"anonymous": 401, "viewer": 200, "foreign_deployer": foreign, "deployer": 200, "admin": 200}
    )


def write(method: str, url: str, payload: dict | None, ok: int, *, role: str = "deployer", foreign: int = 404) -> Case:
    expect = {"anonymous": 401, "viewer": 403, "foreign_deployer": foreign, "deployer": ok, "admin": ok}
    if role == "admin":
        expect["deployer"] = 403
    return Case(method, url, payload, expect)


CASES = [
    read("/api/v1/models/", foreign=200),
    read("/api/v1/models/iris/"),
    write("post", "/api/v1/models/", {"name": "new-model", "team": "ml"}, 201, foreign=400),
    write("patch", "/api/v1/models/iris/", {"description": "changed"}, 200),
    write("delete", "/api/v1/models/spare/", None, 204, role="admin"),
    read("/api/v1/models/iris/versions/"),
    read("/api/v1/models/iris/versions/1/"),
    read("/api/v1/models/iris/versions/1/download/"),
    write("patch", "/api/v1/models/iris/versions/1/", {"metadata": {"a": 1}}, 200),
    write("delete", "/api/v1/models/iris/versions/2/", None, 204),
    write("post", "/api/v1/models/iris/versions/1/trust/", {"trusted": True}, 200, role="admin"),
    read("/api/v1/policies/", foreign=200),
    read("/api/v1/policies/{policy}/"),
    write(
        "post",
        "/api/v1/policies/",
        {"team": "ml", "name": "p2", "steps": [{"weight": 50, "pause_s": 10}]},
        201,
        foreign=400,
    ),
    write("patch", "/api/v1/policies/{policy}/", {"description": "x"}, 200),
    write("delete", "/api/v1/policies/{policy}/", None, 204),
    read("/api/v1/deployments/", foreign=200),
    read("/api/v1/deployments/{deployment}/"),
    write("post", "/api/v1/deployments/", {"model": "spare", "stable_version": 1}, 201, foreign=400),
    write("patch", "/api/v1/deployments/{deployment}/", {"autoscaling": {"max_replicas": 2}}, 200),
    write("delete", "/api/v1/deployments/{deployment}/", None, 204),
    read("/api/v1/teams/ml/"),
    read("/api/v1/teams/ml/members/"),
    # a team admin adds people who share one of their teams (the world's "lab" team); see test_scoping.py
    write("post", "/api/v1/teams/ml/members/", {"user": "colleague", "role": "viewer"}, 201, role="admin"),
    write("patch", "/api/v1/teams/ml/", {"name": "Machine learning"}, 200, role="admin"),
    read("/api/v1/audit/", foreign=200),
]


@pytest.fixture
def world(people, model_files):
    team = people["team"]
    iris = factories.make_model(team, "iris")
    spare = factories.make_model(team, "spare")
    data = model_files["skops"].read_bytes()
    artifact = Artifact.objects.create(sha256="a" * 64, size=len(data))
    artifact_path(artifact.sha256).parent.mkdir(parents=True, exist_ok=True)
    artifact_path(artifact.sha256).write_bytes(data)
    for model, number, status in [
        (iris, 1, ValidationStatus.NEEDS_TRUST),
        (iris, 2, ValidationStatus.VALID),
        (spare, 1, ValidationStatus.VALID),
    ]:
        ModelVersion.objects.create(
            model=model,
            version=number,
            artifact=artifact,
            filename="iris.skops",
            format=ModelFormat.SKOPS,
            validation_status=status,
        )
    policy = RolloutPolicy.objects.create(team=team, name="p1", steps=[{"weight": 10, "pause_s": 5}])
    deployment = Deployment.objects.create(team=team, model=iris, stable_version=iris.versions.get(version=1))
    factories.make_team("lab", {people["admin"]: Role.ADMIN, factories.make_user("colleague"): Role.VIEWER})
    return {"policy": policy.pk, "deployment": deployment.pk}


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_permission_matrix(case: Case, actor: str, people, world, client_for):
    client = client_for(None if actor == "anonymous" else people[actor])
    url = case.url.format(**world)
    audit_before = AuditEntry.objects.count()
    response = getattr(client, case.method)(url, case.payload, format="json")
    assert response.status_code == case.expect[actor], (actor, str(case), response.content[:300])
    if response.status_code >= 400:
        assert "detail" in response.json() or response.json(), "errors are JSON"
    if case.method != "get" and response.status_code < 300:
        assert AuditEntry.objects.count() > audit_before, "every write is audited"
    if case.method != "get" and response.status_code >= 400:
        assert AuditEntry.objects.filter(action__in=["create", "update", "delete", "trust"]).count() == 0


@pytest.mark.parametrize(
    "url", ["/api/v1/models/", "/api/v1/policies/", "/api/v1/deployments/", "/api/v1/audit/", "/api/v1/teams/"]
)
def test_lists_never_show_another_teams_objects(url, people, world, client_for):
    client = client_for(people["foreign_deployer"])
    client_for(people["deployer"]).patch("/api/v1/models/iris/", {"description": "x"}, format="json")
    body = client.get(url).json()
    text = str(body["results"])
    assert "iris" not in text and "'ml'" not in text and "p1" not in text, text


def test_site_admin_sees_every_team(people, world, client_for):
    client = client_for(people["site_admin"])
    assert {m["name"] for m in client.get("/api/v1/models/").json()["results"]} == {"iris", "spare"}
    assert client.get("/api/v1/models/iris/versions/1/").status_code == 200
    assert {t["slug"] for t in client.get("/api/v1/teams/").json()["results"]} == {"ml", "other", "lab"}


def test_team_keeps_at_least_one_admin(people, world, client_for):
    client = client_for(people["admin"])
    members = client.get("/api/v1/teams/ml/members/").json()["results"]
    own = next(m for m in members if m["user"] == "admin")
    response = client.patch(f"/api/v1/teams/ml/members/{own['id']}/", {"role": "viewer"}, format="json")
    assert response.status_code == 409
    assert "at least one admin" in response.json()["detail"]
    assert client.delete(f"/api/v1/teams/ml/members/{own['id']}/").status_code == 409


def test_only_site_admins_create_teams(people, client_for):
    assert client_for(people["admin"]).post("/api/v1/teams/", {"slug": "new", "name": "New"}).status_code == 403
    created = client_for(people["site_admin"]).post("/api/v1/teams/", {"slug": "new", "name": "New"})
    assert created.status_code == 201
    assert created.json()["my_role"] == "admin"
