"""The model formats Raylane serves, how to recognise them, and one entry point to load any of them.

Each format lives in its own module, imported only when a model of that format is loaded, so a node without
PyTorch or Keras still serves every other format.
"""

from __future__ import annotations

import importlib
import pickletools
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from serving.archive import ArchiveError, folder_holding
from serving.loaders.base import LoadedModel, LoaderError, RuntimeMissing, TrustRequired
from serving.pickle_opcodes import sniff_compression

__all__ = [
    "FORMATS",
    "FormatSpec",
    "LoadedModel",
    "LoaderError",
    "RuntimeMissing",
    "TrustRequired",
    "detect_format",
    "load",
]


@dataclass(frozen=True)
class FormatSpec:
    """One model format: the file extensions it arrives with and the module that loads it."""

    name: str
    extensions: tuple[str, ...]
    is_zip: bool
    requires_trust: bool
    framework: str
    module: str


FORMATS: dict[str, FormatSpec] = {
    spec.name: spec
    for spec in (
        FormatSpec("skops", (".skops",), True, False, "scikit-learn", "serving.loaders.skops"),
        FormatSpec("onnx", (".onnx",), False, False, "onnx", "serving.loaders.onnx"),
        FormatSpec("torchscript", (".pt",), True, False, "pytorch", "serving.loaders.torch"),
        FormatSpec("torch_export", (".pt2",), True, False, "pytorch", "serving.loaders.torch"),
        FormatSpec("keras", (".keras",), True, False, "keras", "serving.loaders.keras"),
        FormatSpec("savedmodel", (".zip",), True, True, "tensorflow", "serving.loaders.savedmodel"),
        FormatSpec("pyfunc", (".zip",), True, True, "python", "serving.loaders.pyfunc"),
        FormatSpec("pickle", (".pkl", ".pickle"), False, True, "python", "serving.loaders.pickle"),
        FormatSpec("joblib", (".joblib",), False, True, "python", "serving.loaders.pickle"),
    )
}

_BY_EXTENSION: dict[str, str] = {
    extension: spec.name for spec in FORMATS.values() for extension in spec.extensions if extension != ".zip"
}
_PICKLE_OPCODES = frozenset(opcode.code.encode("latin-1") for opcode in pickletools.opcodes)
_OLD_PICKLE_PROBE_OPCODES = 64


def _detect_zip(path: Path, filename: str) -> str:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    if folder_holding(names, "model.py") is not None:
        # Code wins over a SavedModel next to it: a pyfunc may wrap one, and it needs an admin's trust either way.
        return "pyfunc"
    if folder_holding(names, "saved_model.pb") is not None:
        return "savedmodel"
    raise LoaderError(
        f"{filename} is a zip archive but neither a TensorFlow SavedModel (saved_model.pb at the root or in one "
        "top-level folder) nor a Python model (model.py at the root or in one top-level folder)"
    )


def _looks_like_old_pickle(path: Path) -> bool:
    """Protocol 0/1 pickles have no header: accept the file if its first opcodes parse."""
    with open(path, "rb") as handle:
        if handle.read(1) not in _PICKLE_OPCODES:
            return False
        handle.seek(0)
        try:
            for count, (opcode, _, _) in enumerate(pickletools.genops(handle)):
                if opcode.name == "STOP" or count >= _OLD_PICKLE_PROBE_OPCODES:
                    break
        except Exception:  # pickletools raises assorted errors on bytes that are not opcodes
            return False
    return True


def _check_pickle_header(path: Path, filename: str, extension: str, *, compressed_ok: bool) -> None:
    with open(path, "rb") as handle:
        head = handle.read(8)
    if not head:
        raise LoaderError(f"{filename} is empty")
    if head[:1] == b"\x80":
        return
    if compressed_ok and sniff_compression(head):
        return
    if _looks_like_old_pickle(path):
        return
    expected = "a pickle or a compressed joblib file" if compressed_ok else "a pickle"
    raise LoaderError(f"file ends in {extension} but is not {expected}")


def detect_format(path: str | Path, filename: str) -> str:
    """Name the format of an uploaded file from its name, checking the cheap magic bytes.

    ``path`` is where the bytes are (the artifact store names files by hash); ``filename`` is the name the user
    uploaded, whose extension says what they meant.
    """
    path = Path(path)
    extension = PurePosixPath(filename.lower()).suffix
    if extension != ".zip" and extension not in _BY_EXTENSION:
        known = ", ".join(sorted({*_BY_EXTENSION, ".zip"}))
        raise LoaderError(f"{filename}: unknown model file extension {extension or '(none)'}; expected one of {known}")
    if extension == ".zip" or FORMATS[_BY_EXTENSION[extension]].is_zip:
        if not zipfile.is_zipfile(path):
            hint = ""
            if extension == ".pt":
                hint = (
                    " (TorchScript files saved with torch.jit.save are zips; plain torch.save pickles are not served)"
                )
            raise LoaderError(f"file ends in {extension} but is not a zip archive{hint}")
        if extension == ".zip":
            try:
                return _detect_zip(path, filename)
            except zipfile.BadZipFile as exc:
                raise LoaderError(f"{filename} is a corrupt zip archive: {exc}") from exc
        return _BY_EXTENSION[extension]
    format_name = _BY_EXTENSION[extension]
    if format_name in ("pickle", "joblib"):
        _check_pickle_header(path, filename, extension, compressed_ok=format_name == "joblib")
    elif path.stat().st_size == 0:
        raise LoaderError(f"{filename} is empty")
    return format_name


def load(
    format: str,
    path: str | Path,
    *,
    trusted: bool,
    work_dir: Path | None = None,
    options: Mapping[str, Any] | None = None,
) -> LoadedModel:
    """Load a model of a known format.

    ``work_dir`` receives unpacked archives (pyfunc, SavedModel, Keras); without one, a temporary folder is
    created and lives as long as the returned model. ``options`` are format-specific (``method`` for
    estimators: "predict_proba" serves probabilities).
    """
    spec = FORMATS.get(format)
    if spec is None:
        raise LoaderError(f"unknown model format {format!r}; expected one of {', '.join(FORMATS)}")
    module = importlib.import_module(spec.module)
    temporary = None
    if work_dir is None:
        temporary = tempfile.TemporaryDirectory(prefix=f"raylane-{format}-")
        work_dir = Path(temporary.name)
    try:
        model = module.load(
            Path(path), trusted=trusted, work_dir=Path(work_dir), format_name=format, options=options or {}
        )
    except ArchiveError as exc:
        raise LoaderError(str(exc)) from exc
    if temporary is not None:
        # Unpacked files must outlive this call (a pyfunc may read them lazily): tie the folder to the model.
        model.temporary_work_dir = temporary
    return model
