"""Name the globals in a pickle's opcode stream by simulating just enough of the unpickler's stack.

A small stack simulation (strings, numbers, tuples, dicts and class tags; nothing is built) resolves
``STACK_GLOBAL`` operands, including memoised module names, and understands joblib's ``NumpyArrayWrapper``: joblib
writes raw array bytes into the middle of the stream after it, so the walk works out their size from the wrapper's
state and steps over them instead of decoding them as opcodes (which would stop the scan or invent bogus globals).
``scan_stream`` walks a whole (decompressed) stream, pickle after pickle, and says where and why it stopped;
``serving.pickle_scan`` judges what it found. Opcodes come from ``serving.pickle_opcodes``.
"""

from __future__ import annotations

import _compat_pickle
import lzma
import pickletools
import re
import zlib
from dataclasses import dataclass
from typing import Any

from serving.pickle_opcodes import StopScan, error_position, read_opcodes, skip_bytes

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
_NPY_ITEM_HASOBJECT = 0x01
# Only joblib's own class makes joblib.load read raw array bytes; any other class of that name is an ordinary object.
_JOBLIB_WRAPPERS = frozenset(
    {"joblib.numpy_pickle.NumpyArrayWrapper", "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper"}
)
_SIMPLE_DTYPE = re.compile(r"^(\?|b1|[iu][1248]|f(2|4|8|16)|c(8|16|32)|[mM]8(\[\d*[a-zA-Z]+\])?)$")
_FLEXIBLE_DTYPE = re.compile(r"^[USV]\d*$")


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
        args: Any  # a tuple for OBJ; whatever the stack held otherwise
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


def _scan_one(stream: Any, simulator: _Simulator, where: str) -> None:
    """Scan one pickle up to its STOP, stepping over the array data joblib writes in the middle of it."""
    for opcode, arg, _ in read_opcodes(stream, simulator.opcodes):
        action = simulator.step(opcode.name, arg, opcode)
        if action is None:
            continue
        position = stream.tell()
        if isinstance(action, _Unreadable):
            raise StopScan(
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
        if not skip_bytes(stream, padding + action.size):
            raise StopScan(f"the file ends inside a numpy array stored at byte {position:,}{where}")


def scan_stream(stream: Any, *, compressed: bool, inline_arrays: bool) -> tuple[set[str], bool, str]:
    """Scan pickles one after another until the end of the stream or the first bytes that are not opcodes."""
    simulator = _Simulator(inline_arrays=inline_arrays)
    where = " of the decompressed stream" if compressed else ""
    note = ""
    try:
        while stream.peek(1)[:1]:
            simulator.reset()
            _scan_one(stream, simulator, where)
    except StopScan as stop:
        note = str(stop)
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        note = f"the compressed stream is corrupt: {exc}"
    except Exception as exc:  # pickletools raises assorted errors on bytes that are not opcodes
        position = error_position(stream)
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
