"""`client.log_model` serializes models to files the server loads without trust; each file is loaded back here with
the server's own loader (serving.loaders), so what the SDK writes is what the model servers read."""

import numpy as np
import pytest

from raylane.artifacts import kind_of, serialize
from serving.loaders import detect_format
from serving.loaders import load as load_as
from tests import factories

ROWS = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]])


def load(path, tmp_path):
    """As a model server replica loads an untrusted version: the format from the file, then its loader."""
    (tmp_path / "work").mkdir(exist_ok=True)
    return load_as(detect_format(path, path.name), path, trusted=False, work_dir=tmp_path / "work")


def test_a_fitted_estimator_becomes_skops_the_server_loads(tmp_path):
    estimator = factories.train_iris()
    path, kind = serialize(estimator, tmp_path, name="iris")
    assert kind == "sklearn" and path.suffix == ".skops"
    loaded = load(path, tmp_path)
    assert list(loaded.predict(ROWS)) == list(estimator.predict(ROWS))


def test_an_unfitted_estimator_is_refused(tmp_path):
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(ValueError, match="not fitted"):
        serialize(LogisticRegression(), tmp_path, name="iris")


def test_paths_are_taken_as_they_are_and_other_objects_refused(tmp_path):
    model_file = tmp_path / "m.onnx"
    model_file.write_bytes(b"x")
    assert serialize(str(model_file), tmp_path, name="m") == (model_file, "path")
    with pytest.raises(FileNotFoundError):
        serialize(tmp_path / "missing.onnx", tmp_path, name="m")
    with pytest.raises(TypeError, match="scikit-learn estimator"):
        kind_of({"weights": [1, 2]})


@pytest.fixture
def torch_module():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    return torch, torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))


@pytest.mark.parametrize("torch_format", ["torch_export", "torchscript"])
def test_a_torch_module_is_exported_with_a_dynamic_batch(torch_module, tmp_path, torch_format):
    torch, module = torch_module
    example = torch.zeros((2, 4), dtype=torch.float32)
    path, kind = serialize(module, tmp_path, name="net", example_input=example, format=torch_format)
    assert kind == torch_format and path.suffix == (".pt2" if torch_format == "torch_export" else ".pt")
    loaded = load(path, tmp_path)
    expected = module(torch.tensor(ROWS, dtype=torch.float32)).detach().numpy()
    got = np.asarray(loaded.predict(ROWS.astype(np.float32)))
    assert got.shape == (3, 3), "three rows though the example had two: the batch dimension is dynamic"
    assert np.allclose(got, expected, atol=1e-5)


def test_a_torch_module_needs_an_example(torch_module, tmp_path):
    _, module = torch_module
    with pytest.raises(ValueError, match="example_input"):
        serialize(module, tmp_path, name="net")


def test_a_keras_model_becomes_a_keras_file_the_server_loads(tmp_path):
    keras = pytest.importorskip("keras")
    network = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, activation="softmax")])
    path, kind = serialize(network, tmp_path, name="net")
    assert kind == "keras" and path.suffix == ".keras"
    loaded = load(path, tmp_path)
    np.testing.assert_allclose(loaded.predict(ROWS), network.predict(ROWS, verbose=0), rtol=1e-5)
