"""serving.loaders.onnx: skl2onnx exports served by onnxruntime agree with scikit-learn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from skl2onnx import to_onnx
from sklearn.linear_model import LinearRegression, LogisticRegression

from serving.loaders import LoaderError, load


def export(path: Path, estimator: object, features: np.ndarray, options: dict | None = None) -> Path:
    path.write_bytes(to_onnx(estimator, features[:1].astype(np.float32), options=options).SerializeToString())
    return path


def test_classifier_predicts_like_sklearn(tmp_path: Path, iris, iris_classifier: LogisticRegression) -> None:
    features, _ = iris
    path = export(tmp_path / "iris.onnx", iris_classifier, features, {id(iris_classifier): {"zipmap": False}})

    model = load("onnx", path, trusted=False)

    np.testing.assert_array_equal(model.predict(features), iris_classifier.predict(features))
    outputs = model.predict({"X": features})
    np.testing.assert_allclose(outputs["probabilities"], iris_classifier.predict_proba(features), atol=1e-5)
    description = model.describe()
    assert description["framework"] == "onnx"
    assert description["signature"] == {
        "inputs": [{"name": "X", "datatype": "FP32", "shape": [-1, 4]}],
        "outputs": [
            {"name": "label", "datatype": "INT64", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]},
        ],
    }
    assert description["details"]["producer"] == "skl2onnx"


def test_zipmap_probabilities_come_back_as_lists(tmp_path: Path, iris, iris_classifier: LogisticRegression) -> None:
    features, _ = iris
    path = export(tmp_path / "zipmap.onnx", iris_classifier, features)

    outputs = load("onnx", path, trusted=False).predict({"X": features[:2]})

    assert isinstance(outputs["output_probability"], list)
    expected = iris_classifier.predict_proba(features[:2])
    assert outputs["output_probability"][1][2] == pytest.approx(expected[1][2], abs=1e-5)


def test_regressor_predicts_like_sklearn(tmp_path: Path, iris) -> None:
    features, labels = iris
    regressor = LinearRegression().fit(features, labels.astype(float))
    path = export(tmp_path / "linear.onnx", regressor, features)

    predicted = load("onnx", path, trusted=False).predict(features)

    np.testing.assert_allclose(predicted.ravel(), regressor.predict(features), rtol=1e-4, atol=1e-4)


def test_corrupt_bytes_are_invalid(tmp_path: Path) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"\x08\x07this is not protobuf at all" * 10)

    with pytest.raises(LoaderError, match="not a valid ONNX model"):
        load("onnx", path, trusted=False)


def test_unknown_input_name_is_reported(tmp_path: Path, iris, iris_classifier: LogisticRegression) -> None:
    features, _ = iris
    path = export(tmp_path / "iris.onnx", iris_classifier, features, {id(iris_classifier): {"zipmap": False}})

    with pytest.raises(ValueError, match=r"unknown input\(s\) \['features'\]; this model takes \['X'\]"):
        load("onnx", path, trusted=False).predict({"features": features})
