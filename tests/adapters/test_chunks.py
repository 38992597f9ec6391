"""Chunked input for worker processes: records of a chunk as in the whole input, lines without their numbers,
turns for writing outputs in order."""

from __future__ import annotations

import multiprocessing
import pickle
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from dlrpolicy.adapters._chunk_runs import NumberedText, Turns
from dlrpolicy.adapters._chunks import GROWN_CHUNK_BYTES, ChunkRecords, largest_for, newlines, read_chunks, read_failure
from dlrpolicy.adapters._stream import read_records
from tests.strategies import evaluate_inputs

# JSON lines as the evaluate command makes them (non-ASCII text in log lines; a lone surrogate from a report).
LINES = [('{"a": 1, "input": ', 1, "}\n"), ('{"input": ', 1, ', "e": "ソウル \ud800"}\n'),
         ('{"b": "é", "input": ', 3, "}\n")]


def numbered(lines: list[tuple[str, int, str]]) -> NumberedText:
    """The lines (each tail ending in its newline) in a NumberedText, not finished."""
    text = NumberedText()
    for head, number, tail in lines:
        text.add_line(head, number, tail.removesuffix("\n"))
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


@given(st.lists(st.integers(min_value=0, max_value=70_000), max_size=6), st.integers(min_value=0, max_value=500_000))
def test_newlines_is_count(lengths: list[int], end: int) -> None:
    """newlines(data, end) is data.count(b"\\n", 0, end), whatever its 64 KiB pieces cut through."""
    data = bytearray(b"\n".join(b"x" * length for length in lengths))
    end = min(end, len(data))
    assert data.count(b"\n", 0, end) == newlines(data, end)


def test_newlines_at_the_edges_of_its_pieces() -> None:
    """Newlines on either side of a 64 KiB piece's edge, and at the very end, are each counted once."""
    data = bytearray(b"x" * (3 << 16))
    for at in ((1 << 16) - 1, 1 << 16, (2 << 16) + 1, len(data) - 1):
        data[at] = 10
    assert [0, 1, 2, 3, 4] == [newlines(data, end) for end in (0, 1 << 16, (1 << 16) + 1, (2 << 16) + 2, len(data))]


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


LINE = b'{"results": [{"messageId": "m1", "status": {"groupId": 3, "id": 5}}]}\n'


def test_a_regular_files_chunks_are_spans_read_where_they_are_decided(tmp_path: Path) -> None:
    """A regular file is cut into spans of it, not copies of its bytes (a few dozen bytes to send to a worker),
    and a span loaded is the file's bytes from its offset, on the lines it starts on."""
    path = tmp_path / "input.jsonl"
    path.write_bytes(LINE * 100)
    chunks = list(read_chunks([str(path)], size=1000))
    assert [] == [chunk for chunk in chunks if chunk.data or chunk.span is None]
    assert all(len(pickle.dumps(chunk)) < 200 + 2 * len(str(path)) for chunk in chunks)
    loaded = [chunk.loaded() for chunk in chunks]
    assert LINE * 100 == b"".join(chunk.data for chunk in loaded)
    assert [1 + sum(c.data.count(b"\n") for c in loaded[:n]) for n in range(len(loaded))] == \
        [chunk.first_line for chunk in loaded]


def test_joined_spans_are_one_span(tmp_path: Path) -> None:
    """Two spans of a file side by side joined are one span covering both, still without the bytes."""
    path = tmp_path / "input.jsonl"
    path.write_bytes(LINE * 40)
    first, second, *_ = read_chunks([str(path)], size=1000)
    joined = first.joined(second)
    assert b"" == joined.data
    assert (LINE * 40)[:len(first.loaded().data) + len(second.loaded().data)] == joined.loaded().data


def test_a_pipes_chunks_carry_their_bytes(tmp_path: Path) -> None:
    """A named pipe (as stdin can be) cannot be read again by a worker: its chunks carry their bytes."""
    import os
    import threading

    fifo = tmp_path / "input.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(LINE * 30))
    writer.start()
    chunks = list(read_chunks([str(fifo)], size=1000))
    writer.join()
    assert [] == [chunk for chunk in chunks if chunk.span is not None]
    assert LINE * 30 == b"".join(chunk.data for chunk in chunks)


def test_a_chunk_near_a_shortened_line_carries_its_bytes(tmp_path: Path) -> None:
    """A line over the limit is passed on shortened, which is no longer the file's bytes: the chunk holding it
    carries them, and the records are still the whole input's (the long line is one error)."""
    path = tmp_path / "input.jsonl"
    path.write_bytes(LINE * 20 + b'{"long": "' + b"x" * 5000 + b'"}\n' + LINE * 20)
    chunks = list(read_chunks([str(path)], size=1000, max_bytes=2000))
    assert any(chunk.span is None and chunk.data for chunk in chunks)
    assert any(chunk.span is not None for chunk in chunks)
    with open(path, "rb") as stream:
        expected = [(r.line, repr(r.value), None if r.error is None else str(r.error))
                    for r in read_records(stream, name=str(path), max_bytes=2000)]
    got = [(r.line, repr(r.value), None if r.error is None else str(r.error))
           for chunk in chunks for r in ChunkRecords(chunk, max_bytes=2000)]
    assert expected == got


def test_a_span_of_a_file_replaced_or_shortened_since_is_one_error_record(tmp_path: Path) -> None:
    """A span is read only from the file it was cut from, as long as it was: a file replaced (another inode) or
    cut short since is its one reading error, which names the input; nothing else is made up from it."""
    path = tmp_path / "input.jsonl"
    path.write_bytes(LINE * 40)
    chunk = next(read_chunks([str(path)], size=1000))
    path.write_bytes(LINE)  # the same file, shorter now
    (shortened,) = ChunkRecords(chunk)
    assert shortened.error is not None
    assert read_failure(str(path), OSError(0, "the file was shortened while it was read")) == \
        shortened.error.message
    other = tmp_path / "other.jsonl"
    other.write_bytes(LINE * 40)
    other.replace(path)  # another file under the same name (as a log rotation or an editor saves it)
    (replaced,) = ChunkRecords(chunk)
    assert replaced.error is not None
    assert "the file was replaced while it was read" in replaced.error.message


def test_a_regular_files_chunks_grow_far_from_its_end_and_shrink_near_it(tmp_path: Path) -> None:
    """For worker processes (``largest``), far from the end a file's chunks grow to the largest size (fewer chunks
    for the pool to move); the first and the last ones are the size asked for, so the workers start and finish
    together.  Without ``largest`` (one process) they stay that size."""
    path = tmp_path / "input.jsonl"
    path.write_bytes(LINE * 4000)
    sizes = [chunk.span.size for chunk in read_chunks([str(path)], size=1000, largest=8000)
             if chunk.span is not None]
    assert len(LINE) * 4000 == sum(sizes)
    assert 7 * 1000 < max(sizes) < 9 * 1000  # (a chunk ends at the last record start once that much is read)
    assert sizes[0] < 2 * 1000
    assert all(size < 2 * 1000 for size in sizes[-10:])
    assert all(chunk.span is not None and chunk.span.size < 2 * 1000 for chunk in read_chunks([str(path)], size=1000))
    assert largest_for(1) is None
    assert largest_for(2) == largest_for(8) == GROWN_CHUNK_BYTES
