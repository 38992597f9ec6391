"""Read JSON records from byte streams without ever holding more than one record in memory.

A stream may hold JSON Lines (one document per line), whole documents spread over several lines (pretty-printed
files), or a mix.  Each record comes out with its number; a record that cannot be read comes out as a
`PayloadError` instead of a value, and reading goes on with the next line.  Nothing is skipped silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import IO, Final, NamedTuple

from .._errors import PayloadError

#: The longest record read; a longer one becomes an error record and is skipped without being held in memory.
MAX_RECORD_BYTES: Final = 16 * 1024 * 1024

# Strings first, so that brackets inside them are not counted.  JSON strings cannot span lines (a raw newline
# inside a string is invalid), so counting line by line is exact for valid input.
_TOKENS: Final = re.compile(rb'"(?:[^"\\\n]|\\.)*"|[\[\]{}]')
_OPEN: Final = frozenset({ord("{"), ord("[")})


class RawRecord(NamedTuple):
    """One record as read: its number (1-based, counted across the run), the line it starts on, and either the
    decoded JSON value or the error that prevented decoding.  (A NamedTuple: one is made per input line.)"""

    number: int
    line: int
    value: object
    error: PayloadError | None


def _depth(chunk: bytes) -> int:
    depth = 0
    for match in _TOKENS.finditer(chunk):
        token = match.group()
        if len(token) == 1:
            depth += 1 if token[0] in _OPEN else -1
    return depth


def _decode_error(exc: ValueError, where: str) -> PayloadError:
    if isinstance(exc, UnicodeDecodeError):
        return PayloadError("$", f"{where}: not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset "
                                 f"{exc.start}): re-encode the input as UTF-8")
    if isinstance(exc, json.JSONDecodeError):
        return PayloadError("$", f"{where}: invalid JSON: {exc.msg} at column {exc.colno}: "
                                 "write one complete JSON document per line (JSON Lines) or per file")
    return PayloadError("$", f"{where}: invalid JSON: {exc}")


def _too_long(where: str, limit: int) -> PayloadError:
    return PayloadError("$", f"{where}: the record is longer than {limit} bytes and was skipped: "
                             "split it into smaller records (one report per line)")


def read_records(stream: IO[bytes], *, name: str = "<stdin>", start: int = 1,
                 max_bytes: int = MAX_RECORD_BYTES) -> Iterator[RawRecord]:
    """Yield the records of ``stream`` numbered from ``start``.

    A line that is not complete JSON but opens more brackets than it closes starts a multi-line document, which
    extends until its brackets balance; a line starting with ``{`` at column 0 inside such a document means the
    document was truncated (JSON Lines never indent a record), so it is reported and that line starts afresh.
    """
    number = start
    line_no = 0
    pending: list[bytes] = []
    pending_line = 0
    pending_size = 0
    depth = 0
    readline = stream.readline
    loads = json.loads
    limit = max_bytes + 1
    while True:
        line = readline(limit)
        if not line:
            break
        line_no += 1
        if len(line) > max_bytes and not line.endswith(b"\n"):
            # Over the limit: drain the rest of the line in bounded chunks.
            while line and not line.endswith(b"\n"):
                line = readline(limit)
            first = pending_line if pending else line_no
            pending, pending_size, depth = [], 0, 0
            yield RawRecord(number, first, None, _too_long(f"{name} line {first}", max_bytes))
            number += 1
            continue
        if pending:
            if line[:1] == b"{":
                where = f"{name} line {pending_line}"
                yield RawRecord(number, pending_line, None, PayloadError(
                    "$", f"{where}: truncated JSON document (it never closes; a new record starts on line {line_no})"))
                number += 1
                pending, pending_size, depth = [], 0, 0
            else:
                pending.append(line)
                pending_size += len(line)
                depth += _depth(line)
                if pending_size > max_bytes:
                    yield RawRecord(number, pending_line, None, _too_long(f"{name} line {pending_line}", max_bytes))
                    number += 1
                    pending, pending_size, depth = [], 0, 0
                elif depth <= 0:
                    text = b"".join(pending)
                    pending = []
                    try:
                        value = loads(text)
                    except ValueError as exc:
                        yield RawRecord(number, pending_line, None, _decode_error(exc, f"{name} line {pending_line}"))
                    else:
                        yield RawRecord(number, pending_line, value, None)
                    number += 1
                continue
        try:
            value = loads(line)
        except ValueError as exc:
            if not line.strip():
                continue  # blank lines separate records; they are not records
            opened = _depth(line) if isinstance(exc, json.JSONDecodeError) else 0
            if opened > 0:
                pending, pending_line, pending_size, depth = [line], line_no, len(line), opened
                continue
            yield RawRecord(number, line_no, None, _decode_error(exc, f"{name} line {line_no}"))
        else:
            yield RawRecord(number, line_no, value, None)
        number += 1
    if pending:
        yield RawRecord(number, pending_line, None, PayloadError(
            "$", f"{name} line {pending_line}: truncated JSON document: the input ended before it was complete"))
