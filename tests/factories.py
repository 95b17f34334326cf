"""Builders for test data: users with roles in teams, and real model files trained on the spot (no downloads)."""

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from controlplane.accounts.models import Membership, Team
from controlplane.accounts.services import token_create
from controlplane.registry.models import Artifact, Model, ModelVersion

User = get_user_model()


def make_user(username: str, *, superuser: bool = False) -> "User":
    return User.objects.create_user(
        username=username, password=f"{username}-pass-123", is_superuser=superuser, is_staff=superuser
    )


def make_team(slug: str, members: dict | None = None) -> Team:
    team = Team.objects.create(slug=slug, name=slug.title())
    for user, role in (members or {}).items():
        Membership.objects.create(team=team, user=user, role=role)
    return team


def make_model(team: Team, name: str = "iris", **fields) -> Model:
    return Model.objects.create(team=team, name=name, **fields)


def make_version(model: Model, number: int, *, status: str = "valid", **fields) -> ModelVersion:
    """A version record whose artifact row exists but whose bytes do not: for control-plane tests that never load
    the model (the in-memory cluster, websockets). Tests that serve or validate a model upload a real file."""
    artifact, _ = Artifact.objects.get_or_create(sha256=f"{number:064d}", defaults={"size": 1})
    defaults = {"filename": "model.skops", "format": "skops", "validation_status": status}
    return ModelVersion.objects.create(model=model, version=number, artifact=artifact, **{**defaults, **fields})


def client_for(user: "User | None") -> APIClient:
    """An API client that authenticates the way the CLI does: with a real bearer token."""
    client = APIClient()
    if user is not None:
        _, key = token_create(user=user, name="test")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def iris_data() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_iris

    features, labels = load_iris(return_X_y=True)
    return features.astype(np.float64), labels


def train_iris(seed: int = 0):  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression

    features, labels = iris_data()
    return LogisticRegression(max_iter=500, random_state=seed).fit(features, labels)


def write_skops(path: Path, seed: int = 0) -> Path:
    import skops.io

    skops.io.dump(train_iris(seed), path)
    return path


def write_onnx(path: Path, seed: int = 0) -> Path:
    from skl2onnx import to_onnx

    model = train_iris(seed)
    onnx_model = to_onnx(model, iris_data()[0][:1].astype(np.float32), options={id(model): {"zipmap": False}})
    path.write_bytes(onnx_model.SerializeToString())
    return path


def write_pickle(path: Path) -> Path:
    path.write_bytes(pickle.dumps(train_iris()))
    return path


class Booby:
    """Unpickling this creates a marker file: proof that a pickle was (or was never) loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (self.marker,))


def write_booby_pickle(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps(Booby(marker)))
    return path


def zip_bytes(entries: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()
