"""Inputs cut into chunks of lines for many processes (``dlrpolicy evaluate --workers`` and ``replay --workers``),
and the chunks' results put back in input order.

Each chunk starts where a JSON Lines record starts and its records carry the line numbers of the whole input.
A chunk cut inside a multi-line document (a line in column 0 that opens one) is noticed when its records are
read (`ChunkRecords.ended_open`); `in_order` then runs it again joined to the next chunk, so the records are
exactly those of reading the input whole (`read_records`).  Record numbers are counted per chunk; a chunk's
output leaves them out (`NumberedText`) and the parent fills in the run-wide numbers.  Reading stays cheap (bytes
searches, no parsing) so the workers have the cores; with ``fork`` the workers inherit what the parent warmed
(compiled policies), kept out of their garbage collector so the pages stay shared."""

from __future__ import annotations

import concurrent.futures
import gc
import io
import itertools
import multiprocessing
import multiprocessing.context
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Final, NamedTuple, Protocol, TypeVar

import attrs

from .._errors import PayloadError
from ._stream import MAX_RECORD_BYTES, RawRecord, RecordStream

#: A chunk ends at the last record start in this many bytes.
CHUNK_BYTES: Final = 512 << 10


@attrs.frozen
class Chunk:
    """Lines cut from one input at a likely record start: its display name, the line it starts on, the bytes,
    and whether it is the input's last chunk.  ``failure`` is the message of an input that could not be opened
    or read on (its one error record, after the records read before it; a message, because exceptions with
    structured fields do not cross process boundaries)."""

    name: str
    first_line: int
    data: bytes
    final: bool
    failure: str | None = None

    def joined(self, following: Chunk) -> Chunk:
        """This chunk and the one after it (of the same input) as one."""
        return Chunk(self.name, self.first_line, self.data + following.data, following.final, following.failure)


