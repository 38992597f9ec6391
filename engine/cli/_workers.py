"""``dlrpolicy evaluate --workers N``: the inputs cut into chunks (`adapters._chunks`), each decided on a worker
process by the same loop that decides a whole input in one process, and the lines written in input order with
their run-wide record numbers, so the output is byte for byte that of one process.

When the output and the log are file descriptors (a real stdout, a log file) and the workers are forked, a
worker that finishes a chunk whose turn it is writes the lines itself (`adapters._chunks.Turns`): moving every
line through the parent costs about a tenth of the CPU the deciding does.  Otherwise, and whenever a chunk
finishes before the chunks ahead of it, the parent writes what the worker sends back."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Final

import attrs

from .._errors import DlrpolicyError
from ..adapters._chunk_runs import Job, NumberedText, Turns, pool_context, run_chunks, write_all
from ..adapters._chunks import Chunk, ChunkRecords
from ..adapters._stream import MAX_RECORD_BYTES
from ..decide._engine import Engine
from ..model._decision import Decision
from ..model._outcome import History, Outcome
from ..policy._compile import CompiledPolicy
from ..report._decision_log import log_line
from ._summary import RunSummary


@attrs.frozen
class ChunkSetup:
    """What a worker process decides chunks with: the parent's engine and settings (forked workers inherit it;
    elsewhere it is pickled to them), and whether to make decision log lines."""

    #: What decides the records (`cli._evaluate.decide_records`; a module-level function, sent by name).
    decide: Callable[..., RunSummary]
    engine: Engine
    now: datetime
    provider: str | None = None
    channel: str | None = None
    tenant: str | None = None
    max_bytes: int = MAX_RECORD_BYTES
    log: bool = False


@attrs.frozen
class ChunkDecided:
    """A chunk's output lines and decision log lines (record numbers left out; empty when the worker wrote them
    itself) and its counts."""

    summary: RunSummary
    lines: NumberedText
    log: NumberedText
    ended_open: bool = False
    #: The job's place in the output (`adapters._chunks.Job`), and whether the worker wrote its lines itself.
    seq: int = 0
    end: int = 0
    written: bool = False


@attrs.frozen
class _Output:
    """Where a chunk's lines go when the process that holds them writes them: file descriptors and their turns."""

    turns: Turns
    out: int
    log: int | None


class WorkerDied(DlrpolicyError):
    """A worker process ended abruptly (killed, out of memory) during ``--workers N``."""

    def __init__(self, written: int) -> None:
        self.written = written
        super().__init__(f"a worker process ended abruptly (killed, or out of memory?) after the first {written} "
                         f"records were decided and written: run again on the records after record {written}, "
                         "with fewer --workers or none")


_SETUP: ChunkSetup | None = None
_OUTPUT: _Output | None = None  # set in the parent before the workers fork; spawned workers have none
# Log lines are made by `log_line`; the record number sits after this key (the second, after log_version).
_LOG_NUMBER: Final = '"input": 0, '


def _start_worker(setup: ChunkSetup) -> None:
    global _SETUP
    if _SETUP is not setup:  # forked workers hold the parent's already
        _SETUP = setup


