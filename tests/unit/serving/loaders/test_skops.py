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


def _common_models(features: np.ndarray, labels: np.ndarray) -> dict[str, object]:
    from sklearn.cluster import KMeans
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.preprocessing import OneHotEncoder
    from sklearn.svm import SVC

    columns = ColumnTransformer(
        [("onehot", OneHotEncoder(handle_unknown="ignore"), [0]), ("scaled", StandardScaler(), [1, 2, 3])]
    )
    return {
        "logistic": LogisticRegression(max_iter=500).fit(features, labels),
        "forest": RandomForestClassifier(n_estimators=3, random_state=0).fit(features, labels),
        "scaled_pipeline": make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(features, labels),
        "boosting": GradientBoostingClassifier(n_estimators=3, random_state=0).fit(features, labels),
        "svc": SVC().fit(features, labels),
        "kmeans": KMeans(n_clusters=3, n_init=1, random_state=0).fit(features),
        "columns_onehot": make_pipeline(columns, LogisticRegression(max_iter=500)).fit(features, labels),
    }


def test_common_scikit_learn_models_load_without_trust(tmp_path: Path, iris) -> None:
    features, labels = iris
    for name, estimator in _common_models(features, labels).items():
        path = tmp_path / f"{name}.skops"
        skops.io.dump(estimator, path)

        model = load("skops", path, trusted=False)

        np.testing.assert_array_equal(model.predict(features), estimator.predict(features), err_msg=name)


@pytest.mark.parametrize(
    ("role", "target"),
    [
        ("reduce", "numpy.save"),
        ("reduce", "numpy.lib.npyio.load"),
        ("ndarray", "pickle.loads"),
        ("function", "numpy.fromfile"),
        ("partial", "numpy.save"),
        ("object", "sklearn.utils._joblib.load"),
        ("loss", "scipy.io.savemat"),
    ],
)
def test_callable_outside_the_allowlist_needs_trust_and_is_named(tmp_path: Path, role: str, target: str) -> None:
    from tests.hostile import skops_file, skops_node

    sentinel = tmp_path / "pwned.npy"
    path = tmp_path / "hostile.skops"
    path.write_bytes(skops_file(skops_node(target, role, sentinel)))

    with pytest.raises(TrustRequired) as caught:
        load("skops", path, trusted=False)

    names = caught.value.details["untrusted_types"]
    assert target in names or "functools.partial" in names
    assert target in str(caught.value.details)
    assert not sentinel.exists()


def test_approved_names_are_approved_only_for_their_role(tmp_path: Path) -> None:
    """A scikit-learn class may be restored with __setstate__, but not called with arguments from the file."""
    from tests.hostile import skops_file, skops_node

    path = tmp_path / "call.skops"
    path.write_bytes(skops_file(skops_node("sklearn.linear_model._logistic.LogisticRegression", "reduce", tmp_path)))

    with pytest.raises(TrustRequired) as caught:
        load("skops", path, trusted=False)
    assert caught.value.details["untrusted_uses"] == [
        {"name": "sklearn.linear_model._logistic.LogisticRegression", "use": "called with arguments from the file"}
    ]


def test_a_tree_whose_nodes_point_outside_itself_is_refused(tmp_path: Path, iris) -> None:
    """scikit-learn indexes tree nodes without bounds checks: a crafted child index must not reach predict()."""
    from sklearn.tree import DecisionTreeClassifier

    features, labels = iris
    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(features, labels)
    state = tree.tree_.__getstate__()
    state["nodes"] = state["nodes"].copy()
    state["nodes"]["left_child"][0] = 10_000
    tree.tree_.__setstate__(state)
    path = tmp_path / "corrupt.skops"
    skops.io.dump(tree, path)

    with pytest.raises(LoaderError, match="corrupt decision tree"):
        load("skops", path, trusted=False)


def test_a_vectorizer_that_opens_files_named_by_requests_needs_trust(tmp_path: Path) -> None:
    from sklearn.feature_extraction.text import CountVectorizer

    path = tmp_path / "vectorizer.skops"
    skops.io.dump(make_pipeline(CountVectorizer(input="filename"), LogisticRegression()), path)

    with pytest.raises(TrustRequired, match="reads files named by each request"):
        load("skops", path, trusted=False)
