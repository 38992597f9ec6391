"""Chunks run on many processes (``dlrpolicy evaluate --workers`` and ``replay --workers``) and their outputs put
back in input order: `run_chunks` runs them, `in_order` hands out the results in input order (running a chunk
that ended inside a document again, joined to the next), `NumberedText` carries a chunk's lines without the
run-wide record numbers the parent fills in, and `Turns` lets whichever process holds a chunk's output write it
when its turn comes.  With ``fork`` the workers inherit what the parent warmed (compiled policies), kept out of
their garbage collector so the pages stay shared."""

from __future__ import annotations

import concurrent.futures
import gc
import itertools
import multiprocessing
import multiprocessing.context
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Final, NamedTuple, Protocol, TypeVar

import attrs

from ._chunks import Chunk


class NumberedText:
    """Output lines of a chunk with their record numbers left out: the parent knows only once the chunks before
    are done how many records they held, so it fills in the numbers (`spliced`).  Each line is ``head``, the
    record number, ``tail``; carried between processes as bytes and integers.

    Each part is encoded as it is added, while the interpreter still has it in cache: a chunk's output (≈3 MB for
    2 MiB of input) joined and encoded at the end went through memory twice more, cold, and made deciding a chunk
    ≈8% slower than deciding the same lines in one stream (benchmarks/README.md, Pipeline)."""

    __slots__ = ("_parts", "data", "holes", "numbers")

    def __init__(self) -> None:
        #: head, tail, head, tail, ... as UTF-8 (a lone surrogate, from a JSON escape in a report, as that escape).
        self._parts: list[bytes] = []
        #: The chunk-local record number of each line, and (once `finish` ran) the byte offset its number goes at.
        self.numbers: list[int] = []
        self.holes: list[int] = []
        self.data = b""

    def add_line(self, head: str, number: int, tail: str) -> None:
        """One line: ``head``, the record number, ``tail`` and a newline; what every chunk runner gives its lines
        to (``decide_records``' ``lines=``, replay, the decision log), one call a line."""
        parts = self._parts
        parts.append(head.encode("utf-8", "backslashreplace"))
        self.numbers.append(number)
        encoded = _LINE_TAILS.get(tail)
        parts.append(encoded if encoded is not None else f"{tail}\n".encode("utf-8", "backslashreplace"))

    def render(self, offset: int) -> bytes:
        """Before `finish`: the lines with each one's number, ``offset`` + its chunk-local number, put in, without
        the copies that finishing and splicing make."""
        parts = self._parts  # head, tail, head, tail, ...
        pieces: list[bytes] = [b""] * (len(parts) + len(self.numbers))
        pieces[0::3] = parts[0::2]
        pieces[1::3] = [b"%d" % (offset + number) for number in self.numbers]
        pieces[2::3] = parts[1::2]
        return b"".join(pieces)

    def finish(self) -> NumberedText:
        """Join the lines without their numbers (``data``) and note where each number goes (``holes``, after each
        head); returns self."""
        parts = self._parts
        self._parts = []
        self.holes = list(itertools.accumulate(map(len, parts)))[0::2]
        self.data = b"".join(parts)
        return self

    def __getstate__(self) -> tuple[bytes, list[int], list[int]]:
        return self.data, self.holes, self.numbers

    def __setstate__(self, state: tuple[bytes, list[int], list[int]]) -> None:
        self._parts = []
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


#: The tail most lines end with (a decision line's ``}``), encoded with its newline once.
_LINE_TAILS: Final = {"}": b"}\n"}


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
