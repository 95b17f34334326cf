"""List the globals a pickle would import, without unpickling or importing anything, and judge them by allowlist.

Pickle and joblib files run code when they are loaded, so the control plane only loads them for versions an admin
marked trusted. To help that admin decide, ``scan_pickle_globals`` reads the opcode stream (``serving.pickle_opcodes``
opens and reads it, ``serving.pickle_stack`` names the globals) and reports every ``module.qualname`` the file would
import. The verdict is by allowlist (``PICKLE_DATA_GLOBALS``: plain data reconstructors such as ``numpy.ndarray``,
joblib's array wrapper, scikit-learn estimator classes from ``serving.allowlist``): every other global is "needs
review", and any stream the scan cannot fully read (an unknown dtype size, an unresolved ``STACK_GLOBAL``, an
extension code, bytes that are not opcodes) makes the scan incomplete. ``risky()`` is kept only as an extra label
for names known to run commands; no denylist is complete. ``second_opinion`` asks fickling for its own verdict.
The scan runs in the sandboxed validation subprocess.
"""

from __future__ import annotations

import io
import lzma
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serving.allowlist import BUILTIN_TYPES, NUMPY_SCALAR_TYPES, SCIPY_SPARSE_CLASSES, SKLEARN_CLASSES
from serving.pickle_opcodes import open_stream, sniff_compression
from serving.pickle_stack import scan_stream

__all__ = [
    "PICKLE_DATA_GLOBALS",
    "RISKY_GLOBAL_PREFIXES",
    "PickleScan",
    "needs_review",
    "risky",
    "scan_pickle_globals",
    "second_opinion",
]

# Entries ending in "." match a whole module tree; the others match one exact global. The list names what can run
# commands, reach files or the network, or import and build further code; it cannot be exhaustive, which is why
# pickles still need an admin's trust.
_RISKY_PROCESS = ("os.", "posix.", "nt.", "subprocess.", "pty.", "signal.", "multiprocessing.", "asyncio.", "sys.")
_RISKY_CODE = ("importlib.", "runpy.", "pickle.", "_pickle.", "marshal.", "types.", "ctypes.", "code.", "codeop.")
_RISKY_IO = ("socket.", "shutil.", "tempfile.", "pathlib.", "io.open", "codecs.open", "webbrowser.", "urllib.", "http.")
_RISKY_GADGETS = ("operator.attrgetter", "operator.methodcaller", "functools.partial", "numpy.testing.", "numpy.f2py.")
_RISKY_LOADERS = ("numpy.load", "joblib.load", "torch.load", "ftplib.", "smtplib.")
_RISKY_BUILTIN_NAMES = ("eval", "exec", "getattr", "setattr", "delattr", "__import__", "open", "compile", "globals")
_RISKY_BUILTINS = tuple(f"builtins.{name}" for name in (*_RISKY_BUILTIN_NAMES, "locals", "vars", "input", "breakpoint"))
RISKY_GLOBAL_PREFIXES: tuple[str, ...] = (
    *_RISKY_PROCESS,
    *_RISKY_CODE,
    *_RISKY_IO,
    *_RISKY_GADGETS,
    *_RISKY_LOADERS,
    *_RISKY_BUILTINS,
)


def _numpy_data_globals() -> frozenset[str]:
    import numpy as np

    names = {"numpy.ndarray", "numpy.dtype", *NUMPY_SCALAR_TYPES}
    # ufuncs are element-wise math (what FunctionTransformer usually wraps); called with any arguments they compute.
    names |= {f"numpy.{name}" for name in dir(np) if isinstance(getattr(np, name, None), np.ufunc)}
    for core in ("numpy.core", "numpy._core"):
        names |= {f"{core}.multiarray._reconstruct", f"{core}.multiarray.scalar", f"{core}.numeric._frombuffer"}
    random = "numpy.random"
    names |= {
        f"{random}._pickle.__bit_generator_ctor",
        f"{random}._pickle.__generator_ctor",
        f"{random}._pickle.__randomstate_ctor",
        f"{random}.bit_generator.SeedSequence",
        f"{random}.bit_generator.__pyx_unpickle_SeedSequence",
        f"{random}.mtrand.RandomState",
        f"{random}._generator.Generator",
        *(f"{random}._{name.lower()}.{name}" for name in ("MT19937", "PCG64", "PCG64DXSM", "Philox", "SFC64")),
    }
    return frozenset(names)


def _sklearn_cython_unpicklers() -> frozenset[str]:
    """Cython's ``__pyx_unpickle_<Class>`` only builds that class (it checks the type): allowed with the class."""
    return frozenset(f"{name.rpartition('.')[0]}.__pyx_unpickle_{name.rpartition('.')[2]}" for name in SKLEARN_CLASSES)


# Callables a plain data file needs: each only builds a container, a numpy array or dtype, or an estimator whose
# constructor stores its arguments. Whatever they are called with comes from other globals, which are checked too.
PICKLE_DATA_GLOBALS: frozenset[str] = (
    BUILTIN_TYPES
    | SKLEARN_CLASSES
    | SCIPY_SPARSE_CLASSES
    | _numpy_data_globals()
    | _sklearn_cython_unpicklers()
    | {"builtins.object", "copyreg._reconstructor", "_codecs.encode", "joblib.numpy_pickle.NumpyArrayWrapper"}
)


