"""List the globals a pickle would import, without unpickling or importing anything, and judge them by allowlist.

Pickle and joblib files run code when they are loaded, so the control plane only loads them for versions an admin
marked trusted. To help that admin decide, this module reads the opcode stream and reports every
``module.qualname`` the file would import. The verdict is by allowlist (``PICKLE_DATA_GLOBALS``: plain data
reconstructors such as ``numpy.ndarray``, joblib's array wrapper, scikit-learn estimator classes from
``serving.allowlist``): every other global is "needs review", and any stream the scan cannot fully read (an unknown
dtype size, an unresolved ``STACK_GLOBAL``, an extension code, bytes that are not opcodes) makes the scan
incomplete. ``risky()`` is kept only as an extra label for names known to run commands; no denylist is complete.

A small stack simulation (strings, numbers, tuples, dicts and class tags; nothing is built) resolves
``STACK_GLOBAL`` operands, including memoised module names, and understands joblib's ``NumpyArrayWrapper``: joblib
writes raw array bytes into the middle of the stream after it, so the scan works out their size from the wrapper's
state and steps over them instead of decoding them as opcodes (which would stop the scan or invent bogus globals).
Opcode arguments are read with bounds (large byte strings are skipped in chunks, lines are capped) so a small
compressed file cannot make the scanner hold gigabytes; the scan runs in the sandboxed validation subprocess.
"""

from __future__ import annotations

import _compat_pickle
import bz2
import gzip
import io
import lzma
import pickletools
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from serving.allowlist import BUILTIN_TYPES, NUMPY_SCALAR_TYPES, SCIPY_SPARSE_CLASSES, SKLEARN_CLASSES

