"""Streaming reader: JSON Lines, multi-line documents, truncation, long lines, invalid UTF-8, numbering."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from dlrpolicy import SettingError
from dlrpolicy.adapters._stream import RawRecord, read_records


def records(data: bytes, **kwargs: object) -> list[RawRecord]:
    """All records of ``data``."""
    return list(read_records(io.BytesIO(data), **kwargs))  # type: ignore[arg-type]


def test_json_lines_are_numbered() -> None:
    """One record per line, numbered from 1, with their line numbers."""
    got = records(b'{"a": 1}\n{"a": 2}\n')
    assert [(1, 1, {"a": 1}), (2, 2, {"a": 2})] == [(r.number, r.line, r.value) for r in got]


def test_blank_lines_are_not_records() -> None:
    """Blank lines separate records and are not counted."""
    got = records(b'{"a": 1}\n\n   \n{"a": 2}')
    assert [(1, 1), (2, 4)] == [(r.number, r.line) for r in got]


def test_pretty_printed_documents() -> None:
    """Documents spread over several lines are read whole, one after another."""
    got = records(b'{\n  "a": [1,\n 2]\n}\n{\n  "b": "}{"\n}\n{"c": 3}\n')
    assert [{"a": [1, 2]}, {"b": "}{"}, {"c": 3}] == [r.value for r in got]
    assert [1, 5, 8] == [r.line for r in got]


def test_truncated_document_at_the_end_is_one_error() -> None:
    """Input ending inside a document gives one error record."""
    got = records(b'{"results":[{"status":\n')
    assert 1 == len(got)
    assert got[0].error is not None
    assert "truncated" in got[0].error.message


def test_truncated_line_does_not_swallow_the_next_record() -> None:
    """A truncated JSON line followed by a good one: an error, then the good record."""
    got = records(b'{"results":[{"status":\n{"a": 1}\n')
    assert [True, False] == [r.error is not None for r in got]
    assert {"a": 1} == got[1].value
    assert [1, 2] == [r.number for r in got]


def test_garbage_line_is_an_error_and_reading_goes_on() -> None:
    """A line that is not JSON is an error record; the next line is still read."""
    got = records(b'not json\n{"a": 1}\n')
    assert got[0].error is not None
    assert "invalid JSON" in got[0].error.message
    assert {"a": 1} == got[1].value


def test_invalid_utf8_is_an_error_record() -> None:
    """Bytes that are not UTF-8 give an error naming the byte."""
    got = records(b'{"to": "\xff\xfe"}\n{"a": 1}\n')
    assert got[0].error is not None
    assert "not valid UTF-8" in got[0].error.message
    assert {"a": 1} == got[1].value


def test_over_long_line_is_skipped_with_an_error() -> None:
    """A line over the limit is an error record, and the next line is read normally."""
    data = b'{"pad": "' + b"x" * 5000 + b'"}\n{"a": 1}\n'
    got = records(data, max_bytes=1000)
    assert [True, False] == [r.error is not None for r in got]
    assert got[0].error is not None
    assert "longer than the limit of 1000 bytes" in got[0].error.message
    assert "--max-record-bytes" in got[0].error.message
    assert (2, 2) == (got[1].number, got[1].line)


def test_ten_megabyte_line_is_an_error_by_default_and_read_with_a_higher_limit() -> None:
    """A 10 MB line is over the 1 MiB default (one error record, never held whole); a raised limit reads it."""
    data = b'{"pad": "' + b"y" * (10 * 1024 * 1024) + b'"}\n{"a": 1}\n'
    got = records(data)
    assert [True, False] == [r.error is not None for r in got]
    assert "1048576 bytes" in got[0].error.message  # type: ignore[union-attr]
    assert [None, None] == [r.error for r in records(data, max_bytes=16 * 1024 * 1024)]


def test_numbering_starts_where_asked() -> None:
    """``start`` continues numbering across inputs."""
    assert [7, 8] == [r.number for r in records(b"1\n2\n", start=7)]


def test_truncated_line_then_indented_records() -> None:
    """A truncated line followed by records that do not start at column 0 costs only itself."""
    body = b"".join(b'  {"a": %d}\n' % i for i in range(50))
    got = records(b'{"results":[{"status":\n' + body)
    assert 51 == len(got)
    assert got[0].error is not None
    assert [{"a": i} for i in range(50)] == [r.value for r in got[1:]]
    assert list(range(1, 52)) == [r.number for r in got]


def test_truncated_line_then_arrays() -> None:
    """Arrays after a truncated line are records of their own."""
    got = records(b'{"results":[{"status":\n[1]\n[2, 3]\n')
    assert [None, [1], [2, 3]] == [r.value for r in got]
    assert [2, 3] == [r.line for r in got[1:]]


def test_pretty_printed_document_with_inner_objects_at_column_0() -> None:
    """A valid document whose inner objects sit at column 0 is one record, not four."""
    data = b'{\n"results": [\n{"messageId": "a"},\n{"messageId": "b"}\n]\n}\n{"c": 1}\n'
    got = records(data)
    assert [{"results": [{"messageId": "a"}, {"messageId": "b"}]}, {"c": 1}] == [r.value for r in got]
    assert [1, 7] == [r.line for r in got]


def test_broken_pretty_printed_document_is_one_error() -> None:
    """A multi-line document with a missing comma is one error naming the lines it covers; the line that broke it
    and the ones after it are read afresh, so the next record is read."""
    data = b'{\n  "results": [\n    {"a": 1}\n    {"a": 2}\n  ]\n}\n{"c": 1}\n'
    got = records(data)
    assert got[0].error is not None
    assert "line 4 does not continue it (expected , or a closing bracket at column 5)" in got[0].error.message
    assert "lines 1-3 are skipped with it" in got[0].error.message
    assert [(4, {"a": 2}), (7, {"c": 1})] == [(r.line, r.value) for r in got if r.error is None]
    assert [1, 2, 3, 4, 5] == [r.number for r in got]


def test_deep_line_is_an_error_naming_the_nesting_limit() -> None:
    """A line nested 1,000 deep is one error record (no RecursionError), and reading goes on."""
    got = records(b"[" * 1000 + b"]" * 1000 + b'\n{"a": 1}\n')
    assert got[0].error is not None
    assert "nested deeper than 64 levels" in got[0].error.message
    assert {"a": 1} == got[1].value


def test_deep_multi_line_document_is_an_error() -> None:
    """A document that opens more than 64 levels over several lines is an error too."""
    got = records(b"[\n" * 100 + b"]\n" * 100 + b'{"a": 1}\n')
    assert got[0].error is not None
    assert "nested deeper than 64 levels" in got[0].error.message
    assert {"a": 1} == got[-1].value


def test_many_shallow_brackets_are_fine() -> None:
    """A batch with hundreds of small objects has many brackets but little depth: it decodes."""
    line = b'{"results": [' + b",".join(b'{"s": {"id": 5, "t": "[[["}}' for _ in range(300)) + b"]}\n"
    got = records(line)
    assert [None] == [r.error for r in got]


def test_byte_order_mark_at_the_start() -> None:
    """A UTF-8 byte order mark at the start of the input is not part of the first record."""
    assert [{"a": 1}, {"a": 2}] == [r.value for r in records(b'\xef\xbb\xbf{"a": 1}\n{"a": 2}\n')]


def test_over_long_document_is_one_error() -> None:
    """A multi-line document over the limit is one error naming its lines; the record after it is read."""
    data = b"{\n" + b"".join(b'  "k%d": "%s",\n' % (i, b"x" * 50) for i in range(100)) + b'  "z": 0\n}\n{"a": 1}\n'
    got = records(data, max_bytes=1000)
    assert 2 == len(got)
    assert got[0].error is not None
    assert "limit of 1000 bytes" in got[0].error.message
    assert "to line 103" in got[0].error.message
    assert {"a": 1} == got[1].value


def test_blank_lines_inside_a_document() -> None:
    """Blank lines inside a pretty-printed document are whitespace."""
    assert [{"a": [1, 2]}] == [r.value for r in records(b'{\n\n  "a": [1,\n\n 2]\n}\n')]


@pytest.mark.parametrize("text", [
    b'{"id": 18446744073709551616}', b'{"id": -9223372036854775809}', b'{"id": 123456789012345678901234}',
    b'{"id": 9223372036854775807, "n": -9223372036854775808}', b'{"to": "\\ud800"}', b'{"price": NaN}',
    b'{"price": 1e400}', b'{"price": -Infinity}', b'{"a": 1, "a": 2}', b'{"price": 0.1, "x": -0.0, "y": 1E-400}',
    b'{"s": "\\u0000\\u00e9\\ud83d\\ude00"}', '{"to": "\ufeff\u00e9"}'.encode(),
])
def test_values_read_as_the_standard_parser_reads_them(text: bytes) -> None:
    """Every JSON Lines value comes out as `json.loads` reads it, type for type: integers beyond 64 bits stay
    integers, lone surrogates, NaN and overflowing numbers are read as before, duplicate keys keep the last."""
    (got,) = records(text + b"\n")
    expected = json.loads(text)
    assert (None, repr(expected)) == (got.error, repr(got.value))


@pytest.mark.parametrize("limit", [-1, 0, "x", 10**20, 1.5])
def test_a_record_limit_out_of_range_is_a_setting_error(limit: object) -> None:
    """read_records(max_bytes=...) refuses a limit that is not a whole number of bytes in range (-1 read nothing
    at all, and other values raised TypeError or OverflowError)."""
    with pytest.raises(SettingError, match="max_bytes"):
        read_records(io.BytesIO(b"{}\n"), max_bytes=limit)  # type: ignore[arg-type]


def test_a_megabyte_string_costs_no_more_than_its_size() -> None:
    """An unterminated 1 MiB string (under the record limit) is one error record read in about its own size: the
    tokenizer's regular expression held a backtracking stack of ~150 times the string (152 MiB here)."""
    script = (
        "import io, resource\n"
        "from dlrpolicy.adapters._stream import read_records\n"
        "data = b'{\"a\":\"' + b'x' * (1024 * 1024 - 20) + b'\\n{\"results\": []}\\n'\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "records = list(read_records(io.BytesIO(data)))\n"
        "grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base\n"
        "print([r.error is not None for r in records], grown // 1024)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    errors, grown_mib = done.stdout.rsplit(" ", 1)
    assert "[True, False]" == errors
    assert int(grown_mib) < 32