@dataclass(frozen=True)
class PickleScan:
    """What a scan found: ``complete`` is False when part of the file could not be read as opcodes.

    ``needs_review`` lists every global outside ``PICKLE_DATA_GLOBALS``; ``verdict`` is "plain_data" only when the
    scan read the whole file and found nothing else.
    """

    globals: tuple[str, ...]
    complete: bool
    note: str = ""
    needs_review: tuple[str, ...] = field(default=())

    @property
    def verdict(self) -> str:
        return "plain_data" if self.complete and not self.needs_review else "needs_review"


def needs_review(globals_: tuple[str, ...] | list[str]) -> list[str]:
    """The globals outside the allowlist of plain data reconstructors."""
    return [name for name in globals_ if name not in PICKLE_DATA_GLOBALS]


def risky(globals_: tuple[str, ...] | list[str]) -> list[str]:
    """The globals that can run commands, touch files or the network, or import further code."""
    flagged = []
    for name in globals_:
        for prefix in RISKY_GLOBAL_PREFIXES:
            if name == prefix or (prefix.endswith(".") and name.startswith(prefix)):
                flagged.append(name)
                break
    return flagged


def scan_pickle_globals(path: str | Path, *, inline_arrays: bool = False) -> PickleScan:
    """Scan a pickle or joblib file (plain or compressed) and list the globals it references.

    Never unpickles and never imports anything named in the file. Pass ``inline_arrays=True`` for files that will
    be loaded with ``joblib.load``: the scan then steps over the array bytes joblib writes after each
    ``NumpyArrayWrapper``, exactly as joblib does. Without it the scan reads the file as ``pickle.load`` would, and
    stops (``complete=False``) where joblib's raw array bytes begin; skipping them for a plain pickle would let a
    crafted file hide opcodes that ``pickle.load`` runs.
    """
    with open(path, "rb") as raw:
        compression = sniff_compression(raw.read(8))
        raw.seek(0)
        stream = open_stream(raw, compression)
        try:
            found, complete, note = scan_stream(stream, compressed=compression is not None, inline_arrays=inline_arrays)
        finally:
            if stream is not raw:
                stream.close()
    if compression:
        prefix = f"decompressed with {compression} before scanning"
        note = f"{prefix}; {note}" if note else prefix
    names = tuple(sorted(found))
    return PickleScan(globals=names, complete=complete, note=note, needs_review=tuple(needs_review(names)))


# fickling reads the whole stream into memory: give it at most this much (decompressed), else say it was skipped.
SECOND_OPINION_MAX_BYTES = 256 * 1024**2
# fickling's severities, mildest first; it calls every import from outside the standard library LIKELY_UNSAFE.
_FICKLING_MALICIOUS = ("LIKELY_OVERTLY_MALICIOUS", "OVERTLY_MALICIOUS")


def second_opinion(path: str | Path) -> dict[str, Any]:
    """Ask fickling (Trail of Bits' pickle decompiler) for its own verdict on the same file.

    It is an independent implementation, shown beside ours so a bug in one scanner is visible in the other. Its
    verdict can only make a file look worse: ``raises_concern`` is True when fickling finds it overtly malicious or
    cannot decompile it (fickling does not know joblib's inline arrays, so joblib files usually raise concern).
    """
    try:
        from importlib.metadata import version

        from fickling.analysis import check_safety
        from fickling.fickle import Pickled
    except ImportError:
        return {"tool": "fickling", "version": None, "verdict": "unavailable", "raises_concern": False, "findings": []}
    tool = {"tool": "fickling", "version": version("fickling")}
    with open(path, "rb") as raw:
        compression = sniff_compression(raw.read(8))
        raw.seek(0)
        stream = open_stream(raw, compression)
        try:
            data = stream.read(SECOND_OPINION_MAX_BYTES + 1)
        except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
            return {
                **tool,
                "verdict": f"not run: the compressed stream is corrupt ({exc})",
                "raises_concern": False,
                "findings": [],
            }
        finally:
            if stream is not raw:
                stream.close()
    if len(data) > SECOND_OPINION_MAX_BYTES:
        return {
            **tool,
            "verdict": "not run: the stream is larger than 256 MiB",
            "raises_concern": False,
            "findings": [],
        }
    try:
        results = check_safety(Pickled.load(io.BytesIO(data), fail_on_decode_error=False))
        severity = results.severity.name
        findings = sorted({str(result.message) for result in results.results})[:50]
    except Exception as exc:  # fickling raises assorted errors on streams it cannot decompile
        return {**tool, "verdict": f"error: {type(exc).__name__}: {exc}"[:300], "raises_concern": True, "findings": []}
    return {**tool, "verdict": severity, "raises_concern": severity in _FICKLING_MALICIOUS, "findings": findings}