__all__ = [
    "PICKLE_DATA_GLOBALS",
    "RISKY_GLOBAL_PREFIXES",
    "PickleScan",
    "needs_review",
    "risky",
    "scan_pickle_globals",
    "second_opinion",
    "sniff_compression",
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

_VALUE_OPS = frozenset(
    {
        *("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8", "STRING", "BINSTRING", "SHORT_BINSTRING"),
        *("INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4"),
    }
)
_CONSTANTS = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
_GET_OPS = frozenset({"GET", "BINGET", "LONG_BINGET"})
_PUT_OPS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_EXT_OPS = frozenset({"EXT1", "EXT2", "EXT4"})
# Opcodes that modify the object below their operands and leave it on the stack.
_MUTATORS = frozenset({"APPEND", "APPENDS", "ADDITEMS"})
_TUPLE_SIZES = {"EMPTY_TUPLE": 0, "TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}
_COMPRESSION_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x5d\x00\x00", "lzma"),
    (b"\x78", "zlib"),
)
_READ_CHUNK = 1024**2
_NPY_ITEM_HASOBJECT = 0x01
# Only joblib's own class makes joblib.load read raw array bytes; any other class of that name is an ordinary object.
_JOBLIB_WRAPPERS = frozenset(
    {"joblib.numpy_pickle.NumpyArrayWrapper", "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper"}
)


# Opcode arguments longer than this are skipped in chunks instead of read: only short strings matter to the scan.
_MAX_ARGUMENT_BYTES = 1024**2
_MAX_LINE_BYTES = 64 * 1024
# A stream of tiny opcodes decompressed from a small file could keep the scan busy for hours: stop and say so.
MAX_OPCODES = 20_000_000
_SIMPLE_DTYPE = re.compile(r"^(\?|b1|[iu][1248]|f(2|4|8|16)|c(8|16|32)|[mM]8(\[\d*[a-zA-Z]+\])?)$")
_FLEXIBLE_DTYPE = re.compile(r"^[USV]\d*$")


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


def sniff_compression(head: bytes) -> str | None:
    """Name the compressor joblib used from the first bytes of a file, or None for a plain pickle."""
    if head[:1] == b"\x80":
        return None
    for magic, name in _COMPRESSION_MAGIC:
        if head.startswith(magic):
            return name
    return None


class _ZlibReader(io.RawIOBase):
    """A readable stream over a raw zlib stream (joblib's ``compress="zlib"``), decompressed chunk by chunk."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self._decompressor = zlib.decompressobj()
        self._pending = b""
        self._position = 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def readinto(self, buffer: Any) -> int:
        while not self._pending and not self._decompressor.eof:
            compressed = self._source.read(_READ_CHUNK)
            if not compressed:
                self._pending = self._decompressor.flush()
                break
            self._pending = self._decompressor.decompress(compressed)
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        self._position += count
        return count


def _open_stream(raw: IO[bytes], compression: str | None) -> IO[bytes]:
    if compression == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if compression == "bz2":
        return bz2.BZ2File(raw, mode="rb")
    if compression in ("xz", "lzma"):
        return lzma.LZMAFile(raw, mode="rb")
    if compression == "zlib":
        return io.BufferedReader(_ZlibReader(raw))
    return raw


class _Mark:
    """The MARK sentinel on the simulated stack."""


class _Unknown:
    """A value the simulation does not track (floats, bytes, lists, results of calls it cannot name)."""


@dataclass(frozen=True)
class _Global:
    name: str


@dataclass
class _Instance:
    """An object built by REDUCE / NEWOBJ / OBJ / INST: its class, constructor arguments and BUILD state."""

    class_name: str
    args: Any = ()
    state: Any = None


_MARK = _Mark()
_UNKNOWN = _Unknown()


@dataclass(frozen=True)
class _ArrayData:
    """Raw joblib array bytes follow the current opcode: skip ``size`` bytes (after padding if ``padded``)."""

    size: int
    padded: bool


@dataclass(frozen=True)
class _NestedPickle:
    """A complete pickle (joblib's object arrays) follows the current opcode, with its own stack and memo."""


@dataclass(frozen=True)
class _Unreadable:
    """Array bytes follow but their size could not be worked out: the scan must stop."""


_Action = _ArrayData | _NestedPickle | _Unreadable | None


class _Simulator:
    """Tracks just enough of the unpickler's stack to name globals and to size joblib's inline arrays.

    Strings, ints, bools, None, tuples and dicts are kept; every other value is ``_UNKNOWN``.
    """

    def __init__(self, *, inline_arrays: bool) -> None:
        self.inline_arrays = inline_arrays
        self.found: set[str] = set()
        self.unresolved = 0
        self.ext_codes = 0
        self.opcodes = [0]
        self.stack: list[Any] = []
        self.memo: dict[int, Any] = {}
        self.protocol = 0

    def reset(self) -> None:
        self.stack, self.memo, self.protocol = [], {}, 0

    def _pop(self) -> Any:
        return self.stack.pop() if self.stack else _UNKNOWN

    def _pop_to_mark(self) -> list[Any]:
        items: list[Any] = []
        while self.stack:
            item = self.stack.pop()
            if item is _MARK:
                break
            items.append(item)
        items.reverse()
        return items

    def _name(self, module: str, name: str) -> str:
        if self.protocol < 3:
            # The unpickler maps Python 2 names (copy_reg, __builtin__) for old protocols; report what it imports.
            module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        full = f"{module}.{name}"
        self.found.add(full)
        return full

    def step(self, name: str, arg: Any, opcode: pickletools.OpcodeInfo) -> _Action:
        """Apply one opcode to the simulated stack; say what follows when joblib writes array data next."""
        stack = self.stack
        if name == "PROTO":
            self.protocol = arg
        elif name == "MARK":
            stack.append(_MARK)
        elif name in _VALUE_OPS:
            stack.append(arg if isinstance(arg, (str, int)) else _UNKNOWN)
        elif name in _CONSTANTS:
            stack.append(_CONSTANTS[name])
        elif name == "EMPTY_DICT":
            stack.append({})
        elif name in _PUT_OPS:
            self.memo[arg] = stack[-1] if stack else _UNKNOWN
        elif name == "MEMOIZE":
            self.memo[len(self.memo)] = stack[-1] if stack else _UNKNOWN
        elif name in _GET_OPS:
            stack.append(self.memo.get(arg, _UNKNOWN))
        elif name in ("GLOBAL", "INST"):
            module, _, qualname = arg.partition(" ")
            full = self._name(module, qualname)
            if name == "INST":
                stack.append(_Instance(full, tuple(self._pop_to_mark())))
            else:
                stack.append(_Global(full))
        elif name == "STACK_GLOBAL":
            qualname, module = self._pop(), self._pop()
            if isinstance(module, str) and isinstance(qualname, str):
                stack.append(_Global(self._name(module, qualname)))
            else:
                self.unresolved += 1
                stack.append(_UNKNOWN)
        elif name in _EXT_OPS:
            self.ext_codes += 1
            stack.append(_UNKNOWN)
        elif name in ("REDUCE", "NEWOBJ", "NEWOBJ_EX", "OBJ"):
            stack.append(self._construct(name))
        elif name == "TUPLE":
            stack.append(tuple(self._pop_to_mark()))
        elif name in _TUPLE_SIZES:
            items = [self._pop() for _ in range(_TUPLE_SIZES[name])]
            stack.append(tuple(reversed(items)))
        elif name == "DICT":
            items = self._pop_to_mark()
            stack.append(_to_dict(items))
        elif name in ("SETITEM", "SETITEMS"):
            items = self._pop_to_mark() if name == "SETITEMS" else [self._pop(), self._pop()][::-1]
            if stack and isinstance(stack[-1], dict):
                stack[-1].update(_to_dict(items))
        elif name == "BUILD":
            state = self._pop()
            target = stack[-1] if stack else _UNKNOWN
            if isinstance(target, _Instance):
                target.state = state
                if self.inline_arrays and target.class_name in _JOBLIB_WRAPPERS:
                    return _array_action(state)
        elif name == "POP" and stack and stack[-1] is _MARK:
            stack.pop()
        elif name == "STOP":
            self.reset()
        else:
            self._generic(opcode, keep_target=name in _MUTATORS)
        return None

    def _construct(self, name: str) -> Any:
        """The value of an object built by REDUCE / NEWOBJ / NEWOBJ_EX / OBJ: an instance of the named class."""
        if name == "OBJ":
            items = self._pop_to_mark()
            callable_, args = (items[0], tuple(items[1:])) if items else (_UNKNOWN, ())
        else:
            if name == "NEWOBJ_EX":
                self._pop()
            args = self._pop()
            callable_ = self._pop()
        if not isinstance(callable_, _Global):
            return _UNKNOWN
        if callable_.name == "copyreg._reconstructor" and isinstance(args, tuple) and args:
            first = args[0]
            return _Instance(first.name) if isinstance(first, _Global) else _UNKNOWN
        return _Instance(callable_.name, args)

    def _generic(self, opcode: pickletools.OpcodeInfo, *, keep_target: bool) -> None:
        """Any other opcode: pop what it consumes and push unknown values for what it produces."""
        before = opcode.stack_before
        if pickletools.markobject in before:
            self._pop_to_mark()
            consumed = before.index(pickletools.markobject)
        else:
            consumed = len(before)
        if keep_target:
            consumed -= 1
        for _ in range(consumed):
            self._pop()
        if not keep_target:
            self.stack.extend(_UNKNOWN for _ in opcode.stack_after)


def _itemsize(code: str) -> int:
    import numpy as np

    try:
        return int(np.dtype(code).itemsize)
    except (TypeError, ValueError):
        return -1


def _to_dict(items: list[Any]) -> dict[Any, Any]:
    pairs = {}
    for key, value in zip(items[::2], items[1::2], strict=False):
        if isinstance(key, (str, int)):
            pairs[key] = value
    return pairs


def _array_action(state: Any) -> _Action:
    """Work out how many raw bytes joblib wrote after a NumpyArrayWrapper, from its state dict."""
    if not isinstance(state, dict):
        return _Unreadable()
    shape, dtype = state.get("shape"), state.get("dtype")
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
        return _Unreadable()
    if not isinstance(dtype, _Instance) or not dtype.args or not isinstance(dtype.args[0], str):
        return _Unreadable()
    if dtype.class_name not in ("numpy.dtype", "numpy.core.multiarray.dtype", "numpy._core.multiarray.dtype"):
        return _Unreadable()
    code = dtype.args[0]
    dtype_state = dtype.state if isinstance(dtype.state, tuple) else ()
    flags = dtype_state[7] if len(dtype_state) > 7 and isinstance(dtype_state[7], int) else 0
    if re.fullmatch(r"O\d*", code) or flags & _NPY_ITEM_HASOBJECT:
        return _NestedPickle()
    if _FLEXIBLE_DTYPE.match(code):
        # Flexible dtypes carry their item size in the state; numpy ignores it for every other dtype.
        element_size = dtype_state[5] if len(dtype_state) > 5 and isinstance(dtype_state[5], int) else -1
    elif _SIMPLE_DTYPE.match(code):
        element_size = _itemsize(code)
    else:
        # Anything else (a byte order prefix, a comma list, a name numpy would parse some other way) is a size this
        # scan cannot vouch for: reading it wrongly would let opcodes hide inside "array bytes".
        return _Unreadable()
    if element_size <= 0:
        return _Unreadable()
    count = 1
    for n in shape:
        count *= n
    return _ArrayData(size=count * element_size, padded=state.get("numpy_array_alignment_bytes") is not None)


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
        stream = _open_stream(raw, compression)
        try:
            found, complete, note = _scan_stream(
                stream, compressed=compression is not None, inline_arrays=inline_arrays
            )
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
        stream = _open_stream(raw, compression)
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


def _skip(stream: Any, size: int) -> bool:
    """Skip ``size`` bytes of array data; False when the stream ends first."""
    if stream.seekable() and not isinstance(stream, (gzip.GzipFile, bz2.BZ2File, lzma.LZMAFile)):
        start = stream.tell()
        end = stream.seek(0, io.SEEK_END)
        stream.seek(min(start + size, end))
        return start + size <= end
    while size > 0:
        chunk = stream.read(min(size, _READ_CHUNK))
        if not chunk:
            return False
        size -= len(chunk)
    return True


class _StopScan(Exception):
    """Ends the scan early; the message is the note for people."""


class _Large:
    """An opcode argument too long to keep (skipped, never decoded): the simulation treats it as unknown."""


_LARGE = _Large()
_CODE_TO_OPCODE = {opcode.code.encode("latin-1"): opcode for opcode in pickletools.opcodes}
# Opcodes whose argument is a little-endian length followed by that many bytes: (length width, signed, decoder).
_LENGTH_PREFIXED: dict[str, tuple[int, bool, str]] = {
    "SHORT_BINBYTES": (1, False, "bytes"),
    "BINBYTES": (4, False, "bytes"),
    "BINBYTES8": (8, False, "bytes"),
    "BYTEARRAY8": (8, False, "bytes"),
    "SHORT_BINUNICODE": (1, False, "utf-8"),
    "BINUNICODE": (4, False, "utf-8"),
    "BINUNICODE8": (8, False, "utf-8"),
    "SHORT_BINSTRING": (1, False, "latin-1"),
    "BINSTRING": (4, True, "latin-1"),
    "LONG4": (4, True, "long"),
}


class _LineLimited:
    """What pickletools' argument readers see: reads pass through, lines are capped at ``_MAX_LINE_BYTES``."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)

    def readline(self, size: int = -1) -> bytes:
        return self._stream.readline(_MAX_LINE_BYTES)


def _read_exactly(stream: Any, size: int) -> bytes:
    data = stream.read(size)
    if len(data) < size:
        raise ValueError("pickle exhausted before seeing STOP")
    return data


def _genops(stream: Any, counter: list[int]) -> Any:
    """Like ``pickletools.genops`` up to STOP, but never holds a long argument in memory and counts opcodes."""
    lines = _LineLimited(stream)
    while True:
        code = stream.read(1)
        if not code:
            raise ValueError("pickle exhausted before seeing STOP")
        opcode = _CODE_TO_OPCODE.get(code)
        if opcode is None:
            raise ValueError(f"at position {_position(stream)}, opcode {code!r} unknown")
        counter[0] += 1
        if counter[0] > MAX_OPCODES:
            raise _StopScan(f"scan stopped after {MAX_OPCODES:,} opcodes; globals after that point are not listed")
        if opcode.name in _LENGTH_PREFIXED:
            width, signed, decoder = _LENGTH_PREFIXED[opcode.name]
            size = int.from_bytes(_read_exactly(stream, width), "little", signed=signed)
            if size < 0:
                raise ValueError(f"{opcode.name} has a negative length")
            if size > _MAX_ARGUMENT_BYTES:
                if not _skip(stream, size):
                    raise ValueError("pickle exhausted before seeing STOP")
                arg: Any = _LARGE
            else:
                data = _read_exactly(stream, size)
                if decoder == "bytes":
                    arg = data
                elif decoder == "long":
                    arg = pickletools.decode_long(data)
                else:
                    arg = data.decode(decoder, "surrogatepass")
        elif opcode.arg is not None:
            arg = opcode.arg.reader(lines)
        else:
            arg = None
        yield opcode, arg, None
        if opcode.name == "STOP":
            return


def _scan_one(stream: Any, simulator: _Simulator, where: str) -> None:
    """Scan one pickle up to its STOP, stepping over the array data joblib writes in the middle of it."""
    for opcode, arg, _ in _genops(stream, simulator.opcodes):
        action = simulator.step(opcode.name, arg, opcode)
        if action is None:
            continue
        position = stream.tell()
        if isinstance(action, _Unreadable):
            raise _StopScan(
                f"scan stopped at byte {position:,}{where}, where joblib stores a numpy array inline whose size "
                "could not be worked out; globals after that point are not listed"
            )
        if isinstance(action, _NestedPickle):
            nested = _Simulator(inline_arrays=False)
            nested.opcodes = simulator.opcodes
            _scan_one(stream, nested, where)
            simulator.found |= nested.found
            simulator.unresolved += nested.unresolved
            simulator.ext_codes += nested.ext_codes
            continue
        padding = stream.read(1)[0] if action.padded and stream.peek(1)[:1] else 0
        if not _skip(stream, padding + action.size):
            raise _StopScan(f"the file ends inside a numpy array stored at byte {position:,}{where}")


def _scan_stream(stream: Any, *, compressed: bool, inline_arrays: bool) -> tuple[set[str], bool, str]:
    """Scan pickles one after another until the end of the stream or the first bytes that are not opcodes."""
    simulator = _Simulator(inline_arrays=inline_arrays)
    where = " of the decompressed stream" if compressed else ""
    note = ""
    try:
        while stream.peek(1)[:1]:
            simulator.reset()
            _scan_one(stream, simulator, where)
    except _StopScan as stop:
        note = str(stop)
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        note = f"the compressed stream is corrupt: {exc}"
    except Exception as exc:  # pickletools raises assorted errors on bytes that are not opcodes
        position = _position(stream)
        if "exhausted" in str(exc):
            note = f"the file ends in the middle of a pickle (byte {position:,}{where}); globals may be missing"
        else:
            note = (
                f"scan stopped at byte {position:,}{where}: the rest is not pickle opcodes (joblib stores numpy "
                "arrays inline); globals after that point are not listed"
            )
    complete = not note
    extra = []
    if simulator.unresolved:
        extra.append(f"{simulator.unresolved} STACK_GLOBAL operand(s) could not be resolved")
    if simulator.ext_codes:
        extra.append(f"{simulator.ext_codes} global(s) come from the copyreg extension registry and cannot be named")
    if extra:
        complete = False
        note = "; ".join([note, *extra]) if note else "; ".join(extra)
    return simulator.found, complete, note


def _position(stream: Any) -> int:
    """Where the bad byte is: genops has already consumed it, so step back one."""
    try:
        return max(stream.tell() - 1, 0)
    except (OSError, ValueError):
        return 0
