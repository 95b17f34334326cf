"""Small real models shared by the loader tests: trained once per session on iris, which ships with sklearn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


@pytest.fixture(scope="session")
def iris() -> tuple[np.ndarray, np.ndarray]:
    features, labels = load_iris(return_X_y=True)
    return features, labels


@pytest.fixture(scope="session")
def iris_classifier(iris: tuple[np.ndarray, np.ndarray]) -> LogisticRegression:
    features, labels = iris
    return LogisticRegression(max_iter=500).fit(features, labels)
