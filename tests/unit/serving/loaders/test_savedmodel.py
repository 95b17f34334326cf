"""serving.loaders.savedmodel: zipped SavedModels are checked before TensorFlow is needed and load only trusted."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from serving.loaders import LoaderError, RuntimeMissing, TrustRequired, load


def test_savedmodel_without_tensorflow_reports_the_runtime_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    path = tmp_path / "model.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("export/saved_model.pb", b"\x08\x01")
        archive.writestr("export/variables/variables.index", b"")

    with pytest.raises(RuntimeMissing, match=r"TensorFlow is not installed.*requirements-keras\.txt"):
        load("savedmodel", path, trusted=True)


def test_zip_without_saved_model_pb_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "model.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a/b/saved_model.pb", b"")

    with pytest.raises(LoaderError, match=r"no saved_model\.pb at the root"):
        load("savedmodel", path, trusted=False)


def test_real_savedmodel_round_trip(tmp_path: Path) -> None:
    tf = pytest.importorskip("tensorflow")

    class Doubler(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serve(self, x):
            return {"doubled": x * 2}

    module = Doubler()
    folder = tmp_path / "export"
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve})
    path = tmp_path / "model.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for file in folder.rglob("*"):
            archive.write(file, file.relative_to(tmp_path).as_posix())

    with pytest.raises(TrustRequired, match="can read and write files"):
        load("savedmodel", path, trusted=False, work_dir=tmp_path / "work")
    model = load("savedmodel", path, trusted=True, work_dir=tmp_path / "work")

    np.testing.assert_allclose(model.predict(np.ones((2, 4))), np.full((2, 4), 2.0))
    assert model.signature["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]
