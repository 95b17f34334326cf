"""No existence oracle across teams: naming another team's object anywhere (a related field of a request body, a
filter of a list) gets exactly the answer that naming an object that does not exist gets.

The tests walk the URL configuration: every writable related field (and version number) of every request
serializer, and every identifying filter of every list. A new field or filter without a probe here fails
`test_every_related_field_has_a_probe`, so the walk stays complete.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import django_filters
import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.drainage import get_override
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory, force_authenticate

from controlplane.accounts.choices import Role
from controlplane.accounts.services import audit_record
from controlplane.rollouts.api.serializers import RolloutStartSerializer
from controlplane.rollouts.models import Deployment, Rollout, RolloutPolicy
from tests import factories

pytestmark = pytest.mark.django_db

MISSING_ID = 987654321
MISSING_NAME = "no-such-thing"
WRITE_METHODS = ("post", "put", "patch")


@pytest.fixture
def world(people):
    """The caller (`admin`, admin of ml) owns iris (deployed) and spare; team `other` owns secret, deployed with its
    own policy, a rollout and versions 1-7 (ml's models have versions 1-2 only)."""
    ml, other = people["team"], people["other_team"]
    iris, spare = factories.make_model(ml, "iris"), factories.make_model(ml, "spare")
    for model, numbers in ((iris, (1, 2)), (spare, (1, 2))):
        for number in numbers:
            factories.make_version(model, number)
    policy = RolloutPolicy.objects.create(team=ml, name="p1", steps=[{"weight": 10, "pause_s": 5}])
    deployment = Deployment.objects.create(team=ml, model=iris, stable_version=iris.versions.get(version=1))
    secret = factories.make_model(other, "secret", owner=people["foreign_admin"], tags=["hidden-tag"])
    for number in range(1, 8):
        factories.make_version(secret, number)
    foreign_policy = RolloutPolicy.objects.create(team=other, name="fp", steps=[{"weight": 10, "pause_s": 5}])
    foreign_deployment = Deployment.objects.create(
        team=other, model=secret, stable_version=secret.versions.get(version=1), default_policy=foreign_policy
    )
    foreign_rollout = Rollout.objects.create(
        deployment=foreign_deployment,
        from_version=secret.versions.get(version=1),
        to_version=secret.versions.get(version=7),
        from_number=1,
        to_number=7,
        policy=foreign_policy,
        policy_snapshot={},
    )
    foreign_entry = audit_record(
        actor=people["foreign_admin"],
        action="update",
        target_type="registry.secretthing",
        target_id="secret-target",
        team=other,
    )
    return {
        "deployment": deployment,
        "policy": policy,
        "foreign": {
            "registry.model": secret,
            "registry.modelversion": secret.versions.get(version=7),
            "rollouts.rolloutpolicy": foreign_policy,
            "rollouts.deployment": foreign_deployment,
            "rollouts.rollout": foreign_rollout,
            "accounts.auditentry": foreign_entry,
            "accounts.team": other,
            "accounts.membership": other.memberships.first(),
        },
    }


# --- walking the API --------------------------------------------------------------------------------------------


def api_patterns(resolver: URLResolver | None = None, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from api_patterns(pattern, route)
        elif route.startswith("api/v1/"):
            yield route, pattern


def request_serializers() -> Iterator[type[serializers.Serializer]]:
    """Every serializer a write endpoint reads a body with: the view's own and those its actions declare."""
    seen: set[type] = set()
    for _, pattern in api_patterns():
        callback = pattern.callback
        view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        if view_class is None:
            continue
        actions = getattr(callback, "actions", None) or {m: m for m in WRITE_METHODS if hasattr(view_class, m)}
        for method, action in actions.items():
            if method not in WRITE_METHODS:
                continue
            found = [get_override(getattr(view_class, action), "request", None)]
            if hasattr(view_class, "get_serializer_class"):
                view = view_class(action=action, kwargs={}, format_kwarg=None, request=None)
                found.append(view.get_serializer_class())
            for candidate in found:
                for item in candidate.values() if isinstance(candidate, dict) else [candidate]:
                    if isinstance(item, type) and issubclass(item, serializers.Serializer) and item not in seen:
                        seen.add(item)
                        yield item


def identifying_fields(serializer_class: type[serializers.Serializer]) -> Iterator[str]:
    """Writable fields that name another object: related fields, and version numbers."""
    for name, field in serializer_class().fields.items():
        if field.read_only:
            continue
        if isinstance(field, serializers.RelatedField | serializers.ManyRelatedField) or name.endswith("version"):
            yield name


def discovered_fields() -> set[tuple[str, str]]:
    return {(cls.__name__, name) for cls in request_serializers() for name in identifying_fields(cls)}


IDENTIFYING_FILTERS = (django_filters.CharFilter, django_filters.NumberFilter, django_filters.ModelChoiceFilter)


def list_filters() -> Iterator[tuple[str, str, Any, str]]:
    """(url name, url, view class, filter name) for every identifying filter of every list endpoint."""
    kwargs_for = {"model_name": "iris", "team_slug": "ml"}
    for _, pattern in api_patterns():
        callback = pattern.callback
        if getattr(callback, "actions", {}).get("get") != "list":
            continue
        view_class = callback.cls
        view = view_class(action="list", kwargs={}, format_kwarg=None, request=None)
        model = view_class.queryset.model if view_class.queryset is not None else None
        if model is None:
            model = view.get_serializer_class().Meta.model
        filterset_class = DjangoFilterBackend().get_filterset_class(view, model.objects.all())
        if filterset_class is None:
            continue
        url = reverse(pattern.name, kwargs={k: v for k, v in kwargs_for.items() if k in pattern.pattern.converters})
        for name, filter_ in filterset_class.base_filters.items():
            if isinstance(filter_, IDENTIFYING_FILTERS):
                yield url, model._meta.label_lower, filter_, name


# --- probes -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    method: str
    url: Callable[[dict], str]
    body: Callable[[dict, Any], dict]  # (world, value) -> request body
    foreign: Callable[[dict], Any]
    missing: Any


def secret(world: dict) -> str:
    return "secret"


def foreign_policy(world: dict) -> int:
    return world["foreign"]["rollouts.rolloutpolicy"].pk


def foreign_team(world: dict) -> str:
    return "other"


def only_in_foreign_model(world: dict) -> int:
    return 7  # secret has a version 7; iris and spare stop at 2


def deployment_url(suffix: str = "") -> Callable[[dict], str]:
    return lambda world: f"/api/v1/deployments/{world['deployment'].pk}/{suffix}"


def policy_body(world: dict, team: Any) -> dict:
    return {"team": team, "name": "p9", "steps": [{"weight": 50, "pause_s": 10}]}


PROBES: dict[tuple[str, str], Probe] = {
    ("ModelSerializer", "team"): Probe(
        "post", lambda w: "/api/v1/models/", lambda w, v: {"name": "new-one", "team": v}, foreign_team, MISSING_NAME
    ),
    ("ModelUpdateSerializer", "team"): Probe(
        "patch", lambda w: "/api/v1/models/iris/", lambda w, v: {"team": v}, foreign_team, MISSING_NAME
    ),
    ("ModelMoveSerializer", "team"): Probe(
        "post", lambda w: "/api/v1/models/iris/move/", lambda w, v: {"team": v}, foreign_team, MISSING_NAME
    ),
    ("RolloutPolicySerializer", "team"): Probe(
        "post", lambda w: "/api/v1/policies/", policy_body, foreign_team, MISSING_NAME
    ),
    ("DeploymentSerializer", "model"): Probe(
        "post", lambda w: "/api/v1/deployments/", lambda w, v: {"model": v}, secret, MISSING_NAME
    ),
    ("DeploymentSerializer", "default_policy"): Probe(
        "post",
        lambda w: "/api/v1/deployments/",
        lambda w, v: {"model": "spare", "default_policy": v},
        foreign_policy,
        MISSING_ID,
    ),
    ("DeploymentSerializer", "stable_version"): Probe(
        "post",
        lambda w: "/api/v1/deployments/",
        lambda w, v: {"model": "spare", "stable_version": v},
        only_in_foreign_model,
        8,
    ),
    ("RolloutStartSerializer", "policy"): Probe(
        "post", deployment_url("rollouts/"), lambda w, v: {"version": 2, "policy": v}, foreign_policy, MISSING_ID
    ),
    ("RolloutStartSerializer", "version"): Probe(
        "post",
        deployment_url("rollouts/"),
        lambda w, v: {"version": v, "policy": w["policy"].pk},
        only_in_foreign_model,
        8,
    ),
    ("RollbackSerializer", "version"): Probe(
        "post", deployment_url("rollback/"), lambda w, v: {"version": v}, only_in_foreign_model, 8
    ),
    ("MembershipSerializer", "user"): Probe(
        "post",
        lambda w: "/api/v1/teams/ml/members/",
        lambda w, v: {"user": v, "role": "viewer"},
        lambda w: "foreign_deployer",
        "nobody-at-all",
    ),
}
# The same fields on update (PUT/PATCH of an existing object) answer as on create.
UPDATE_PROBES: dict[str, Probe] = {
    "policy team on update": Probe(
        "patch",
        lambda w: f"/api/v1/policies/{w['policy'].pk}/",
        lambda w, v: {"team": v},
        foreign_team,
        MISSING_NAME,
    ),
    "deployment default_policy on update": Probe(
        "patch", deployment_url(), lambda w, v: {"default_policy": v}, foreign_policy, MISSING_ID
    ),
    "deployment stable_version on update": Probe(
        "patch", deployment_url(), lambda w, v: {"stable_version": v}, only_in_foreign_model, 8
    ),
}


def answer(client, probe: Probe, world: dict, value: Any) -> tuple[int, str]:
    response = getattr(client, probe.method)(probe.url(world), probe.body(world, value), format="json")
    # the value itself may be echoed ("no user 'x'"): compare the answers with it blanked out
    return response.status_code, response.content.decode().replace(str(value), "<value>")


def test_every_related_field_has_a_probe():
    missing = discovered_fields() - set(PROBES)
    assert not missing, f"add a probe to PROBES for these request fields: {sorted(missing)}"
    assert len(PROBES) >= 10, "the walk found the fields it should"


@pytest.mark.parametrize("key", sorted({**PROBES, **{(k, ""): v for k, v in UPDATE_PROBES.items()}}), ids=str)
def test_a_foreign_id_answers_like_a_missing_one(key, people, world, client_for):
    probe = PROBES.get(key) or UPDATE_PROBES[key[0]]
    client = client_for(people["admin"])
    foreign = answer(client, probe, world, probe.foreign(world))
    missing = answer(client, probe, world, probe.missing)
    assert foreign == missing, f"{key}: another team's object is told apart from a missing one"
    assert 400 <= foreign[0] < 500, f"{key}: neither is accepted: {foreign}"


def filter_cases() -> list[tuple[str, str, str]]:
    return sorted({(url, label, name) for url, label, _, name in list_filters()})


def foreign_value(world: dict, label: str, field_name: str) -> Any:
    value: Any = world["foreign"][label]
    for part in field_name.split("__"):
        value = getattr(value, part)
    if isinstance(value, list):
        return value[0]
    return getattr(value, "pk", value)


def test_the_walk_finds_the_filters():
    names = {(url, name) for url, _, name in filter_cases()}
    assert ("/api/v1/rollouts/", "deployment") in names and ("/api/v1/models/", "team") in names, names


@pytest.mark.parametrize("url,label,name", filter_cases())
def test_a_foreign_filter_value_answers_like_a_missing_one(url, label, name, people, world, client_for):
    filters = {n: f for u, lab, f, n in list_filters() if u == url and n == name}
    field_name = filters[name].field_name
    value = foreign_value(world, label, field_name)
    missing = MISSING_ID if isinstance(value, int) else MISSING_NAME
    client = client_for(people["admin"])
    foreign = client.get(url, {name: value})
    absent = client.get(url, {name: missing})
    assert (foreign.status_code, foreign.json()) == (absent.status_code, absent.json()), (url, name, value)
    if foreign.status_code == 200:
        assert foreign.json()["results"] == [], (url, name)


def test_membership_names_only_people_the_admin_already_shares_a_team_with(people, world, client_for):
    """No username oracle: adding an existing user outside the admin's teams fails as a made-up name does; a site
    admin adds anyone."""
    client = client_for(people["admin"])
    outsider = client.post("/api/v1/teams/ml/members/", {"user": "outsider", "role": "viewer"}, format="json")
    made_up = client.post("/api/v1/teams/ml/members/", {"user": "made-up", "role": "viewer"}, format="json")
    assert outsider.status_code == made_up.status_code == 400
    assert outsider.json()["user"][0].replace("outsider", "x") == made_up.json()["user"][0].replace("made-up", "x")
    assert "site admin" in outsider.json()["user"][0]
    added = client_for(people["site_admin"]).post(
        "/api/v1/teams/ml/members/", {"user": "outsider", "role": "viewer"}, format="json"
    )
    assert added.status_code == 201
    factories.make_team("lab", {people["admin"]: Role.ADMIN, people["foreign_deployer"]: Role.VIEWER})
    colleague = client.post("/api/v1/teams/ml/members/", {"user": "foreign_deployer", "role": "viewer"}, format="json")
    assert colleague.status_code == 201, colleague.content


def test_scoped_fields_find_nothing_without_a_request(people, world):
    """A serializer used without a request in its context (a service, a shell) finds nothing rather than everything."""
    body = RolloutStartSerializer(data={"version": 2, "policy": world["policy"].pk})
    assert not body.is_valid() and "policy" in body.errors
    request = APIRequestFactory().post("/")
    force_authenticate(request, people["admin"])
    context = {"request": Request(request)}
    body = RolloutStartSerializer(data={"version": 2, "policy": world["policy"].pk}, context=context)
    assert body.is_valid(), body.errors
