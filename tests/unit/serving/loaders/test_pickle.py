"""serving.loaders.pickle: pickle and joblib files are scanned, never unpickled, until an admin trusts them."""

from __future__ import annotations

import builtins
import os
import pickle
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from serving.loaders import LoaderError, TrustRequired, load

MODEL_CLASS = "sklearn.linear_model._logistic.LogisticRegression"


class MarkerPayload:
    """Unpickling this creates a file: proof that the unpickler ran the file's code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (builtins.open, (str(self.marker), "w"))


@pytest.mark.parametrize("format_name", ["pickle", "joblib"])
def test_trusted_round_trip(tmp_path: Path, iris, iris_classifier: LogisticRegression, format_name: str) -> None:
    features, _ = iris
    path = tmp_path / f"model.{format_name}"
    if format_name == "pickle":
        path.write_bytes(pickle.dumps(iris_classifier))
    else:
        joblib.dump(iris_classifier, path, compress=3)

    model = load(format_name, path, trusted=True)

    np.testing.assert_array_equal(model.predict(features), iris_classifier.predict(features))
    assert model.describe()["framework"] == "scikit-learn"
    assert model.signature["inputs"] == [{"name": "input", "datatype": "FP64", "shape": [-1, 4]}]


@pytest.mark.parametrize("format_name", ["pickle", "joblib"])
def test_untrusted_file_needs_trust_and_lists_its_globals(
    tmp_path: Path, iris_classifier: LogisticRegression, format_name: str
) -> None:
    path = tmp_path / "model.bin"
    joblib.dump({"model": iris_classifier, "hook": os.system}, path)

    with pytest.raises(TrustRequired) as caught:
        load(format_name, path, trusted=False)

    details = caught.value.details
    assert MODEL_CLASS in details["globals"]
    if format_name == "joblib":
        # joblib's arrays are stepped over, so the hook after them is seen and flagged.
        assert details["scan_complete"] is True
        assert details["risky_globals"] == [f"{os.system.__module__}.system"]
        assert "1 of them risky" in str(caught.value)
    else:
        # pickle.load would not skip joblib's raw arrays: the scan stops there and says so.
        assert details["scan_complete"] is False
        assert "scan stopped" in details["scan_note"]


def test_untrusted_pickle_is_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled.marker"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(MarkerPayload(marker)))

    with pytest.raises(TrustRequired):
        load("pickle", path, trusted=False)
    assert not marker.exists()

    # Trusted, the same file does run (and is then refused: an open file has no predict method).
    with pytest.raises(LoaderError, match="has no predict\\(\\) method"):
        load("pickle", path, trusted=True)
    assert marker.exists()


def test_pickle_needing_a_missing_module_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(b"\x80\x02cnot_a_module\nThing\n)\x81.")

    with pytest.raises(LoaderError, match="needs the Python module 'not_a_module'"):
        load("pickle", path, trusted=True)