def read_failure(name: str, exc: BaseException) -> str:
    """The error message of an input that cannot be opened, or whose reading fails part-way."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return (f"{name}: reading failed ({reason}); the records before this one were read and decided: fix the "
            "input and run again on what is left")


def read_chunks(files: Iterable[str], *, size: int = CHUNK_BYTES,
                max_bytes: int = MAX_RECORD_BYTES) -> Iterator[Chunk]:
    """Cut each input (``-``: stdin) into chunks of whole records, about ``size`` bytes each.

    A chunk ends only before a line that starts with ``{`` in column 0, where a JSON Lines record starts.  Such
    a line can also be inside a multi-line document (a truncated line opens one); a chunk cut there ends inside
    it, and `in_order` runs it again joined to the next, so the output is the whole input's.  A line longer than
    ``max_bytes`` is passed on shortened to just over the limit, so its error is the same and memory stays
    bounded.  An input that cannot be opened is one chunk with its ``failure``; one whose reading fails part-way
    ends with its complete lines read so far, then such a chunk (as `cli._inputs.input_records` reads them).
    Blocks are searched with bytes methods, not read line by line: the reading process must stay cheap for the
    workers to have the cores.
    """
    for name in files:
        display = "<stdin>" if name == "-" else name
        try:
            stream: IO[bytes] = sys.stdin.buffer if name == "-" else open(name, "rb")  # noqa: SIM115 (closed below)
        except OSError as exc:
            yield Chunk(display, 1, b"", True, read_failure(name, exc))
            continue
        try:
            yield from _cut(stream, display, size, max_bytes)
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()


def _cut(stream: IO[bytes], name: str, size: int, max_bytes: int) -> Iterator[Chunk]:
    held = b""
    first = 1
    while True:
        try:
            block = stream.read(max(size, 1))
            if block:
                held = _shorten_long_line(held + block, stream, max_bytes)
        except (OSError, ValueError) as exc:  # ValueError: stdin closed under us ("I/O operation on closed file")
            whole = held.rfind(b"\n") + 1  # a line the failure cut short is not read (nor is it when read whole)
            if whole:
                yield Chunk(name, first, held[:whole], True)
            yield Chunk(name, 1, b"", True, read_failure(name, exc))
            return
        if block and len(held) < size:
            continue
        cut = held.rfind(b"\n{") + 1 if block else 0
        if cut > 0:
            part, held = held[:cut], held[cut:]
            yield Chunk(name, first, part, False)
            first += part.count(b"\n")
        elif not block:
            yield Chunk(name, first, held, True)
            return


def _shorten_long_line(held: bytes, stream: IO[bytes], max_bytes: int) -> bytes:
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
        rest = stream.read(1 << 20)
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
        chunk = self.chunk
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


class NumberedText:
    """Output lines of a chunk with their record numbers left out: the parent knows only once the chunks before
    are done how many records they held, so it fills in the numbers (`spliced`).  Each line is ``head``, the
    record number, ``tail``; built as text, carried between processes as bytes and integers."""

    __slots__ = ("_parts", "_size", "data", "holes", "numbers")

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._size = 0
        #: The chunk-local record number of each line, and where in the text it goes (offsets in characters
        #: while building, in bytes once `finish` encoded the text).
        self.numbers: list[int] = []
        self.holes: list[int] = []
        self.data = b""

    def add(self, head: str, number: int, tail: str) -> None:
        """One line: ``head``, the record number, ``tail`` (which ends the line)."""
        self._parts.append(head)
        self._size += len(head)
        self.holes.append(self._size)
        self.numbers.append(number)
        self._parts.append(tail)
        self._size += len(tail)

    def render(self, offset: int) -> bytes:
        """Before `finish`: the text with each line's number, ``offset`` + its chunk-local number, put in
        (encoded as `finish` encodes), without the copies that finishing and splicing make."""
        parts = self._parts  # head, tail, head, tail, ...
        pieces: list[str] = [""] * (len(parts) + len(self.numbers))
        pieces[0::3] = parts[0::2]
        pieces[1::3] = [str(offset + number) for number in self.numbers]
        pieces[2::3] = parts[1::2]
        return "".join(pieces).encode("utf-8", "backslashreplace")

    def finish(self) -> NumberedText:
        """Encode the text as UTF-8 (hole offsets become byte offsets); returns self.  The lines are JSON: a lone
        surrogate (from a JSON escape in a report) has no UTF-8 form and is written as that escape again."""
        text = "".join(self._parts)
        self._parts = []
        self.data = text.encode("utf-8", "backslashreplace")
        if len(self.data) != len(text):  # not ASCII: count the bytes before each hole
            offsets, start, done = [], 0, 0
            for hole in self.holes:
                done += len(text[start:hole].encode("utf-8", "backslashreplace"))
                offsets.append(done)
                start = hole
            self.holes = offsets
        return self

    def __getstate__(self) -> tuple[bytes, list[int], list[int]]:
        return self.data, self.holes, self.numbers

    def __setstate__(self, state: tuple[bytes, list[int], list[int]]) -> None:
        self._parts, self._size = [], 0
        self.data, self.holes, self.numbers = state

    def spliced(self, offset: int) -> bytes:
        """The finished text with each line's number, ``offset`` + its chunk-local number, filled in."""
        view = memoryview(self.data)
        pieces: list[bytes | memoryview] = []
        start = 0
        for hole, number in zip(self.holes, self.numbers, strict=True):
            pieces.append(view[start:hole])
            pieces.append(b"%d" % (offset + number))
            start = hole
        pieces.append(view[start:])
        return b"".join(pieces)


class ChunkOutput(Protocol):
    """What running a chunk gives back: at least whether the chunk ended inside a document."""

    @property
    def ended_open(self) -> bool:
        """True when the chunk must be run again joined to the next one (its result is dropped)."""


R = TypeVar("R", bound=ChunkOutput)
A = TypeVar("A")


class Job(NamedTuple):
    """A chunk to run, with its place in the output: the chunks are numbered in input order (``seq``), and a
    chunk joined to the ones after it covers their numbers too (up to ``end``, exclusive)."""

    chunk: Chunk
    seq: int
    end: int


def in_order(chunks: Iterator[Chunk], submit: Callable[[Job], Callable[[], R]], ahead: int) -> Iterator[R]:
    """The results of ``chunks`` in input order, up to ``ahead`` submitted at once.  A chunk that ended inside a
    document is submitted again joined to the next chunk (whose own result, read from the middle of that
    document, is dropped) until the joined chunk ends between records."""
    pending: deque[tuple[Job, Callable[[], R]]] = deque()
    numbers = itertools.count()

    def fill() -> None:
        while len(pending) < ahead:
            chunk = next(chunks, None)
            if chunk is None:
                return
            seq = next(numbers)
            job = Job(chunk, seq, seq + 1)
            pending.append((job, submit(job)))

    fill()
    while pending:
        job, result_of = pending.popleft()
        result = result_of()
        while result.ended_open:
            fill()
            # A chunk that is not final always has a next one; were it missing, the chunk is read as final.
            if pending:
                following = pending.popleft()[0]
                job = Job(job.chunk.joined(following.chunk), job.seq, following.end)
            else:
                job = job._replace(chunk=attrs.evolve(job.chunk, final=True))
            result = submit(job)()
        yield result
        fill()


class Turns:
    """Chunk outputs written in input order by whichever process holds them when their turn comes: a worker
    that finishes its chunk once the chunks before it are written writes its own lines (they never travel to the
    parent); otherwise the parent writes them when it gets the result.  A lock and two counters in shared
    memory, made before the workers fork (they inherit it)."""

    def __init__(self, context: multiprocessing.context.BaseContext) -> None:
        self._lock = context.Lock()
        # [the seq of the chunk whose output goes next, the records written so far]
        self._state = context.RawArray("q", 2)

    @property
    def written(self) -> int:
        """The records whose lines were written so far."""
        return int(self._state[1])

    def take(self, seq: int, end: int, write: Callable[[int], int]) -> bool:
        """If the output of the job numbered ``seq`` goes next, ``write(records written so far)`` (which returns
        how many records it wrote) and pass the turn to ``end``; False when the chunks before it are not all
        written yet."""
        with self._lock:
            state = self._state
            if state[0] != seq:
                return False
            state[1] += write(state[1])
            state[0] = end
            return True


def write_all(fd: int, data: bytes) -> None:
    """All of ``data`` to the file descriptor ``fd`` (a pipe may take it in parts)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def pool_context() -> multiprocessing.context.BaseContext:
    """How worker processes start: fork where the system has it (the workers inherit the parent's compiled
    policies, and `Turns`), else spawn (each worker compiles its own; outputs all go through the parent)."""
    return multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")


def run_chunks(chunks: Iterable[Chunk], run: Callable[[Job], R], *, workers: int,
               initializer: Callable[[A], object], initarg: A) -> Iterator[R]:
    """``run`` over ``chunks`` on ``workers`` processes (1: in this one), the results in input order.

    ``run`` and ``initializer`` must be module-level functions (they are sent to the workers by name).  Whatever
    the caller set up before (a warm per-process object the functions use) is inherited by forked workers;
    ``initializer(initarg)`` runs in each worker first (where fork is missing, it sets that object up)."""
    if workers < 1:
        raise ValueError("workers must be >= 1")
    if workers == 1:
        yield from in_order(iter(chunks), lambda job: lambda: run(job), 1)
        return
    context = pool_context()
    # The pool forks its workers at the first submit: until it is shut down, the inherited objects stay frozen,
    # so the workers' garbage collector leaves their pages shared.
    gc.freeze()
    try:
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context, initializer=initializer,
                                                    initargs=(initarg,)) as pool:
            # A bounded number of chunks in flight keeps memory flat and every worker busy.
            yield from in_order(iter(chunks), lambda job: pool.submit(run, job).result, 3 * workers)
    finally:
        gc.unfreeze()