def _decide_chunk(job: Job) -> ChunkDecided:
    """Decide one chunk as `decide_records` decides the whole input; write its lines when the chunks before it
    are written, else send them back without their run-wide numbers."""
    chunk = job.chunk
    setup = _SETUP
    assert setup is not None, "worker not started"
    text, log_text = NumberedText(), NumberedText()

    def log(number: int, now: datetime, outcome: Outcome, history: History | None, decision: Decision,
            policy: CompiledPolicy) -> None:
        head, found, tail = log_line(number=0, now=now, outcome=outcome, history=history, decision=decision,
                                     policy=policy).partition(_LOG_NUMBER)
        assert found, "a decision log line starts with its log_version and record number"
        log_text.add_line(head + _LOG_NUMBER[:-3], number, f", {tail}")

    records = ChunkRecords(chunk, max_bytes=setup.max_bytes)
    summary = setup.decide(records, _unused, engine=setup.engine, now=setup.now, provider=setup.provider,
                             channel=setup.channel, tenant=setup.tenant, log=log if setup.log else None,
                             lines=text.add_line)
    if records.ended_open:  # it goes on in the next chunk: decided again joined to it
        return ChunkDecided(RunSummary(), NumberedText(), NumberedText(), ended_open=True)
    output = _OUTPUT
    if output is not None and output.turns.take(job.seq, job.end, functools.partial(
            _write_now, output, text, log_text, summary.records)):
        return ChunkDecided(summary, NumberedText(), NumberedText(), seq=job.seq, end=job.end, written=True)
    return ChunkDecided(summary, text.finish(), log_text.finish(), seq=job.seq, end=job.end)


def _write_now(output: _Output, text: NumberedText, log_text: NumberedText, records: int, offset: int) -> int:
    """Write a chunk's lines (and log lines) straight from the worker, numbered from ``offset``."""
    if text.numbers:
        write_all(output.out, text.render(offset))
    if output.log is not None and log_text.numbers:
        write_all(output.log, log_text.render(offset))
    return records


def _write(output: _Output, decided: ChunkDecided, offset: int) -> int:
    """Write a chunk's lines (and log lines) with their numbers from ``offset``; returns its record count."""
    if decided.lines.numbers:
        write_all(output.out, decided.lines.spliced(offset))
    if output.log is not None and decided.log.numbers:
        write_all(output.log, decided.log.spliced(offset))
    return decided.summary.records


def _unused(text: str) -> None:
    raise AssertionError("with lines=..., decide_records writes nothing itself")


def decide_chunks(chunks: Iterable[Chunk], write: Callable[[bytes], object] | int, *, setup: ChunkSetup,
                  workers: int, log: Callable[[bytes], object] | int | None = None,
                  progress: Callable[[RunSummary], None] | None = None) -> RunSummary:
    """``setup.decide`` (`decide_records`) on ``workers`` processes: each chunk decided on its own, the lines
    (and, with ``log``, the decision log lines) written through ``write`` in input order with their run-wide
    record numbers, exactly as one process writes them; returns the summary of all chunks.

    ``write`` and ``log`` are callables, or file descriptors that forked workers then write to themselves when
    it is their chunk's turn (nothing else may write to them during the run)."""
    global _SETUP, _OUTPUT
    summary = RunSummary()
    started = time.perf_counter()
    _SETUP = setup
    if log is not None and isinstance(write, int) != isinstance(log, int):
        raise TypeError("write and log are both file descriptors or both callables")
    output = None
    if isinstance(write, int):
        assert log is None or isinstance(log, int)
        context = pool_context()
        output = _Output(Turns(context), write, log)
        _OUTPUT = output if workers > 1 and context.get_start_method() == "fork" else None
    done = 0
    try:
        for result in run_chunks(chunks, _decide_chunk, workers=workers, initializer=_start_worker,
                                 initarg=setup):
            if result.written:
                pass
            elif output is not None:  # the chunks before it are written (results come in order): its turn
                taken = output.turns.take(result.seq, result.end, functools.partial(_write, output, result))
                assert taken, "a chunk's turn comes once the chunks before it are written"
            else:
                if result.lines.numbers:
                    write(result.lines.spliced(done))  # type: ignore[operator]
                if log is not None and result.log.numbers:
                    log(result.log.spliced(done))  # type: ignore[operator]
            summary.add(result.summary)
            done += result.summary.records
            if progress is not None:
                summary.seconds = time.perf_counter() - started
                progress(summary)
    except BrokenProcessPool:
        raise WorkerDied(done if output is None else output.turns.written) from None
    finally:
        _SETUP = _OUTPUT = None
    summary.seconds = time.perf_counter() - started
    return summary
