"""Read a pickle file's opcodes without running them: plain or compressed, with bounds on what is held.

``sniff_compression`` names the compressor joblib used from a file's first bytes and ``open_stream`` decompresses
chunk by chunk. ``read_opcodes`` is ``pickletools.genops`` up to STOP, except that opcode arguments are read with
bounds (large byte strings are skipped in chunks, lines are capped) and opcodes are counted (``MAX_OPCODES``), so a
small compressed file cannot make the scanner hold gigabytes or run for hours. ``skip_bytes`` steps over data that
is not opcodes (joblib's inline arrays). What the opcodes mean is ``serving.pickle_stack``'s business.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickle
import pickletools
import zlib
from typing import IO, Any

_COMPRESSION_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x5d\x00\x00", "lzma"),
    (b"\x78", "zlib"),
)
_READ_CHUNK = 1024**2

# Opcode arguments longer than this are skipped in chunks instead of read: only short strings matter to the scan.
_MAX_ARGUMENT_BYTES = 1024**2
_MAX_LINE_BYTES = 64 * 1024
# A stream of tiny opcodes decompressed from a small file could keep the scan busy for hours: stop and say so.
MAX_OPCODES = 20_000_000


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


def open_stream(raw: IO[bytes], compression: str | None) -> IO[bytes] | gzip.GzipFile:
    if compression == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if compression == "bz2":
        return bz2.BZ2File(raw, mode="rb")
    if compression in ("xz", "lzma"):
        return lzma.LZMAFile(raw, mode="rb")
    if compression == "zlib":
        return io.BufferedReader(_ZlibReader(raw))
    return raw


def skip_bytes(stream: Any, size: int) -> bool:
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


class StopScan(Exception):
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


def read_opcodes(stream: Any, counter: list[int]) -> Any:
    """Like ``pickletools.genops`` up to STOP, but never holds a long argument in memory and counts opcodes."""
    lines = _LineLimited(stream)
    while True:
        code = stream.read(1)
        if not code:
            raise ValueError("pickle exhausted before seeing STOP")
        opcode = _CODE_TO_OPCODE.get(code)
        if opcode is None:
            raise ValueError(f"at position {error_position(stream)}, opcode {code!r} unknown")
        counter[0] += 1
        if counter[0] > MAX_OPCODES:
            raise StopScan(f"scan stopped after {MAX_OPCODES:,} opcodes; globals after that point are not listed")
        if opcode.name in _LENGTH_PREFIXED:
            width, signed, decoder = _LENGTH_PREFIXED[opcode.name]
            size = int.from_bytes(_read_exactly(stream, width), "little", signed=signed)
            if size < 0:
                raise ValueError(f"{opcode.name} has a negative length")
            if size > _MAX_ARGUMENT_BYTES:
                if not skip_bytes(stream, size):
                    raise ValueError("pickle exhausted before seeing STOP")
                arg: Any = _LARGE
            else:
                data = _read_exactly(stream, size)
                if decoder == "bytes":
                    arg = data
                elif decoder == "long":
                    arg = pickle.decode_long(data)  # the function pickletools uses, where typeshed declares it
                else:
                    arg = data.decode(decoder, "surrogatepass")
        elif opcode.arg is not None:
            arg = opcode.arg.reader(lines)  # type: ignore[arg-type]  # the readers call only read and readline
        else:
            arg = None
        yield opcode, arg, None
        if opcode.name == "STOP":
            return


def error_position(stream: Any) -> int:
    """Where the bad byte is: genops has already consumed it, so step back one."""
    try:
        return max(stream.tell() - 1, 0)
    except (OSError, ValueError):
        return 0
