"""``dlrpolicy evaluate --workers N``: the inputs cut into chunks and decided on N processes give exactly the output
of one process — record numbers, decision lines, error and skipped lines, the decision log and the summary."""

from __future__ import annotations

import io
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlrpolicy import Engine
from dlrpolicy.adapters._chunks import read_chunks
from dlrpolicy.cli._common import usable_cores, workers_count
from dlrpolicy.cli._evaluate import decide_records
from dlrpolicy.cli._inputs import input_records
from dlrpolicy.cli._main import main
from dlrpolicy.cli._summary import RunSummary
from dlrpolicy.cli._workers import ChunkSetup, WorkerDied, decide_chunks
from dlrpolicy.report._decision_log import DecisionLog
from tests.strategies import evaluate_inputs

ROOT = Path(__file__).resolve().parents[2]
PAYLOADS = sorted(str(p) for p in (ROOT / "examples" / "payloads").glob("*.json"))
SAMPLES = sorted(str(p) for p in (ROOT / "tests" / "adapters" / "samples").glob("*.json"))
NOW = datetime(2026, 11, 24, 13, 30, tzinfo=UTC)
ENGINE = Engine.default()
LIMIT = 4000  # record size limit in these tests, so that an over-long line is cheap to make

Run = tuple[str, str, tuple[object, ...]]


def counts(summary: RunSummary) -> tuple[object, ...]:
    """What the summary line says, less the time."""
    return summary.records, summary.decisions, summary.errors, summary.skipped, summary.verdicts


def one_process(files: list[str]) -> Run:
    """(output, decision log, counts) of the one-process pipeline reading the inputs whole."""
    out: list[str] = []
    log_bytes = io.BytesIO()
    log_text = io.TextIOWrapper(log_bytes, encoding="utf-8", errors="backslashreplace")  # as --log opens it
    log = DecisionLog(log_text)
    summary = decide_records(input_records(files, max_bytes=LIMIT), out.append, engine=ENGINE, now=NOW,
                             log=log.record)
    log.close()
    return "".join(out), log_bytes.getvalue().decode("utf-8"), counts(summary)


def chunked(files: list[str], *, workers: int, size: int) -> Run:
    """The same through `decide_chunks` with chunks of about ``size`` bytes."""
    out: list[bytes] = []
    log: list[bytes] = []
    setup = ChunkSetup(decide_records, ENGINE, NOW, max_bytes=LIMIT, log=True)
    summary = decide_chunks(read_chunks(files, size=size, max_bytes=LIMIT), out.append, setup=setup,
                            workers=workers, log=log.append)
    return b"".join(out).decode("utf-8"), b"".join(log).decode("utf-8"), counts(summary)


def chunked_to_files(files: list[str], *, workers: int, size: int) -> Run:
    """The same with the output and the log as file descriptors, which the workers write to themselves when it
    is their chunk's turn (the parent writes the rest)."""
    setup = ChunkSetup(decide_records, ENGINE, NOW, max_bytes=LIMIT, log=True)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as log:
        summary = decide_chunks(read_chunks(files, size=size, max_bytes=LIMIT), out.fileno(), setup=setup,
                                workers=workers, log=log.fileno())
        out.seek(0)
        log.seek(0)
        return out.read().decode("utf-8"), log.read().decode("utf-8"), counts(summary)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Three inputs: every example and real sample, compact and pretty-printed (empty pulls, inbound messages,
    tracking events: skipped parts), garbage, blank lines, an over-long line, invalid UTF-8, a document with
    inner lines in column 0, truncated documents in the middle and at the end."""
    folder = tmp_path_factory.mktemp("workers")
    texts = [Path(p).read_text(encoding="utf-8").rstrip() for p in PAYLOADS + SAMPLES]
    compact = [json.dumps(json.loads(text)) for text in texts]
    first = [*compact[:8], "not json at all", "", '{"results": []}', texts[12], *texts[20:30], '{"results": [',
             '  {"messageId": "x",', *compact[8:20], "x" * (LIMIT + 500), '{"results": [',
             '{"messageId": "column-0", "status": {"groupId": 3, "id": 5}},', ']}', *compact[20:]]
    inbound = '{"results": [{"event": "MO", "messageId": "in-1"}, {"messageId": "\\ud800", "status": {"id": 5}}]}'
    second = [*texts[:10], inbound, '{"to": "\udcff"}', "[1, 2", *compact[30:40], '{"truncated": [', '  "at the end"']
    paths = []
    for name, lines in (("first.jsonl", first), ("second.jsonl", second)):
        path = folder / name
        path.write_bytes("\n".join(lines).encode("utf-8", "surrogateescape") + b"\n")
        paths.append(str(path))
    return [paths[0], PAYLOADS[3], paths[1]]


@pytest.mark.parametrize("size", [1, 300, 4096, 10**7])
def test_two_workers_write_what_one_process_writes(mixed: list[str], size: int) -> None:
    """Two workers, any chunk size, the lines sent to the parent or written by the workers to the files
    themselves: byte for byte the one-process output, decision log and counts."""
    expected = one_process(mixed)
    assert expected == chunked(mixed, workers=2, size=size)
    assert expected == chunked_to_files(mixed, workers=2, size=size)
    assert expected == chunked_to_files(mixed, workers=3, size=size)
    output, _, (records, decisions, errors, skipped, _) = expected
    lines = [json.loads(line) for line in output.splitlines()]
    assert (decisions, errors, skipped) == tuple(sum(key in line for line in lines)
                                                 for key in ("verdict", "error", "skipped"))
    assert records == lines[-1]["input"]
    assert errors >= 6
    assert skipped >= 2
    messages = [line["error"]["message"] for line in lines if "error" in line]
    assert any("does not continue it" in m for m in messages)
    assert any("the input ended before it was complete" in m for m in messages)
    assert any(f"longer than the limit of {LIMIT} bytes" in m for m in messages)


def test_inputs_that_fail_to_read_are_one_error_record_each(mixed: list[str]) -> None:
    """An input whose reading fails (EIO) and one that cannot be opened: one error record each, in place, the
    inputs around them decided, as in one process.  (Linux's /proc files, as CI is Linux: never skipped.)"""
    files = [PAYLOADS[0], "/proc/self/mem", mixed[0], "/proc/self/clear_refs", PAYLOADS[1]]
    expected = one_process(files)
    assert expected == chunked(files, workers=2, size=2000)
    errors = [json.loads(line) for line in expected[0].splitlines() if '"error"' in line[:40]]
    assert any("/proc/self/mem: reading failed" in line["error"]["message"] for line in errors)
    assert any("/proc/self/clear_refs: reading failed" in line["error"]["message"] for line in errors)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(evaluate_inputs(), min_size=1, max_size=3), st.integers(min_value=1, max_value=3000))
