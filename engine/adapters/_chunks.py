"""Inputs cut into chunks of lines for many processes (``dlrpolicy evaluate --workers`` and ``replay --workers``;
`._chunk_runs` runs them and puts their results back in input order).

Each chunk starts where a JSON Lines record starts and its records carry the line numbers of the whole input.
A chunk cut inside a multi-line document (a line in column 0 that opens one) is noticed when its records are
read (`ChunkRecords.ended_open`); `in_order` then runs it again joined to the next chunk, so the records are
exactly those of reading the input whole (`read_records`).  Record numbers are counted per chunk; a chunk's
output leaves them out (`NumberedText`) and the parent fills in the run-wide numbers.  Reading stays cheap (bytes
searches, no parsing, no copies of a regular file's bytes) so the workers have the cores."""

from __future__ import annotations

import io
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from typing import Final, NamedTuple, Protocol, cast

import attrs

from .._errors import PayloadError
from ._stream import MAX_RECORD_BYTES, RawRecord, RecordStream

#: A chunk ends at the last record start in this many bytes.
CHUNK_BYTES: Final = 512 << 10
#: What a regular file's chunks grow to for worker processes (`read_chunks`' ``largest``).
GROWN_CHUNK_BYTES: Final = 2 << 20


def largest_for(workers: int) -> int | None:
    """`read_chunks`' ``largest`` for ``workers`` processes: chunks grow only when worker processes take them."""
    return GROWN_CHUNK_BYTES if workers > 1 else None


class FileSpan(NamedTuple):
    """Where a chunk's bytes are in a regular file, and which file that was (device and inode, checked again when
    the bytes are read: a file replaced since is not read as if it were the same)."""

    path: str
    offset: int
    size: int
    device: int
    inode: int


@attrs.frozen
class Chunk:
    """Lines cut from one input at a likely record start: its display name, the line it starts on, the bytes,
    and whether it is the input's last chunk.  ``failure`` is the message of an input that could not be opened
    or read on (its one error record, after the records read before it; a message, because exceptions with
    structured fields do not cross process boundaries).

    A chunk of a regular file is sent to a worker as where its bytes are (``span``, ``data`` empty) and read
    there (`loaded`): the process that cuts the input then never copies them into a pipe, and the worker reads
    them from the page cache instead of from that pipe (with 2 workers the cutting process used ≈8% of the CPU the
    workers did, about half of it moving the bytes).  Only stdin, a pipe, or a chunk holding a line shortened to
    the size limit carry their bytes."""

    name: str
    first_line: int
    data: bytes
    final: bool
    failure: str | None = None
    span: FileSpan | None = None

    def loaded(self) -> Chunk:
        """This chunk with its bytes, read from the file when it has a ``span``; a chunk whose file was replaced,
        shortened or cannot be read any more is its one error record (``failure``)."""
        span = self.span
        if span is None:
            return self
        try:
            with open(span.path, "rb") as stream:
                found = os.fstat(stream.fileno())
                if (found.st_dev, found.st_ino) != (span.device, span.inode):
                    raise OSError(0, "the file was replaced while it was read")
                stream.seek(span.offset)
                data = stream.read(span.size)
            if len(data) != span.size:
                raise OSError(0, "the file was shortened while it was read")
        except OSError as exc:
            return Chunk(self.name, self.first_line, b"", True, read_failure(self.name, exc))
        return Chunk(self.name, self.first_line, data, self.final, self.failure)

    def joined(self, following: Chunk) -> Chunk:
        """This chunk and the one after it (of the same input) as one."""
        first, then = self.span, following.span
        if first is not None and then is not None and first.offset + first.size == then.offset:
            return Chunk(self.name, self.first_line, b"", following.final, following.failure,
                         first._replace(size=first.size + then.size))
        head, tail = self.loaded(), following.loaded()
        if head.failure is not None:  # unreadable since it was cut: its error record ends the input
            return head
        return Chunk(self.name, self.first_line, head.data + tail.data, tail.final, tail.failure)


