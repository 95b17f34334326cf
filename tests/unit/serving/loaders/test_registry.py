"""serving.loaders: formats are recognised from the upload name and checked against their magic bytes."""

from __future__ import annotations

import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path

import joblib
import pytest

from serving.loaders import FORMATS, LoaderError, detect_format, load


def write_zip(path: Path, names: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, b"x")
    return path


def test_every_format_names_a_loader_module() -> None:
    assert set(FORMATS) == {
        "skops",
        "onnx",
        "torchscript",
        "torch_export",
        "keras",
        "savedmodel",
        "pyfunc",
        "pickle",
        "joblib",
    }
    assert {name for name, spec in FORMATS.items() if spec.requires_trust} == {
        "pyfunc",
        "pickle",
        "joblib",
        "savedmodel",
    }
    for spec in FORMATS.values():
        assert spec.module.startswith("serving.loaders.")


@pytest.mark.parametrize(
    ("filename", "expected"),
    [("iris.skops", "skops"), ("NET.PT", "torchscript"), ("net.pt2", "torch_export"), ("m.keras", "keras")],
)
def test_zip_formats_by_extension(tmp_path: Path, filename: str, expected: str) -> None:
    assert detect_format(write_zip(tmp_path / "blob", ["a.json"]), filename) == expected


@pytest.mark.parametrize("filename", ["iris.skops", "net.pt", "net.pt2", "m.keras", "model.zip"])
def test_zip_formats_must_be_zips(tmp_path: Path, filename: str) -> None:
    path = tmp_path / "blob"
    path.write_bytes(pickle.dumps({"not": "a zip"}))
    extension = "." + filename.rsplit(".", 1)[1]

    with pytest.raises(LoaderError, match=f"file ends in \\{extension} but is not a zip archive"):
        detect_format(path, filename)


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["saved_model.pb", "variables/variables.index"], "savedmodel"),
        (["export/saved_model.pb", "export/variables/variables.index"], "savedmodel"),
        (["model.py", "weights.json"], "pyfunc"),
        (["my_model/model.py", "my_model/helpers.py"], "pyfunc"),
        (["model.py", "saved_model.pb"], "pyfunc"),
    ],
)
def test_zip_contents_pick_the_format(tmp_path: Path, names: list[str], expected: str) -> None:
    assert detect_format(write_zip(tmp_path / "blob", names), "upload.zip") == expected


def test_zip_without_a_known_layout_says_what_was_expected(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "blob", ["a/saved_model.pb", "b/model.py"])

    with pytest.raises(LoaderError, match=r"neither a TensorFlow SavedModel \(saved_model.pb .*model.py"):
        detect_format(path, "upload.zip")


@pytest.mark.parametrize("protocol", [0, 1, 2, 5])
def test_pickles_of_every_protocol_are_recognised(tmp_path: Path, protocol: int) -> None:
    path = tmp_path / "blob"
    path.write_bytes(pickle.dumps(OrderedDict(a=1), protocol=protocol))

    assert detect_format(path, "model.pkl") == "pickle"
    assert detect_format(path, "model.pickle") == "pickle"


@pytest.mark.parametrize("compress", [0, "zlib", "gzip", "bz2", "lzma", "xz"])
def test_joblib_may_be_compressed(tmp_path: Path, compress: object) -> None:
    path = tmp_path / "blob"
    joblib.dump({"weights": [1, 2, 3]}, path, compress=compress)

    assert detect_format(path, "model.joblib") == "joblib"


def test_compressed_file_named_pkl_is_not_a_pickle(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    joblib.dump({"weights": [1, 2, 3]}, path, compress="gzip")

    with pytest.raises(LoaderError, match=r"file ends in \.pkl but is not a pickle"):
        detect_format(path, "model.pkl")


@pytest.mark.parametrize("content", [b"hello world, I am text", b"\x00\x01\x02\x03"])
def test_non_pickle_bytes_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "blob"
    path.write_bytes(content)

    with pytest.raises(LoaderError, match=r"file ends in \.joblib but is not a pickle or a compressed joblib file"):
        detect_format(path, "model.joblib")
    with pytest.raises(LoaderError, match=r"file ends in \.pkl but is not a pickle"):
        detect_format(path, "model.pkl")


def test_empty_and_unknown_files_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "blob"
    empty.write_bytes(b"")

    with pytest.raises(LoaderError, match=r"model\.onnx is empty"):
        detect_format(empty, "model.onnx")
    with pytest.raises(LoaderError, match=r"unknown model file extension \.h5; expected one of .*\.joblib"):
        detect_format(empty, "model.h5")
    with pytest.raises(LoaderError, match=r"unknown model file extension \(none\)"):
        detect_format(empty, "model")


def test_load_refuses_unknown_formats(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="unknown model format 'tflite'"):
        load("tflite", tmp_path / "blob", trusted=True)
