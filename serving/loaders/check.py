"""Validate a model file by loading it, and print the verdict as one JSON object on stdout.

    python -m serving.loaders.check --format skops [--trusted] [--smoke] PATH
    python -m serving.loaders.check --format joblib --scan-pickle PATH

The control plane runs this in a sandboxed subprocess (controlplane/registry/sandbox.py: empty environment, its
own working folder, rlimits, no network where the machine allows it, process group killed on timeout), so a model
that hangs, crashes the interpreter or eats all memory on load cannot take the web or worker process down with it,
and code that runs sees no secret. ``--scan-pickle`` never loads the file: it scans a pickle or joblib file's
opcodes (our allowlist scan and fickling's) for the admin who must decide whether to trust it. The verdict is the
last line of stdout; the exit code is 0 for every verdict and non-zero only when this script itself crashed.

Verdicts:
    {"status": "valid", "framework", "framework_version", "signature", "details"}
    {"status": "needs_trust", "error", "details"}
    {"status": "runtime_missing", "error"}
    {"status": "invalid", "error"}
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from serving.loaders import FORMATS, load
from serving.loaders.base import LoadedModel, LoaderError, RuntimeMissing, TrustRequired, numpy_dtype_of
from serving.pickle_scan import risky, scan_pickle_globals, second_opinion

_SHOWN_IN_MESSAGE = 5


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout, by Python or by native code, to stderr while frameworks run."""
    sys.stdout.flush()
    saved_fd = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        _flush_c_stdio()
        os.dup2(saved_fd, 1)
        os.close(saved_fd)


def _flush_c_stdio() -> None:
    """Flush C-level stdio buffers (native libraries' printf) while stdout still points at stderr."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):
        # No C runtime to flush through ctypes on this platform: native output may then reach stdout late.
        return


def _zero_inputs(signature: dict[str, Any] | None) -> np.ndarray | dict[str, np.ndarray] | None:
    """One all-zero row per input when every non-batch dimension is fixed; None when the shape is unknown."""
    if not signature or not signature.get("inputs"):
        return None
    rows = {}
    for spec in signature["inputs"]:
        shape = list(spec.get("shape") or [])
        if not shape or any(not isinstance(dim, int) or dim < 0 for dim in shape[1:]):
            return None
        dtype = numpy_dtype_of(str(spec.get("datatype", "FP32")))
        if dtype == np.dtype(object):
            return None
        rows[str(spec["name"])] = np.zeros([1, *shape[1:]], dtype=dtype)
    if len(rows) == 1:
        return next(iter(rows.values()))
    return rows


def _smoke(model: LoadedModel) -> dict[str, Any]:
    """Predict once on a zero row; the verdict's details say what happened."""
    inputs = _zero_inputs(model.signature)
    if inputs is None:
        return {"smoke": "skipped: the signature does not give a fixed feature count"}
    output = model.predict(inputs)
    if isinstance(output, dict):
        shapes = {name: list(np.shape(value)) for name, value in output.items()}
        return {"smoke": "ok", "smoke_output_shape": shapes}
    return {"smoke": "ok", "smoke_output_shape": list(np.shape(output))}


def check(format_name: str, path: Path, *, trusted: bool, smoke: bool) -> dict[str, Any]:
    """Load the model and return the verdict; every expected failure becomes a verdict, not an exception."""
    with tempfile.TemporaryDirectory(prefix="raylane-check-") as work_dir:
        try:
            model = load(format_name, path, trusted=trusted, work_dir=Path(work_dir))
        except TrustRequired as exc:
            return {"status": "needs_trust", "error": str(exc), "details": exc.details}
        except RuntimeMissing as exc:
            return {"status": "runtime_missing", "error": str(exc)}
        except LoaderError as exc:
            return {"status": "invalid", "error": str(exc)}
        except MemoryError:
            raise
        except Exception as exc:  # a framework failing in a way its loader did not anticipate
            return {"status": "invalid", "error": f"loading failed: {type(exc).__name__}: {exc}"}
        description = model.describe()
        if smoke:
            try:
                description["details"] = {**description["details"], **_smoke(model)}
            except MemoryError:
                raise
            except Exception as exc:
                return {
                    "status": "invalid",
                    "error": f"the model loaded but a prediction on one row of zeros failed: "
                    f"{type(exc).__name__}: {exc}",
                }
        return {"status": "valid", **description}


def scan_pickle(format_name: str, path: Path) -> dict[str, Any]:
    """The needs_trust verdict for a pickle or joblib file: what it imports, judged by our allowlist and fickling."""
    scan = scan_pickle_globals(path, inline_arrays=format_name == "joblib")
    opinion = second_opinion(path)
    # The second scanner can only make the file look worse than ours says, never better.
    verdict = "needs_review" if scan.verdict == "needs_review" or opinion.get("raises_concern") else "plain_data"
    message = (
        f"{format_name} files run code when they are loaded; an admin must mark this version trusted. "
        f"The file imports {len(scan.globals)} global(s)"
    )
    if scan.needs_review:
        shown = ", ".join(scan.needs_review[:_SHOWN_IN_MESSAGE])
        more = ", ..." if len(scan.needs_review) > _SHOWN_IN_MESSAGE else ""
        message += f", {len(scan.needs_review)} of them outside the allowlist of plain data types: {shown}{more}"
    if not scan.complete:
        message += " (the scan is incomplete: see details)"
    return {
        "status": "needs_trust",
        "error": message,
        "details": {
            "pickle_globals": list(scan.globals),
            "needs_review": list(scan.needs_review),
            "risky_globals": risky(scan.globals),
            "scan_complete": scan.complete,
            "scan_note": scan.note,
            "scan_verdict": verdict,
            "our_verdict": scan.verdict,
            "second_opinion": opinion,
        },
    }


def _json_default(value: Any) -> Any:
    """numpy values in details become plain JSON; anything else unknown becomes its text."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serving.loaders.check", description=__doc__.splitlines()[0])
    parser.add_argument("--format", required=True, choices=sorted(FORMATS), help="the model format")
    parser.add_argument("--trusted", action="store_true", help="the version is trusted: code in it may run")
    parser.add_argument("--smoke", action="store_true", help="also predict once on a row of zeros")
    parser.add_argument("--scan-pickle", action="store_true", help="only scan a pickle/joblib file, never load it")
    parser.add_argument("path", type=Path, help="the model file")
    args = parser.parse_args(argv)
    with _stdout_to_stderr():
        if args.scan_pickle:
            verdict = scan_pickle(args.format, args.path)
        else:
            verdict = check(args.format, args.path, trusted=args.trusted, smoke=args.smoke)
    sys.stdout.write(json.dumps(verdict, default=_json_default) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
