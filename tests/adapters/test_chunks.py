"""Chunked input for worker processes: records of a chunk as in the whole input, lines without their numbers,
turns for writing outputs in order."""

from __future__ import annotations

import multiprocessing
import pickle
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from dlrpolicy.adapters._chunks import ChunkRecords, NumberedText, Turns, read_chunks, read_failure
from dlrpolicy.adapters._stream import read_records
from tests.strategies import evaluate_inputs

# JSON lines as the evaluate command makes them (non-ASCII text in log lines; a lone surrogate from a report).
LINES = [('{"a": 1, "input": ', 1, "}\n"), ('{"input": ', 1, ', "e": "ソウル \ud800"}\n'),
         ('{"b": "é", "input": ', 3, "}\n")]


def numbered(lines: list[tuple[str, int, str]]) -> NumberedText:
    """The lines in a NumberedText, not finished."""
    text = NumberedText()
    for head, number, tail in lines:
        text.add(head, number, tail)
    return text


def test_numbered_text_renders_and_splices_the_same_bytes() -> None:
    """Rendered before finishing, or finished, sent to another process and spliced: the same UTF-8 bytes, with
    each number moved by the offset (a lone surrogate written as its JSON escape)."""
    expected = "".join(f"{head}{number + 40}{tail}" for head, number, tail in LINES).encode("utf-8",
                                                                                            "backslashreplace")
    assert b"\\ud800" in expected
    assert expected == numbered(LINES).render(40)
    assert expected == pickle.loads(pickle.dumps(numbered(LINES).finish())).spliced(40)


def test_turns_pass_in_order() -> None:
    """A chunk writes only when every chunk before it has; a joined chunk passes the turn past the chunks it
    covers; the records written are counted."""
    turns = Turns(multiprocessing.get_context())
    order: list[tuple[str, int]] = []

    def write(name: str, records: int) -> object:
        return lambda offset: order.append((name, offset)) or records

    assert not turns.take(1, 2, write("second", 5))
    assert turns.take(0, 1, write("first", 3))
    assert turns.take(1, 3, write("second and third, joined", 5))
    assert not turns.take(2, 3, write("third, dropped", 7))
    assert turns.take(3, 4, write("fourth", 1))
    assert [("first", 0), ("second and third, joined", 3), ("fourth", 8)] == order
    assert 9 == turns.written


@settings(max_examples=40, deadline=None)
@given(evaluate_inputs(), st.integers(min_value=1, max_value=2000))
def test_chunk_records_are_the_inputs_records(data: bytes, size: int) -> None:
    """The records of the chunks, joined where a chunk ended inside a document, are the records of the whole
    input: values, line numbers and error messages."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input.jsonl"
        path.write_bytes(data)
        with open(path, "rb") as stream:
            expected = [(r.line, repr(r.value), None if r.error is None else str(r.error))
                        for r in read_records(stream, name=str(path), max_bytes=2000)]
        got = []
        held = None
        for chunk in read_chunks([str(path)], size=size, max_bytes=2000):
            chunk = held.joined(chunk) if held is not None else chunk
            records = ChunkRecords(chunk, max_bytes=2000)
            found = [(r.line, repr(r.value), None if r.error is None else str(r.error)) for r in records]
            held = chunk if records.ended_open else None
            if held is None:
                got.extend(found)
        assert expected == got


def test_an_input_that_cannot_be_opened_is_one_failure_chunk(tmp_path: Path) -> None:
    """A missing file (gone since it was checked) is one chunk whose record is the reading error."""
    missing = str(tmp_path / "gone.jsonl")
    (chunk,) = read_chunks([missing])
    (record,) = ChunkRecords(chunk)
    assert record.error is not None
    assert read_failure(missing, FileNotFoundError(2, "No such file or directory")) == record.error.message
