"""The whole hostile corpus (tests/hostile.py), checked in process: nothing in it loads without an admin's trust.

Each file must be refused (LoaderError naming the problem) or need trust with the offending names listed, and the
sentinel its payload would create must never appear. Pickles are only scanned here (they are never loaded
untrusted); the integration suite sends a representative share through the upload API and its sandbox.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from serving.loaders import LoaderError, TrustRequired, detect_format, load
from serving.pickle_scan import scan_pickle_globals
from tests.hostile import corpus

SENTINEL = Path("/tmp/raylane-hostile-unit/pwned")
CORPUS = list(corpus(SENTINEL))


def test_the_corpus_covers_every_format_with_over_two_hundred_files() -> None:
    assert len(CORPUS) >= 200
    assert {hostile.name.rsplit(".", 1)[1] for hostile in CORPUS} == {
        "skops",
        "pkl",
        "joblib",
        "zip",
        "onnx",
        "pt",
        "keras",
    }


@pytest.mark.parametrize("hostile", CORPUS, ids=[hostile.name for hostile in CORPUS])
def test_hostile_file_is_refused_or_needs_trust(tmp_path: Path, hostile) -> None:
    SENTINEL.parent.mkdir(parents=True, exist_ok=True)
    for leftover in SENTINEL.parent.glob(f"{SENTINEL.name}*"):
        leftover.unlink()
    path = tmp_path / "upload"
    path.write_bytes(hostile.data)
    if hostile.name.endswith((".pkl", ".joblib")):
        scan = scan_pickle_globals(path, inline_arrays=hostile.name.endswith(".joblib"))
        assert scan.verdict == "needs_review"
        answer = " ".join(scan.needs_review) + " " + scan.note
    else:
        with pytest.raises(LoaderError) as caught:
            load(detect_format(path, hostile.name), path, trusted=False, work_dir=tmp_path / "work")
        details = caught.value.details if isinstance(caught.value, TrustRequired) else {}
        answer = f"{caught.value} {details}"
    assert hostile.expect in answer
    assert list(SENTINEL.parent.glob(f"{SENTINEL.name}*")) == []  # numpy.save appends .npy