def test_chunks_of_any_size_decide_like_the_whole_input(inputs: list[bytes], size: int) -> None:
    """Any inputs (hostile lines, real payloads compact and pretty, truncated documents, blank lines) cut into
    chunks of any size give the one-process output (on one process here: the chunking is what is tested)."""
    with tempfile.TemporaryDirectory() as folder:
        files = []
        for index, data in enumerate(inputs):
            path = Path(folder) / f"input-{index}.jsonl"
            path.write_bytes(data)
            files.append(str(path))
        assert one_process(files) == chunked(files, workers=1, size=size)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``dlrpolicy evaluate ARGS`` in process: (exit status, stdout, the summary line less its time)."""
    status = main(["evaluate", *args])
    out, err = capsys.readouterr()
    return status, out, err.rpartition(" in ")[0]


def test_cli_with_workers_and_a_log(capsys: pytest.CaptureFixture[str], mixed: list[str], tmp_path: Path) -> None:
    """``--workers 2 --log``: the same stdout, summary, exit status and decision log as without --workers."""
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    expected = cli(capsys, *mixed, "--now", NOW.isoformat(), "--log", str(one))
    assert expected == cli(capsys, *mixed, "--now", NOW.isoformat(), "--log", str(two), "--workers", "2")
    assert 1 == expected[0]
    assert one.read_bytes() == two.read_bytes()
    assert expected[2].startswith("dlrpolicy evaluate: ")


def test_cli_with_workers_on_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                   mixed: list[str]) -> None:
    """Standard input is read in chunks too: the same lines as one process."""
    data = Path(mixed[0]).read_bytes()
    results = []
    for workers in ("1", "auto", "2"):
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
        results.append(cli(capsys, "--now", NOW.isoformat(), "--workers", workers))
    assert results[0] == results[1] == results[2]


def test_cli_with_workers_on_real_files(mixed: list[str], tmp_path: Path) -> None:
    """``python -m dlrpolicy evaluate --workers 2 > FILE --log LOG``: the same bytes, summary and exit status as
    one process, written by the workers themselves."""
    import subprocess
    import sys

    results = []
    for workers in ("1", "2"):
        out, log = tmp_path / f"out-{workers}.jsonl", tmp_path / f"log-{workers}.jsonl"
        with open(out, "wb") as stdout:
            done = subprocess.run([sys.executable, "-m", "dlrpolicy", "evaluate", *mixed, *mixed, "--now",
                                   NOW.isoformat(), "--log", str(log), "--workers", workers], stdout=stdout,
                                  stderr=subprocess.PIPE, text=True, timeout=120, check=False)
        results.append((done.returncode, done.stderr.rpartition(" in ")[0], out.read_bytes(), log.read_bytes()))
    assert results[0] == results[1]
    assert 1 == results[0][0]


def test_workers_with_state_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--workers 2 with --state: exit 2 and why (recording is sequential); --workers 1 is the default."""
    status = main(["evaluate", PAYLOADS[0], "--workers", "2", "--state", f"sqlite:///{tmp_path / 'state.db'}"])
    err = capsys.readouterr().err
    assert 2 == status
    assert "--workers 2 with --state: recording is sequential" in err
    assert not (tmp_path / "state.db").exists()


def test_workers_argument() -> None:
    """--workers takes 1 to 256 or auto (the usable cores); anything else says what it takes."""
    import argparse

    assert (1, 8, usable_cores()) == (workers_count("1"), workers_count("8"), workers_count("auto"))
    for text in ("0", "-1", "two", "257", ""):
        with pytest.raises(argparse.ArgumentTypeError, match="from 1 to 256, or auto"):
            workers_count(text)


def _die(*args: object, **kwargs: object) -> RunSummary:
    """A worker's deciding that kills its process, as the kernel's out-of-memory killer would."""
    os._exit(3)


def test_a_worker_that_dies_is_an_error_that_says_what_was_written(mixed: list[str]) -> None:
    """A worker process that ends abruptly: a DlrpolicyError naming how many records were written, no hang."""
    with pytest.raises(WorkerDied, match="after the first 0 records were decided and written"):
        decide_chunks(read_chunks(mixed, size=500), lambda data: None, setup=ChunkSetup(_die, ENGINE, NOW),
                      workers=2)
