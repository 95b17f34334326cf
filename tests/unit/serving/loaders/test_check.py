"""serving.loaders.check: the control plane's subprocess prints exactly one JSON verdict on stdout."""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression

from serving.loaders.check import check

ROOT = Path(__file__).resolve().parents[4]


def run_check(*args: str) -> dict:
    """Run the CLI as the control plane does and parse the last line of stdout."""
    result = subprocess.run(
        [sys.executable, "-m", "serving.loaders.check", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    return json.loads(lines[-1])


def write_pyfunc(path: Path, source: str) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model.py", textwrap.dedent(source))
    return path


def test_valid_onnx_with_smoke_prediction(tmp_path: Path, iris, iris_classifier: LogisticRegression) -> None:
    features, _ = iris
    path = tmp_path / "iris.onnx"
    options = {id(iris_classifier): {"zipmap": False}}
    path.write_bytes(to_onnx(iris_classifier, features[:1].astype(np.float32), options=options).SerializeToString())

    verdict = run_check("--format", "onnx", "--smoke", str(path))

    assert verdict["status"] == "valid"
    assert verdict["framework"] == "onnx"
    assert verdict["framework_version"]
    assert verdict["signature"]["inputs"] == [{"name": "X", "datatype": "FP32", "shape": [-1, 4]}]
    assert verdict["details"]["smoke"] == "ok"
    assert verdict["details"]["smoke_output_shape"] == [1]


def test_corrupt_onnx_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"\x08\x07definitely not an onnx graph" * 4)

    verdict = run_check("--format", "onnx", str(path))

    assert verdict["status"] == "invalid"
    assert verdict["error"].startswith("not a valid ONNX model")


def test_untrusted_pickle_needs_trust(tmp_path: Path, iris_classifier: LogisticRegression) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(iris_classifier))

    verdict = run_check("--format", "pickle", str(path))

    assert verdict["status"] == "needs_trust"
    assert "admin must mark this version trusted" in verdict["error"]
    assert "sklearn.linear_model._logistic.LogisticRegression" in verdict["details"]["globals"]


def test_missing_keras_is_reported(tmp_path: Path) -> None:
    if importlib.util.find_spec("keras") is not None:
        pytest.skip("keras is installed here; the in-process test below covers the verdict")
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {"layers": []}}))

    verdict = run_check("--format", "keras", str(path))

    assert verdict == {
        "status": "runtime_missing",
        "error": "Keras is not installed on this node (Python package 'keras'); "
        "install it with `pip install -r requirements-keras.txt`",
    }


def test_runtime_missing_verdict_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keras", None)
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {"layers": []}}))

    assert check("keras", path, trusted=False, smoke=False)["status"] == "runtime_missing"


def test_stdout_stays_clean_when_the_model_prints(tmp_path: Path) -> None:
    path = write_pyfunc(
        tmp_path / "chatty.zip",
        """
        import ctypes
        import os

        print("loading weights...")
        os.write(1, b"a raw write to file descriptor 1\\n")
        ctypes.CDLL(None).printf(b"C printf, still in its buffer")
        signature = {"inputs": [{"name": "x", "datatype": "FP64", "shape": [-1, 2]}], "outputs": []}


        def predict(inputs):
            print("predicting")
            return inputs.sum(axis=1)
        """,
    )

    verdict = run_check("--format", "pyfunc", "--trusted", "--smoke", str(path))

    assert verdict["status"] == "valid"
    assert verdict["details"]["smoke"] == "ok"


def test_failing_smoke_prediction_is_invalid(tmp_path: Path) -> None:
    path = write_pyfunc(
        tmp_path / "broken.zip",
        """
        signature = {"inputs": [{"name": "x", "datatype": "FP64", "shape": [-1, 3]}], "outputs": []}


        def predict(inputs):
            raise ValueError("expected 5 features, got 3")
        """,
    )

    verdict = check("pyfunc", path, trusted=True, smoke=True)

    assert verdict == {
        "status": "invalid",
        "error": "the model loaded but a prediction on one row of zeros failed: ValueError: expected 5 features, got 3",
    }
    assert check("pyfunc", path, trusted=True, smoke=False)["status"] == "valid"


def test_smoke_is_skipped_without_a_fixed_feature_count(tmp_path: Path) -> None:
    path = write_pyfunc(tmp_path / "free.zip", "def predict(inputs):\n    raise AssertionError('must not run')\n")

    verdict = check("pyfunc", path, trusted=True, smoke=True)

    assert verdict["status"] == "valid"
    assert verdict["details"]["smoke"].startswith("skipped")


def test_serving_code_imports_nothing_from_the_control_plane() -> None:
    """Replicas run serving/ on nodes without Django: importing every loader must not pull it in."""
    modules = ", ".join(f"serving.loaders.{name}" for name in ("check", "skops", "onnx", "pickle", "pyfunc", "keras"))
    script = (
        f"import sys, serving.archive, serving.pickle_scan, {modules}\n"
        "banned = {'django', 'rest_framework', 'celery', 'channels', 'controlplane'}\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in banned))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout.strip() == "[]"
