"""serving.loaders.torch: TorchScript and torch.export models load on CPU and predict like the original."""

from __future__ import annotations

import builtins
import json
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from serving.loaders import LoaderError, RuntimeMissing, TrustRequired, load

# Fixtures use the deprecated tracing API, and torch warns about the planted pickle; the loader silences its own.
pytestmark = [
    pytest.mark.filterwarnings("ignore:`torch.jit.:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning"),
]


def tiny_network():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)).eval()


def reference(network, rows: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return network(torch.from_numpy(rows.astype(np.float32))).numpy()


def test_torchscript_round_trip(tmp_path: Path, iris) -> None:
    torch = pytest.importorskip("torch")
    features, _ = iris
    network = tiny_network()
    path = tmp_path / "net.pt"
    torch.jit.save(torch.jit.trace(network, torch.zeros(1, 4)), str(path))

    model = load("torchscript", path, trusted=False)

    np.testing.assert_allclose(model.predict(features), reference(network, features), rtol=1e-5, atol=1e-6)
    description = model.describe()
    assert description["framework"] == "pytorch"
    assert description["framework_version"] == torch.__version__
    assert description["signature"] is None


def test_torchscript_signature_travels_in_an_extra_file(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    signature = {
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}],
        "outputs": [{"name": "scores", "datatype": "FP32", "shape": [-1, 3]}],
    }
    path = tmp_path / "net.pt"
    traced = torch.jit.trace(tiny_network(), torch.zeros(1, 4))
    torch.jit.save(traced, str(path), _extra_files={"signature.json": json.dumps(signature)})

    assert load("torchscript", path, trusted=False).signature == signature


def test_torch_export_round_trip_with_dynamic_batch(tmp_path: Path, iris) -> None:
    torch = pytest.importorskip("torch")
    features, _ = iris
    network = tiny_network()
    program = torch.export.export(
        network, (torch.zeros(2, 4),), dynamic_shapes={"input": {0: torch.export.Dim("batch")}}
    )
    path = tmp_path / "net.pt2"
    torch.export.save(program, str(path))

    model = load("torch_export", path, trusted=False)

    np.testing.assert_allclose(model.predict(features), reference(network, features), rtol=1e-5, atol=1e-6)
    assert model.signature == {
        "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 4]}],
        "outputs": [{"name": "output_0", "datatype": "FP32", "shape": [-1, 3]}],
    }


def test_zip_that_is_not_torchscript_is_invalid(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    path = tmp_path / "fake.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("fake/data.txt", "hello")

    with pytest.raises(LoaderError, match=r"not a valid TorchScript file \(.pt\)"):
        load("torchscript", path, trusted=False)


@pytest.mark.parametrize("format_name", ["torchscript", "torch_export"])
def test_missing_torch_is_reported_with_its_requirements_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, format_name: str
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    path = tmp_path / "model.bin"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model/data.pkl", b"")

    with pytest.raises(RuntimeMissing, match=r"PyTorch is not installed.*requirements-torch\.txt"):
        load(format_name, path, trusted=False)


class MarkerPayload:
    """Unpickling this creates a file: proof that loading ran code from the archive."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (builtins.open, (str(self.marker), "w"))


def test_pt2_with_a_pickled_payload_is_never_unpickled_untrusted(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    clean = tmp_path / "clean.pt2"
    torch.export.save(torch.export.export(tiny_network(), (torch.zeros(2, 4),)), str(clean))
    marker = tmp_path / "unpickled.marker"
    evil = tmp_path / "evil.pt2"
    # torch.export.load unpickles weights marked use_pickle with weights_only=False: plant a payload there.
    with zipfile.ZipFile(clean) as source, zipfile.ZipFile(evil, "w") as target:
        config_name = next(name for name in source.namelist() if name.endswith("model_weights_config.json"))
        config = json.loads(source.read(config_name))
        first = next(iter(config["config"].values()))
        first["use_pickle"] = True
        payload_name = f"{config_name.rsplit('/', 1)[0]}/{first['path_name']}"
        for name in source.namelist():
            if name == config_name:
                target.writestr(name, json.dumps(config))
            elif name == payload_name:
                target.writestr(name, pickle.dumps(MarkerPayload(marker)))
            else:
                target.writestr(name, source.read(name))

    with pytest.raises(TrustRequired, match="pickled Python objects"):
        load("torch_export", evil, trusted=False)
    assert not marker.exists()
    # The payload is live: trusted, torch unpickles it (and then fails on the non-tensor weight).
    with pytest.raises(LoaderError):
        load("torch_export", evil, trusted=True)
    assert marker.exists()
