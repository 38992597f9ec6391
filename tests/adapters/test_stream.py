"""Streaming reader: JSON Lines, multi-line documents, truncation, long lines, invalid UTF-8, numbering."""

from __future__ import annotations

import io

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
    assert "longer than 1000 bytes" in got[0].error.message
    assert (2, 2) == (got[1].number, got[1].line)


def test_ten_megabyte_line_is_read() -> None:
    """A 10 MB line is within the default limit and decodes."""
    data = b'{"pad": "' + b"y" * (10 * 1024 * 1024) + b'"}\n'
    got = records(data)
    assert 1 == len(got)
    assert got[0].error is None


def test_numbering_starts_where_asked() -> None:
    """``start`` continues numbering across inputs."""
    assert [7, 8] == [r.number for r in records(b"1\n2\n", start=7)]
