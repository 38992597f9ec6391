"""Where ``dlrpolicy evaluate`` reads from: the input files (or stdin), checked before the run, and their records,
with a read that fails part-way becoming one error record (the records before it are kept) instead of a
traceback.  Also ``--max-record-bytes``, the record size limit."""

from __future__ import annotations

import argparse
import os
import stat
import sys
from collections.abc import Iterator
from typing import IO, Final

from .._errors import PayloadError
from ..adapters._chunks import read_failure
from ..adapters._stream import MAX_RECORD_BYTES, RawRecord, read_records
from ._common import UsageError

#: The range ``--max-record-bytes`` accepts: 1 KiB to 1 GiB.
RECORD_BYTES_RANGE: Final = (1024, 1024**3)


def record_bytes(text: str) -> int:
    """``--max-record-bytes``: a whole number of bytes within `RECORD_BYTES_RANGE`."""
    low, high = RECORD_BYTES_RANGE
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"--max-record-bytes {text[:40]!r}: give a whole number of bytes from "
                                         f"{low} to {high} (default {MAX_RECORD_BYTES})")
    return value


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """``--max-record-bytes N``."""
    parser.add_argument("--max-record-bytes", type=record_bytes, default=MAX_RECORD_BYTES, metavar="N",
                        help=f"longest record read, in bytes (default {MAX_RECORD_BYTES}, 1 MiB); a longer one is "
                        "an error record")


def check_inputs(files: list[str]) -> list[str]:
    """The inputs to read (``-`` is stdin, the default); a `UsageError` (exit 2) for a missing file, a
    directory, or a closed stdin, before anything is read."""
    files = files or ["-"]
    problems = []
    for name in files:
        if name == "-":
            if sys.stdin is None or sys.stdin.closed:
                problems.append("stdin is closed: pass input files, or pipe the records in")
            continue
        try:
            mode = os.stat(name).st_mode
        except OSError as exc:
            problems.append(f"cannot read {name}: {exc.strerror or exc} (use - for stdin)")
            continue
        if stat.S_ISDIR(mode):
            problems.append(f"cannot read {name}: it is a directory (name the files in it)")
    if problems:
        raise UsageError("; ".join(problems))
    return files


def _failed(number: int, name: str, exc: BaseException) -> RawRecord:
    return RawRecord(number, 0, None, PayloadError("$", read_failure(name, exc)))


def _read(stream: IO[bytes], name: str, start: int, max_bytes: int) -> Iterator[RawRecord]:
    records = read_records(stream, name=name, start=start, max_bytes=max_bytes)
    number = start
    while True:
        try:
            record = next(records)
        except StopIteration:
            return
        except (OSError, ValueError) as exc:  # ValueError: stdin closed under us ("I/O operation on closed file")
            yield _failed(number, name, exc)
            return
        number = record.number + 1
        yield record


def input_records(files: list[str], *, max_bytes: int = MAX_RECORD_BYTES) -> Iterator[RawRecord]:
    """The records of each input in turn, numbered across all of them.  An input that cannot be opened, or
    whose reading fails part-way, gives one error record and the run goes on with the next input."""
    number = 1
    for name in files:
        if name == "-":
            stdin = sys.stdin
            for record in _read(stdin.buffer, "<stdin>", number, max_bytes):
                number = record.number + 1
                yield record
            continue
        try:
            stream = open(name, "rb")  # noqa: SIM115 - closed by the with below; opening errors are told apart
        except OSError as exc:
            record = _failed(number, name, exc)
            number += 1
            yield record
            continue
        with stream:
            for record in _read(stream, name, number, max_bytes):
                number = record.number + 1
                yield record
