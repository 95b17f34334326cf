"""serving.loaders.pyfunc: Python models run their model.py only when trusted."""

from __future__ import annotations

import json
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from serving.loaders import LoaderError, TrustRequired, load

CLASS_MODEL = """
    import json
    from pathlib import Path

    import helpers

    signature = {"inputs": [{"name": "input", "datatype": "FP64", "shape": [-1, 3]}], "outputs": []}


    class Linear:
        def __init__(self, weights):
            self.weights = weights

        def predict(self, inputs):
            return helpers.matmul(inputs, self.weights)


    def load(path):
        return Linear(json.loads((Path(path) / "weights.json").read_text()))
"""

FUNCTION_MODEL = """
    from pathlib import Path

    Path({marker!r}).write_text("model.py ran")


    def predict(inputs):
        return {{"sum": inputs.sum(axis=1), "max": inputs.max(axis=1)}}
"""


def write_pyfunc(path: Path, files: dict[str, str], *, folder: str = "") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(f"{folder}{name}", textwrap.dedent(text))
    return path


@pytest.fixture
def class_model(tmp_path: Path) -> Path:
    return write_pyfunc(
        tmp_path / "linear.zip",
        {
            "model.py": CLASS_MODEL,
            "helpers.py": "import numpy as np\n\ndef matmul(a, b):\n    return np.asarray(a) @ np.asarray(b)\n",
            "weights.json": json.dumps([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]),
        },
    )


def test_trusted_round_trip_with_load_function(tmp_path: Path, class_model: Path) -> None:
    rows = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0]])
    path_before = list(sys.path)

    model = load("pyfunc", class_model, trusted=True, work_dir=tmp_path / "work")

    np.testing.assert_allclose(model.predict(rows), [[4.0, 7.0], [0.0, 2.0]])
    assert model.signature["inputs"][0]["shape"] == [-1, 3]
    assert model.describe()["framework"] == "python"
    assert sys.path == path_before


def test_untrusted_pyfunc_needs_trust_and_never_runs_its_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran.marker"
    path = write_pyfunc(tmp_path / "model.zip", {"model.py": FUNCTION_MODEL.format(marker=str(marker))})

    with pytest.raises(TrustRequired) as caught:
        load("pyfunc", path, trusted=False, work_dir=tmp_path / "work")

    assert caught.value.details == {"python_files": ["model.py"]}
    assert not marker.exists()
    assert not (tmp_path / "work" / "pyfunc").exists()


def test_module_level_predict_in_a_top_level_folder(tmp_path: Path) -> None:
    marker = tmp_path / "ran.marker"
    path = write_pyfunc(
        tmp_path / "model.zip", {"model.py": FUNCTION_MODEL.format(marker=str(marker))}, folder="my_model/"
    )

    outputs = load("pyfunc", path, trusted=True, work_dir=tmp_path / "work").predict(np.array([[1, 5], [2, 2]]))

    assert marker.read_text() == "model.py ran"
    np.testing.assert_array_equal(outputs["sum"], [6, 4])
    np.testing.assert_array_equal(outputs["max"], [5, 2])


def test_two_versions_do_not_share_a_module(tmp_path: Path) -> None:
    first = write_pyfunc(tmp_path / "one.zip", {"model.py": "def predict(inputs):\n    return inputs + 1\n"})
    second = write_pyfunc(tmp_path / "two.zip", {"model.py": "def predict(inputs):\n    return inputs + 2\n"})

    model_one = load("pyfunc", first, trusted=True, work_dir=tmp_path / "one")
    model_two = load("pyfunc", second, trusted=True, work_dir=tmp_path / "two")

    assert model_one.predict(np.array([1]))[0] == 2
    assert model_two.predict(np.array([1]))[0] == 3


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"model.py": "x = 1\n"}, "defines neither load\\(path\\) nor predict\\(inputs\\)"),
        ({"model.py": "raise RuntimeError('boom')\n"}, "model.py failed to import: RuntimeError: boom"),
        ({"model.py": "def load(path):\n    return 42\n"}, "returned a int, which has no predict"),
        ({"inference.py": "def predict(x):\n    return x\n"}, "no model.py"),
    ],
)
def test_broken_pyfunc_is_invalid(tmp_path: Path, files: dict[str, str], message: str) -> None:
    path = write_pyfunc(tmp_path / "model.zip", files)

    with pytest.raises(LoaderError, match=message) as caught:
        load("pyfunc", path, trusted=True, work_dir=tmp_path / "work")
    assert not isinstance(caught.value, TrustRequired)
