"""Read JSON records from byte streams without ever holding more than one record in memory.

A stream may hold JSON Lines (one document per line), whole documents spread over several lines (pretty-printed
files), or a mix.  Records are framed by what they are, as a JSON parser reads them:

- a line that is a complete JSON value is a record (JSON Lines);
- a line that opens a value without finishing it starts a document, which takes the following lines for as long
  as they continue it validly (checked token by token) and ends where the value closes;
- a document that a line cannot continue, or that the input ends inside, is one error record.  When every line
  after its first stands on its own (is a complete value, or opens one) those lines are read again as records of
  their own, so a truncated JSON line costs only itself; otherwise the document was a broken multi-line one, and
  its lines are named in its error;
- every other line is an error record of its own.

Each record comes out with its number; nothing is skipped silently.  Limits: a record holds at most
`MAX_RECORD_BYTES` bytes by default (settable) and nests at most `MAX_NESTING` levels.

A JSON line is parsed by orjson (about 3.5 times faster than the standard library's parser, measured in
benchmarks/README.md).  Everything else — documents spread over lines, and the few lines orjson refuses or would
read differently (integers beyond 64 bits, which orjson turns into floats; lone surrogates; NaN; numbers that
overflow a double) — goes to the standard library's parser, which reads them as it always did and explains
what is wrong with a line that is not JSON (with the column).  So every value comes out as `json.loads` reads it.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterator
from itertools import accumulate
from typing import IO, Final, NamedTuple

import orjson

from .._errors import PayloadError, SettingError

#: The longest record read by default (1 MiB); a longer one becomes an error record and is skipped without being
#: held in memory.  ``read_records(max_bytes=...)`` and ``dlrpolicy evaluate --max-record-bytes`` change it.
MAX_RECORD_BYTES: Final = 1024 * 1024
#: The deepest nesting of arrays and objects a record may have.  Provider payloads nest about 6 levels; 1,000
#: levels would exhaust the parser's recursion.
MAX_NESTING: Final = 64

# One JSON token after optional whitespace: a string (which cannot span lines), a number, a literal, punctuation.
# Possessive repeats (++, *+): the alternatives never overlap, and without backtracking points a megabyte string
# costs no regex stack (it cost about 150 times its size).
_TOKEN: Final = re.compile(
    rb'[ \t\r\n]*+(?:("(?:[^"\\\x00-\x1f]++|\\.)*+")|(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)'
    rb"|(true|false|null)|([{}\[\]:,]))"
)
_SPACE: Final = re.compile(rb"[ \t\r\n]*")
_STRING: Final = re.compile(rb'"(?:[^"\\]++|\\.)*+"')
_BRACKETS: Final = bytes.maketrans(b"[{]}", b"(())")
_NOT_BRACKETS: Final = bytes(c for c in range(256) if c not in b"[]{}")
_BOM: Final = b"\xef\xbb\xbf"
# A line with 19 digits in a row may hold an integer outside 64 bits, which orjson reads as a float: such a line
# goes to the standard parser.  (Eighteen digits always fit; a digit run inside a string only costs that line
# the fast parser.)  One translation serves both checks of the fast path: digits become 9s (a long run is a run of
# 9s) and { becomes [ (the openers are then one byte to count).
_NINES: Final = bytes.maketrans(b"012345678{", b"999999999[")
_LONG_DIGITS: Final = b"9" * 19

# Validator states: what may come next.
_VALUE, _VALUE_OR_CLOSE, _KEY_OR_CLOSE, _KEY, _COLON, _COMMA_OR_CLOSE, _DONE = range(7)
_EXPECTED: Final = ("a value", "a value or ]", "a key or }", "a key", ":", ", or a closing bracket", "nothing more")


class RawRecord(NamedTuple):
    """One record as read: its number (1-based, counted across the run), the line it starts on, and either the
    decoded JSON value or the error that prevented decoding.  (A NamedTuple: one is made per input line.)"""

    number: int
    line: int
    value: object
    error: PayloadError | None


#: ``RawRecord(...)`` for the fast path: a NamedTuple's own ``__new__`` is a Python function around this call.
_new_record: Final = tuple.__new__


class _Prefix:
    """Checks, line by line, that the bytes fed so far are the beginning of one JSON value (as a parser reads
    them), tracking its nesting.  Only multi-line documents pay for this; JSON Lines go straight to the parser."""

    __slots__ = ("problem", "stack", "state")

    def __init__(self) -> None:
        self.stack: list[bytes] = []
        self.state = _VALUE
        self.problem = ""

    @property
    def complete(self) -> bool:
        """True when one whole value has been read."""
        return self.state == _DONE

    def _fail(self, problem: str) -> bool:
        self.problem = problem
        return False

    def feed(self, line: bytes) -> bool:
        """Take one more line; False (with `problem` set) when it cannot continue the value."""
        pos, end, stack = 0, len(line), self.stack
        while True:
            found = _TOKEN.match(line, pos)
            if found is None:
                rest = _SPACE.match(line, pos)
                at = rest.end() if rest is not None else pos
                return at == end or self._fail(f"unexpected {line[at:at + 1]!r} at column {at + 1}")
            string, _number, _literal, punct = found.groups()
            column, pos, state = found.start(found.lastindex or 0) + 1, found.end(), self.state
            if punct is None:
                if string is not None and state in (_KEY_OR_CLOSE, _KEY):
                    self.state = _COLON
                elif state in (_VALUE, _VALUE_OR_CLOSE):
                    self.state = _COMMA_OR_CLOSE if stack else _DONE
                else:
                    return self._fail(f"expected {_EXPECTED[state]} at column {column}")
            elif punct in b"[{":
                if state not in (_VALUE, _VALUE_OR_CLOSE):
                    return self._fail(f"expected {_EXPECTED[state]} at column {column}")
                stack.append(punct)
                if len(stack) > MAX_NESTING:
                    return self._fail(_NESTING)
                self.state = _VALUE_OR_CLOSE if punct == b"[" else _KEY_OR_CLOSE
            elif punct in b"]}":
                opener = b"[" if punct == b"]" else b"{"
                allowed = (_VALUE_OR_CLOSE if punct == b"]" else _KEY_OR_CLOSE, _COMMA_OR_CLOSE)
                if not stack or stack[-1] != opener or state not in allowed:
                    return self._fail(f"unexpected {punct.decode()} at column {column}")
                stack.pop()
                self.state = _COMMA_OR_CLOSE if stack else _DONE
            elif punct == b":":
                if state != _COLON:
                    return self._fail(f"expected {_EXPECTED[state]} at column {column}")
                self.state = _VALUE
            else:  # ","
                if state != _COMMA_OR_CLOSE:
                    return self._fail(f"expected {_EXPECTED[state]} at column {column}")
                self.state = _VALUE if stack[-1] == b"[" else _KEY


_NESTING: Final = f"nested deeper than {MAX_NESTING} levels: a provider payload never nests this deep"


def _depth(line: bytes) -> int:
    """The deepest nesting of ``line`` (strings removed first, so brackets inside them do not count)."""
    parens = _STRING.sub(b"", line).translate(_BRACKETS, _NOT_BRACKETS)
    return max(accumulate(1 if c == 40 else -1 for c in parens), default=0)


def _stands_alone(line: bytes) -> bool:
    """True when ``line`` is a complete JSON value or opens one (as the validator reads it, whether or not it
    decodes): what a JSON Lines record can look like, as opposed to the inside of a pretty-printed document."""
    prefix = _Prefix()
    return prefix.feed(line) and (prefix.complete or bool(prefix.stack))


# (line, value, error): a record before it is numbered.
_Framed = tuple[int, object, "PayloadError | None"]


class _Document:
    """An open multi-line document: its lines while under the size limit, and the validator that frames it."""

    __slots__ = ("first", "last", "lines", "prefix", "replayable", "size")

    def __init__(self, line_no: int, line: bytes, prefix: _Prefix) -> None:
        self.first = self.last = line_no
        self.lines: list[tuple[int, bytes | None]] | None = [(line_no, line)]
        self.size = len(line)
        self.prefix = prefix
        self.replayable = True  # every line after the first stands alone (so far)

    def feed(self, line_no: int, line: bytes, max_bytes: int) -> bool:
        """Take one more line; False when it cannot continue the document."""
        if not self.prefix.feed(line):
            return False
        self.last = line_no
        self.size += len(line)
        if self.lines is not None:
            if self.size > max_bytes:
                self.lines = None  # over the limit: keep validating to find its end, but hold nothing
                self.replayable = False
            else:
                self.lines.append((line_no, line))
                if self.replayable and line.strip() and not _stands_alone(line):
                    self.replayable = False
        return True

    def record(self, name: str, max_bytes: int) -> _Framed:
        """The finished document as a record (an error one when it was over the limit or does not decode)."""
        where = f"{name} line {self.first}"
        if self.lines is None:
            return self.first, None, _too_long(f"{where} (to line {self.last})", max_bytes)
        text = b"".join(line for _, line in self.lines if line is not None)
        try:
            return self.first, json.loads(text), None
        except (ValueError, RecursionError) as exc:
            return self.first, None, _decode_error(exc, where)

    def broken(self, name: str, line_no: int | None, max_bytes: int) -> _Framed:
        """The error record for a document that line ``line_no`` (None: the end of the input) cannot continue."""
        where = f"{name} line {self.first}"
        if self.lines is None:
            return self.first, None, _too_long(f"{where} (to line {self.last})", max_bytes)
        cause = "the input ended before it was complete" if line_no is None else \
            f"line {line_no} does not continue it ({self.prefix.problem or 'it is over the length limit'})"
        if self.replayable:
            after = " (the lines after its first are read as records of their own)" if self.last > self.first else ""
        else:
            after = f" (lines {self.first}-{self.last} are skipped with it)"
        return self.first, None, PayloadError(
            "$", f"{where}: truncated or invalid JSON document: {cause}{after}: write one complete JSON document "
                 "per line (JSON Lines) or per file")

    def replay(self) -> list[tuple[int, bytes | None]]:
        """The lines to read again as records once the document broke: those after its first, when they stand
        alone; none otherwise (they are named in the error)."""
        return self.lines[1:] if self.replayable and self.lines is not None else []


def _decode_error(exc: Exception, where: str) -> PayloadError:
    if isinstance(exc, UnicodeDecodeError):
        return PayloadError("$", f"{where}: not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset "
                                 f"{exc.start}): re-encode the input as UTF-8")
    if isinstance(exc, json.JSONDecodeError):
        return PayloadError("$", f"{where}: invalid JSON: {exc.msg} at column {exc.colno}: "
                                 "write one complete JSON document per line (JSON Lines) or per file")
    if isinstance(exc, RecursionError):
        return PayloadError("$", f"{where}: {_NESTING}")
    return PayloadError("$", f"{where}: invalid JSON: {exc}")


def _too_long(where: str, limit: int) -> PayloadError:
    return PayloadError("$", f"{where}: the record is longer than the limit of {limit} bytes and was skipped: "
                             "split it into smaller records (one report per line), or raise the limit with "
                             "--max-record-bytes (read_records(max_bytes=...))")


class _Framer:
    """The slow path of `read_records`: lines that are not a complete JSON value on their own (documents, blank
    lines, errors) and the lines read again after a document broke.  Returns framed records, not yet numbered."""

    __slots__ = ("doc", "max_bytes", "name")

    def __init__(self, name: str, max_bytes: int) -> None:
        self.name = name
        self.max_bytes = max_bytes
        self.doc: _Document | None = None

    def take(self, line_no: int, line: bytes | None) -> list[_Framed]:
        """The records that ``line`` (None: a line over the limit) completes."""
        out: list[_Framed] = []
        again: deque[tuple[int, bytes | None]] = deque([(line_no, line)])
        while again:
            line_no, line = again.popleft()
            doc = self.doc
            if doc is not None:
                if line is not None and doc.feed(line_no, line, self.max_bytes):
                    if doc.prefix.complete:
                        out.append(doc.record(self.name, self.max_bytes))
                        self.doc = None
                    continue
                out.append(doc.broken(self.name, line_no, self.max_bytes))
                again.extendleft(reversed([*doc.replay(), (line_no, line)]))
                self.doc = None
                continue
            framed = self._fresh(line_no, line)
            if framed is not None:
                out.append(framed)
        return out

    def finish(self) -> list[_Framed]:
        """The records the end of the input completes (an open document is truncated)."""
        doc = self.doc
        if doc is None:
            return []
        self.doc = None
        out = [doc.broken(self.name, None, self.max_bytes)]
        for line_no, line in doc.replay():
            out.extend(self.take(line_no, line))
        return out + self.finish()

    def _fresh(self, line_no: int, line: bytes | None) -> _Framed | None:
        where = f"{self.name} line {line_no}"
        if line is None:
            return line_no, None, _too_long(where, self.max_bytes)
        error: Exception
        if line.translate(_NINES).count(b"[") > MAX_NESTING and _depth(line) > MAX_NESTING:
            return line_no, None, _decode_error(RecursionError(), where)
        try:
            return line_no, json.loads(line), None
        except RecursionError as exc:
            error = exc
        except ValueError as exc:
            if not line.strip():
                return None  # blank lines separate records; they are not records
            prefix = _Prefix()
            if prefix.feed(line) and not prefix.complete:
                self.doc = _Document(line_no, line, prefix)
                return None
            error = RecursionError() if prefix.problem == _NESTING else exc
        return line_no, None, _decode_error(error, where)


def read_records(stream: IO[bytes], *, name: str = "<stdin>", start: int = 1,
                 max_bytes: int = MAX_RECORD_BYTES) -> Iterator[RawRecord]:
    """Yield the records of ``stream`` numbered from ``start`` (see the module docstring for the framing).

    A line over ``max_bytes`` is read past in bounded chunks and never held whole."""
    if type(max_bytes) is not int or not 1 <= max_bytes <= _MAX_LIMIT:
        raise SettingError("max_bytes", max_bytes, f"a whole number of bytes from 1 to {_MAX_LIMIT:,} "
                                                   f"(default {MAX_RECORD_BYTES:,})")
    return iter(RecordStream(stream, name=name, start=start, max_bytes=max_bytes))


#: The largest record size a reader accepts (a record is held in memory whole).
_MAX_LIMIT: Final = 1 << 30


class RecordStream:
    """`read_records` as an object that also says, once read, whether the input ended inside a multi-line
    document (``ended_open``).  A reader that cuts one input into parts (``dlrpolicy replay`` on many processes)
    uses it to know that a part did not end between records, and reads it again joined to the next part."""

    def __init__(self, stream: IO[bytes], *, name: str = "<stdin>", start: int = 1,
                 max_bytes: int = MAX_RECORD_BYTES, first_line: int = 1) -> None:
        self.stream, self.name, self.start, self.max_bytes = stream, name, start, max_bytes
        #: The line number of the stream's first line (a part of a longer input starts further on): records and
        #: their errors carry the input's line numbers.
        self.first_line = first_line
        #: True when the input ended while a document was still open (set when iteration reaches the end).
        self.ended_open = False

    def __iter__(self) -> Iterator[RawRecord]:
        """The records, numbered from ``start``."""
        stream, name, max_bytes = self.stream, self.name, self.max_bytes
        number = self.start
        framer = _Framer(name, max_bytes)
        readline = stream.readline
        loads = orjson.loads
        limit = max_bytes + 1
        line_no = self.first_line - 1
        while True:
            line: bytes | None = readline(limit)
            if not line:
                break
            line_no += 1
            if line_no == 1 and line.startswith(_BOM):
                line = line[3:]  # a UTF-8 byte order mark at the start of a file is not part of the first record
            if len(line) > max_bytes and not line.endswith(b"\n"):
                while line and not line.endswith(b"\n"):
                    line = readline(limit)
                line = None
            elif framer.doc is None and len(marked := line.translate(_NINES)) - len(marked.replace(b"[", b"")) \
                    <= MAX_NESTING and _LONG_DIGITS not in marked:
                # Fast path: a JSON line goes to orjson; shallow by its bracket count, 64-bit by its digit runs.
                # (The openers counted as the length they remove: replace finds them with memchr, where count
                # compares byte by byte, about 2,600 instructions per benchmark line more.)
                # What orjson refuses goes to the framer, which reads it with the standard parser.
                try:
                    value = loads(line)
                except ValueError:
                    pass
                else:
                    yield _new_record(RawRecord, (number, line_no, value, None))
                    number += 1
                    continue
            for first, value, error in framer.take(line_no, line):
                yield RawRecord(number, first, value, error)
                number += 1
        self.ended_open = framer.doc is not None
        for first, value, error in framer.finish():
            yield RawRecord(number, first, value, error)
            number += 1
