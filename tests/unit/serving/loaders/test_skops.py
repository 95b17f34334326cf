"""serving.loaders.skops: scikit-learn models load without trust unless they carry foreign types."""

from __future__ import annotations

import builtins
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from serving.loaders import LoaderError, TrustRequired, load


class DoublingTransformer(TransformerMixin, BaseEstimator):
    """A custom class: skops cannot vouch for it, so loading it needs an admin."""

    def fit(self, features: np.ndarray, labels: np.ndarray | None = None) -> DoublingTransformer:
        return self

    def transform(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features) * 2


def test_round_trip_predicts_like_the_original(tmp_path: Path, iris, iris_classifier: LogisticRegression) -> None:
    features, _ = iris
    path = tmp_path / "iris.skops"
    skops.io.dump(iris_classifier, path)

    model = load("skops", path, trusted=False)

    np.testing.assert_array_equal(model.predict(features), iris_classifier.predict(features))
    description = model.describe()
    assert description["framework"] == "scikit-learn"
    assert description["framework_version"]
    assert description["signature"] == {
        "inputs": [{"name": "input", "datatype": "FP64", "shape": [-1, 4]}],
        "outputs": [{"name": "predict", "datatype": "INT64", "shape": [-1]}],
    }
    assert description["details"]["classes"] == [0, 1, 2]


def test_method_option_serves_probabilities(tmp_path: Path, iris, iris_classifier: LogisticRegression) -> None:
    features, _ = iris
    path = tmp_path / "iris.skops"
    skops.io.dump(iris_classifier, path)

    model = load("skops", path, trusted=False, options={"method": "predict_proba"})

    np.testing.assert_allclose(model.predict(features[:5]), iris_classifier.predict_proba(features[:5]))
    assert model.signature["outputs"] == [{"name": "predict_proba", "datatype": "FP64", "shape": [-1, 3]}]


def test_pipeline_with_numpy_function_needs_no_trust(tmp_path: Path, iris) -> None:
    features, labels = iris
    pipeline = make_pipeline(FunctionTransformer(np.log1p), StandardScaler(), LogisticRegression(max_iter=500))
    pipeline.fit(features, labels)
    path = tmp_path / "pipeline.skops"
    skops.io.dump(pipeline, path)

    model = load("skops", path, trusted=False)

    np.testing.assert_array_equal(model.predict(features), pipeline.predict(features))


def test_custom_class_needs_trust_and_loads_once_trusted(tmp_path: Path, iris) -> None:
    features, labels = iris
    pipeline = make_pipeline(DoublingTransformer(), LogisticRegression(max_iter=500)).fit(features, labels)
    path = tmp_path / "custom.skops"
    skops.io.dump(pipeline, path)

    with pytest.raises(TrustRequired) as caught:
        load("skops", path, trusted=False)
    assert caught.value.details["untrusted_types"] == [f"{__name__}.DoublingTransformer"]
    assert "DoublingTransformer" in str(caught.value)

    model = load("skops", path, trusted=True)
    np.testing.assert_array_equal(model.predict(features), pipeline.predict(features))


def test_risky_builtin_function_needs_trust(tmp_path: Path) -> None:
    path = tmp_path / "eval.skops"
    skops.io.dump(FunctionTransformer(builtins.eval), path)

    with pytest.raises(TrustRequired) as caught:
        load("skops", path, trusted=False)
    assert caught.value.details["untrusted_types"] == ["builtins.eval"]


def test_zip_without_a_skops_schema_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "other.skops"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not a model")

    with pytest.raises(LoaderError, match="not a valid skops file") as caught:
        load("skops", path, trusted=False)
    assert not isinstance(caught.value, TrustRequired)


def test_traversal_inside_a_skops_zip_is_refused(tmp_path: Path, iris_classifier: LogisticRegression) -> None:
    path = tmp_path / "evil.skops"
    skops.io.dump(iris_classifier, path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("../../evil.py", "print('escaped')")

    with pytest.raises(LoaderError, match=r"'\.\.' component"):
        load("skops", path, trusted=False)
