"""serving.loaders.keras: Lambda layers need trust (checked without Keras); clean models load in safe mode."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from serving.loaders import LoaderError, RuntimeMissing, TrustRequired, load
from serving.loaders.keras import lambda_layers


def layer(class_name: str, name: str, **config: object) -> dict:
    return {"module": "keras.layers", "class_name": class_name, "config": {"name": name, **config}}


def sequential(*layers: dict) -> dict:
    return {"module": "keras", "class_name": "Sequential", "config": {"name": "iris", "layers": list(layers)}}


LAMBDA = layer(
    "Lambda",
    "double",
    function={"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA", "defaults": None, "closure": None}},
)
DENSE = layer("Dense", "scores", units=3, activation="softmax")


def write_keras(path: Path, config: dict) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.6.0", "date_saved": "2025-01-01"}))
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", b"")
    return path


def test_lambda_layer_needs_trust_without_importing_keras(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keras", None)
    path = write_keras(tmp_path / "lambda.keras", sequential(layer("InputLayer", "in", batch_shape=[None, 4]), LAMBDA))

    with pytest.raises(TrustRequired, match=r"1 Lambda layer\(s\) \(double\)") as caught:
        load("keras", path, trusted=False)
    assert caught.value.details == {"lambda_layers": ["double"]}


def test_lambda_layers_are_found_in_nested_models() -> None:
    inner = {"module": "keras", "class_name": "Functional", "config": {"name": "block", "layers": [LAMBDA]}}
    bare_function = {"class_name": "__lambda__", "config": {"code": "..."}}

    assert lambda_layers(sequential(DENSE, inner, layer("Activation", "act", activation=bare_function))) == [
        "double",
        "__lambda__",
    ]
    assert lambda_layers(sequential(DENSE)) == []


def test_clean_model_without_keras_installed_reports_the_runtime_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "keras", None)
    path = write_keras(tmp_path / "clean.keras", sequential(DENSE))

    with pytest.raises(RuntimeMissing, match=r"Keras is not installed.*requirements-keras\.txt"):
        load("keras", path, trusted=False)


def test_archive_without_config_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "empty.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", "{}")

    with pytest.raises(LoaderError, match=r"no config\.json"):
        load("keras", path, trusted=False)


def test_real_keras_model_round_trip(tmp_path: Path, iris) -> None:
    keras = pytest.importorskip("keras")
    features, _ = iris
    network = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, activation="softmax")])
    path = tmp_path / "iris.keras"
    network.save(path)

    model = load("keras", path, trusted=False)

    np.testing.assert_allclose(model.predict(features), network.predict(features, verbose=0), rtol=1e-5)
    assert model.signature["inputs"][0]["shape"] == [-1, 4]
    assert model.describe()["framework"] == "keras"


def test_real_keras_lambda_model_loads_only_when_trusted(tmp_path: Path, iris) -> None:
    keras = pytest.importorskip("keras")
    features, _ = iris
    network = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Lambda(lambda x: x * 2)])
    path = tmp_path / "lambda.keras"
    network.save(path)

    with pytest.raises(TrustRequired):
        load("keras", path, trusted=False)
    np.testing.assert_allclose(load("keras", path, trusted=True).predict(features), features * 2, rtol=1e-5)