def read_failure(name: str, exc: BaseException) -> str:
    """The error message of an input that cannot be opened, or whose reading fails part-way."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return (f"{name}: reading failed ({reason}); the records before this one were read and decided: fix the "
            "input and run again on what is left")


def read_chunks(files: Iterable[str], *, size: int = CHUNK_BYTES, largest: int | None = None,
                max_bytes: int = MAX_RECORD_BYTES) -> Iterator[Chunk]:
    """Cut each input (``-``: stdin) into chunks of whole records, about ``size`` bytes each; with ``largest``, a
    regular file's grow up to that while more than sixteen such chunks of it are left (`_AHEAD`).  Growing is for
    worker processes (`largest_for`): each chunk costs the parent ~0.4 ms of CPU in the process pool's
    threads, taken from the workers on 2 cores; in one process it only holds more lines at once.

    A chunk ends only before a line that starts with ``{`` in column 0, where a JSON Lines record starts.  Such
    a line can also be inside a multi-line document (a truncated line opens one); a chunk cut there ends inside
    it, and `in_order` runs it again joined to the next, so the output is the whole input's.  A line longer than
    ``max_bytes`` is passed on shortened to just over the limit, so its error is the same and memory stays
    bounded.  An input that cannot be opened is one chunk with its ``failure``; one whose reading fails part-way
    ends with its complete lines read so far, then such a chunk (as `cli._inputs.input_records` reads them).
    Blocks are searched with bytes methods, not read line by line: the reading process must stay cheap for the
    workers to have the cores.  The chunks of a regular file are spans of it (`Chunk.loaded` reads them).
    """
    for name in files:
        display = "<stdin>" if name == "-" else name
        try:
            stream = cast(_Source, sys.stdin.buffer) if name == "-" else open(name, "rb")  # noqa: SIM115 (closed below)
        except OSError as exc:
            yield Chunk(display, 1, b"", True, read_failure(name, exc))
            continue
        try:
            yield from _cut(stream, display, size, largest or size, max_bytes, *_regular(name, stream))
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()


class _Source(Protocol):
    """What the cutting reads from: a binary file or stdin's buffer."""

    def read(self, size: int = -1, /) -> bytes: ...
    def readinto(self, buffer: memoryview, /) -> int | None: ...
    def tell(self) -> int: ...
    def fileno(self) -> int: ...
    def close(self) -> None: ...


def _regular(name: str, stream: _Source) -> tuple[FileSpan | None, int]:
    """A span of nothing in ``name`` and the file's size when it is a regular file (its chunks are sent as spans),
    else (None, 0)."""
    if stream is sys.stdin.buffer:
        return None, 0
    try:
        found = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return None, 0
    if not stat.S_ISREG(found.st_mode):
        return None, 0
    return FileSpan(os.path.abspath(name), 0, 0, found.st_dev, found.st_ino), found.st_size


#: A regular file's chunks grow while the rest of it is more than this many chunks of the size cut, and shrink back
#: to ``size`` near its end, so the workers finish together.
_AHEAD: Final = 16


def _cut(stream: _Source, name: str, size: int, largest: int, max_bytes: int, file: FileSpan | None,
         total: int) -> Iterator[Chunk]:
    # Read into one buffer, kept: a fresh 512 KiB bytes per read cost as much again in page faults, and the
    # bytes of a span are never copied at all (the cutting took 0.19 s of CPU per 157 MB before, 0.05 now).
    held = bytearray()
    view = memoryview(bytearray(max(size, 1)))
    first = 1
    # Where in ``held`` the bytes start to be the file's as they are (a line shortened to the limit is not): a
    # chunk cut before that point is sent with its bytes, after it as a span of the file.
    exact_from = 0
    want = size
    while True:
        try:
            count = stream.readinto(view) or 0
            if count:
                held += view[:count]
                shortened = _shorten_long_line(held, stream, max_bytes)
                if shortened is not held:  # the file's bytes again from the newline after the shortened line
                    exact_from = held.rfind(b"\n") + max_bytes + 2
                    held = shortened
        except (OSError, ValueError) as exc:  # ValueError: stdin closed under us ("I/O operation on closed file")
            whole = held.rfind(b"\n") + 1  # a line the failure cut short is not read (nor is it when read whole)
            if whole:
                yield Chunk(name, first, bytes(held[:whole]), True)
            yield Chunk(name, 1, b"", True, read_failure(name, exc))
            return
        if count and len(held) < want:
            continue
        cut = held.rfind(b"\n{") + 1 if count else len(held)
        if count and not cut:
            continue
        yield _part(name, first, held, cut, not count, file if exact_from == 0 else None, stream)
        if not count:
            return
        first += newlines(held, cut)
        del held[:cut]
        exact_from = max(0, exact_from - cut)
        if total:
            want = max(size, min(largest, (total - stream.tell() + len(held)) // _AHEAD))


#: `newlines` counts in pieces of this many bytes: its copies stay small enough for the allocator to reuse.
_COUNT_PIECE: Final = 64 << 10


def newlines(data: bytes | bytearray, end: int) -> int:
    """How many newlines ``data[:end]`` holds, counted by the length that removing them takes off.  Cutting
    counts every line of the input (each chunk's first line number), and ``count`` compares byte by byte (0.3-0.5
    ms a MiB, half the instructions of the process that cuts), where ``replace`` finds each newline with
    ``memchr`` (≈0.07 ms a MiB with its copies).  In pieces, so that each copy is small memory the allocator
    reuses: a whole chunk's copy is fresh pages every time (cutting 157 MB took 0.21 s that way, 68,000 page
    faults; 0.05 s in pieces, none)."""
    total = 0
    for start in range(0, end, _COUNT_PIECE):
        piece = data[start:min(start + _COUNT_PIECE, end)]
        total += len(piece) - len(piece.replace(b"\n", b""))
    return total


def _part(name: str, first: int, held: bytearray, cut: int, final: bool, file: FileSpan | None,
          stream: _Source) -> Chunk:
    """The chunk of ``held``'s first ``cut`` bytes (``held`` ends where ``stream`` is): a span of ``file`` when
    there is one (``held`` is then the file's bytes as they are), else a copy of the bytes."""
    if file is None or not cut:
        return Chunk(name, first, bytes(held[:cut]), final)
    start = stream.tell() - len(held)
    return Chunk(name, first, b"", final, span=file._replace(offset=start, size=cut))


def _shorten_long_line(held: bytearray, stream: _Source, max_bytes: int) -> bytearray:
    """``held`` with an unfinished last line longer than ``max_bytes`` cut to ``max_bytes + 1`` bytes and closed by
    the newline that ends it in the input (the rest of it is read and dropped)."""
    start = held.rfind(b"\n") + 1
    if len(held) - start <= max_bytes + 1:
        return held
    keep = held[: start + max_bytes + 1]
    rest = held[start + max_bytes + 1:]
    while True:
        end = rest.find(b"\n")
        if end != -1:
            return keep + rest[end:]
        rest = bytearray(stream.read(1 << 20))
        if not rest:
            return keep + b"\n"


class ChunkRecords:
    """The records of a chunk, numbered from 1, with line numbers and messages as in the whole input.  When the
    chunk is not its input's last and ends inside a multi-line document, iteration stops before the records the
    end of the chunk would make up, and ``ended_open`` is True: the chunk must be read again joined to the next
    (`in_order` does that with the result it is told ended open)."""

    def __init__(self, chunk: Chunk, *, max_bytes: int = MAX_RECORD_BYTES) -> None:
        self.chunk, self.max_bytes = chunk, max_bytes
        #: Set once iteration stopped because the chunk ended inside a document.
        self.ended_open = False

    def __iter__(self) -> Iterator[RawRecord]:
        """The records (see the class)."""
        chunk = self.chunk.loaded()
        number = 0
        if chunk.data:
            reader = RecordStream(io.BytesIO(chunk.data), name=chunk.name, start=1, max_bytes=self.max_bytes,
                                  first_line=chunk.first_line)
            for record in reader:
                # The stream knows it ended inside a document before it makes up the records of that ending.
                if reader.ended_open and not chunk.final:
                    self.ended_open = True
                    return
                number = record.number
                yield record
            if reader.ended_open and not chunk.final:  # defensive: an open document always gives a record
                self.ended_open = True
                return
        if chunk.failure is not None:
            yield RawRecord(number + 1, 0, None, PayloadError("$", chunk.failure))


def chunk_records(chunk: Chunk, *, max_bytes: int = MAX_RECORD_BYTES) -> Iterator[RawRecord]:
    """The chunk's records numbered from 1, with line numbers and messages as in the whole input (when the
    chunk ends between records, which `in_order` makes sure of)."""
    return iter(ChunkRecords(chunk, max_bytes=max_bytes))
