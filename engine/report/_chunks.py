"""Cutting inputs into chunks of lines for replay on many processes: each chunk starts where a JSON Lines record
starts, and its records carry the line numbers of the whole input.  Reading stays cheap (bytes searches, no
parsing) so the workers have the cores."""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterable, Iterator
from typing import IO, Final

import attrs

from .._errors import PayloadError
from ..adapters._stream import MAX_RECORD_BYTES, RawRecord, read_records

#: A chunk ends at the last record start in this many bytes.
CHUNK_BYTES: Final = 512 << 10


@attrs.frozen
class Chunk:
    """Lines cut from one input at a likely record start: its display name, the line it starts on, the bytes,
    and whether it is the input's last chunk."""

    name: str
    first_line: int
    data: bytes
    final: bool

    def joined(self, following: Chunk) -> Chunk:
        """This chunk and the one after it (of the same input) as one."""
        return Chunk(self.name, self.first_line, self.data + following.data, following.final)


def read_chunks(files: Iterable[str], *, size: int = CHUNK_BYTES,
                max_bytes: int = MAX_RECORD_BYTES) -> Iterator[Chunk]:
    """Cut each input (``-``: stdin) into chunks of whole records, about ``size`` bytes each.

    A chunk ends only before a line that starts with ``{`` in column 0, where a JSON Lines record starts.  Such
    a line can also be inside a multi-line document (a truncated line opens one); a chunk cut there ends inside
    it, and `replay_chunks` replays it again joined to the next, so the output is the whole input's.  A line
    longer than ``max_bytes`` is passed on shortened to just over the limit, so its error is the same and memory
    stays bounded.  Blocks are searched with bytes methods, not read line by line: the reading process must stay
    cheap for the workers to have the cores.
    """
    for name in files:
        stream: IO[bytes] = sys.stdin.buffer if name == "-" else open(name, "rb")  # noqa: SIM115 (closed below)
        display = "<stdin>" if name == "-" else name
        try:
            yield from _cut(stream, display, size, max_bytes)
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()


def _cut(stream: IO[bytes], name: str, size: int, max_bytes: int) -> Iterator[Chunk]:
    held = b""
    first = 1
    while True:
        block = stream.read(max(size, 1))
        if block:
            held += block
            held = _shorten_long_line(held, stream, max_bytes)
            if len(held) < size:
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


def shifted(records: Iterable[RawRecord], name: str, offset: int) -> Iterator[RawRecord]:
    """Records of a chunk with line numbers (in the records and their errors) as in the whole input."""
    if not offset:
        yield from records
        return
    for record in records:
        error = record.error
        if error is not None:
            error = _shift(error, name, offset)
        yield RawRecord(record.number, record.line + offset, record.value, error)


def _shift(error: PayloadError, name: str, offset: int) -> PayloadError:
    """The error `read_records` gives in the whole input, from the one it gave in the chunk: every line number
    it names after the input's name moves by ``offset``."""
    message = error.message
    head = len(name) if message.startswith(name) else 0  # the input's own name may hold digits: leave it alone
    rest = _LINE_NUMBERS.sub(lambda m: m.group(1) + str(int(m.group(2)) + offset)
                             + ("" if m.group(3) is None else f"-{int(m.group(3)) + offset}"), message[head:])
    return PayloadError(error.path, message[:head] + rest)


# "line 12", "(to line 14)", "line 14 does not continue it", "lines 12-14 are skipped": the stream's line numbers.
_LINE_NUMBERS: Final = re.compile(r"\b(lines? )(\d+)(?:-(\d+))?")


def chunk_records(chunk: Chunk, *, max_bytes: int = MAX_RECORD_BYTES) -> Iterator[RawRecord]:
    """The chunk's records numbered from 1, with line numbers and messages as in the whole input (when the
    chunk ends between records, which `replay_chunks` makes sure of)."""
    return shifted(read_records(io.BytesIO(chunk.data), name=chunk.name, start=1, max_bytes=max_bytes),
                    chunk.name, chunk.first_line - 1)
