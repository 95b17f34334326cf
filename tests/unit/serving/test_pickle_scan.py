"""serving.pickle_scan: the globals a pickle would import are listed without ever unpickling it."""

from __future__ import annotations

import builtins
import collections
import os
import pickle
import pickletools
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

from serving.pickle_scan import risky, scan_pickle_globals, second_opinion

MODEL_CLASS = "sklearn.linear_model._logistic.LogisticRegression"


class MarkerPayload:
    """Unpickling this creates a file: proof that the unpickler ran the file's code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (builtins.open, (str(self.marker), "w"))


class ShellPayload:
    def __reduce__(self) -> tuple:
        return (os.system, ("echo pwned",))


@pytest.fixture(scope="module")
def iris_model() -> LogisticRegression:
    features, labels = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=500).fit(features, labels)


def dump(path: Path, obj: object, protocol: int = pickle.HIGHEST_PROTOCOL) -> Path:
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_sklearn_model_globals_for_every_protocol(
    tmp_path: Path, iris_model: LogisticRegression, protocol: int
) -> None:
    scan = scan_pickle_globals(dump(tmp_path / "model.pkl", iris_model, protocol))

    assert scan.complete, scan.note
    assert MODEL_CLASS in scan.globals
    assert any(name.startswith("numpy.") for name in scan.globals)
    assert list(scan.globals) == sorted(set(scan.globals))
    assert risky(scan.globals) == []


def test_old_protocols_report_python3_names(tmp_path: Path, iris_model: LogisticRegression) -> None:
    scan = scan_pickle_globals(dump(tmp_path / "model.pkl", iris_model, 0))

    assert "copyreg._reconstructor" in scan.globals
    assert not any(name.startswith(("copy_reg.", "__builtin__.")) for name in scan.globals)


def test_memoised_module_names_resolve(tmp_path: Path) -> None:
    path = dump(tmp_path / "two.pkl", [LogisticRegression(), LogisticRegressionCV()], protocol=4)
    ops = [opcode.name for opcode, _, _ in pickletools.genops(path.read_bytes())]
    # The second class reuses the memoised module string: the case this test is about.
    assert any(ops[i] == "STACK_GLOBAL" and "BINGET" in ops[i - 3 : i] for i in range(3, len(ops))), (
        "pickle did not memoise the module name"
    )

    scan = scan_pickle_globals(path)

    assert scan.complete, scan.note
    assert {MODEL_CLASS, "sklearn.linear_model._logistic.LogisticRegressionCV"} <= set(scan.globals)


def test_malicious_reduce_is_flagged_as_risky(tmp_path: Path) -> None:
    scan = scan_pickle_globals(dump(tmp_path / "evil.pkl", {"model": ShellPayload()}))

    assert risky(scan.globals) == [f"{os.system.__module__}.system"]


def test_scanning_never_unpickles(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled.marker"
    path = dump(tmp_path / "evil.pkl", MarkerPayload(marker))

    scan = scan_pickle_globals(path)

    opener = f"{builtins.open.__module__}.open"  # io.open: builtins.open pickles under its home module
    assert scan.globals == (opener,)
    assert risky(scan.globals) == [opener]
    assert not marker.exists()
    # The payload is real: unpickling the same file does create the marker.
    pickle.loads(path.read_bytes()).close()
    assert marker.exists()


def test_every_concatenated_pickle_is_scanned(tmp_path: Path) -> None:
    path = tmp_path / "many.pkl"
    path.write_bytes(
        pickle.dumps({"harmless": 1}) + pickle.dumps(collections.OrderedDict()) + pickle.dumps(ShellPayload())
    )

    scan = scan_pickle_globals(path)

    assert scan.complete
    assert {"collections.OrderedDict", f"{os.system.__module__}.system"} <= set(scan.globals)


def test_joblib_dump_lists_the_globals_before_its_inline_arrays(tmp_path: Path, iris_model: LogisticRegression) -> None:
    path = tmp_path / "model.joblib"
    joblib.dump({"model": iris_model, "hook": os.system}, path)

    as_pickle = scan_pickle_globals(path)

    assert MODEL_CLASS in as_pickle.globals
    assert "numpy.ndarray" in as_pickle.globals
    assert not as_pickle.complete
    assert "joblib stores numpy arrays inline" in as_pickle.note
    assert "scan stopped at byte" in as_pickle.note


def test_joblib_scan_steps_over_inline_arrays_like_joblib_load(tmp_path: Path, iris_model: LogisticRegression) -> None:
    path = tmp_path / "model.joblib"
    joblib.dump(
        {
            "model": iris_model,
            "strings": np.array(["setosa", "virginica"]),
            "objects": np.array([1, "two", os.getcwd], dtype=object),
            "fortran": np.asfortranarray(np.ones((3, 4))),
            "hook": os.system,
        },
        path,
    )

    scan = scan_pickle_globals(path, inline_arrays=True)

    assert scan.complete, scan.note
    assert MODEL_CLASS in scan.globals
    assert set(risky(scan.globals)) == {f"{os.getcwd.__module__}.getcwd", f"{os.system.__module__}.system"}


@pytest.mark.parametrize("compress", ["zlib", "gzip", "bz2", "lzma", "xz"])
def test_compressed_joblib_is_scanned_through_its_decompressor(
    tmp_path: Path, iris_model: LogisticRegression, compress: str
) -> None:
    path = tmp_path / "model.joblib"
    joblib.dump({"model": iris_model, "hook": os.system}, path, compress=(compress, 3))
    assert path.read_bytes()[:1] != b"\x80"

    scan = scan_pickle_globals(path, inline_arrays=True)

    assert scan.complete, scan.note
    assert MODEL_CLASS in scan.globals
    assert risky(scan.globals) == [f"{os.system.__module__}.system"]
    assert scan.note == f"decompressed with {compress} before scanning"


def test_bytes_that_are_not_opcodes_stop_the_scan_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "garbage.pkl"
    path.write_bytes(pickle.dumps(collections.OrderedDict(), protocol=2) + b"\x00\x01\x02garbage")
    length = len(pickle.dumps(collections.OrderedDict(), protocol=2))

    scan = scan_pickle_globals(path)

    assert scan.globals == ("collections.OrderedDict",)
    assert not scan.complete
    assert scan.note.startswith(f"scan stopped at byte {length:,}: the rest is not pickle opcodes")


def test_truncated_compressed_stream_is_reported(tmp_path: Path, iris_model: LogisticRegression) -> None:
    path = tmp_path / "model.joblib"
    joblib.dump(iris_model, path, compress=("gzip", 3))
    path.write_bytes(path.read_bytes()[:200])

    scan = scan_pickle_globals(path, inline_arrays=True)

    assert not scan.complete
    assert scan.note


@pytest.mark.parametrize(
    ("name", "flagged"),
    [
        ("posix.system", True),
        ("subprocess.Popen", True),
        ("builtins.eval", True),
        ("builtins.getattr", True),
        ("builtins.getattribute_safe", False),
        ("builtins.dict", False),
        ("numpy.core.multiarray._reconstruct", False),
        ("sklearn.pipeline.Pipeline", False),
        ("ossify.thing", False),
    ],
)
def test_risky(name: str, flagged: bool) -> None:
    assert risky([name]) == ([name] if flagged else [])


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_plain_sklearn_pickles_are_plain_data_by_allowlist(tmp_path: Path, iris_model, protocol: int) -> None:
    scan = scan_pickle_globals(dump(tmp_path / "model.pkl", iris_model, protocol))
    assert (scan.verdict, scan.needs_review) == ("plain_data", ())


def test_a_global_outside_the_allowlist_needs_review_even_if_no_denylist_names_it(tmp_path: Path) -> None:
    """collections.Counter is harmless, but only an allowlist can be complete: it is shown for review."""
    scan = scan_pickle_globals(dump(tmp_path / "counter.pkl", collections.Counter("ab")))
    assert scan.verdict == "needs_review"
    assert scan.needs_review == ("collections.Counter",)
    assert risky(scan.globals) == []


@pytest.mark.parametrize("code", ["f8,f8", "float64", "<f8", "S", "O4x", "M8[ns]x"])
def test_a_joblib_dtype_whose_size_is_not_known_stops_the_scan(tmp_path: Path, code: str) -> None:
    from tests.hostile import joblib_dtype_lie

    path = tmp_path / "lie.joblib"
    path.write_bytes(joblib_dtype_lie("touch pwned", code))

    scan = scan_pickle_globals(path, inline_arrays=True)

    assert not scan.complete
    assert "could not be worked out" in scan.note


def test_a_dtype_a_naive_scanner_would_misjudge_still_shows_the_hidden_call(tmp_path: Path) -> None:
    """'M8[10s]' holds 8-byte items: reading its digits as a size (810) skipped the gadget right after the array."""
    from tests.hostile import joblib_dtype_lie

    path = tmp_path / "lie.joblib"
    path.write_bytes(joblib_dtype_lie("touch pwned", "M8[10s]"))

    scan = scan_pickle_globals(path, inline_arrays=True)

    assert "posix.system" in scan.needs_review or "os.system" in scan.needs_review


def test_a_huge_byte_string_is_skipped_in_chunks_not_held_in_memory(tmp_path: Path) -> None:
    """A small gzip file declaring a 512 MiB byte string: the scan must not read it into one buffer."""
    import resource

    from tests.hostile import write_gzip_long_string_joblib

    path = write_gzip_long_string_joblib(tmp_path / "big.joblib", 512 * 1024**2)
    assert path.stat().st_size < 4 * 1024**2
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    scan = scan_pickle_globals(path, inline_arrays=True)

    growth_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert growth_mib < 128
    assert "os.system" in scan.needs_review


def test_fickling_gives_a_second_opinion_that_never_makes_a_file_look_safer(tmp_path: Path) -> None:
    opinion = second_opinion(dump(tmp_path / "shell.pkl", ShellPayload(), 4))
    assert opinion["tool"] == "fickling"
    assert opinion["version"]
    assert opinion["raises_concern"] is True
    assert any("system" in finding for finding in opinion["findings"])
