"""``dlrpolicy evaluate``: provider payloads in (files or stdin, JSON documents or JSON Lines), one decision per
outcome out (JSON Lines on stdout), a summary on stderr.  Streams: memory stays flat for any input size."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import IO, Final

from .._errors import DlrpolicyError, PayloadError
from ..adapters._chunks import largest_for, read_chunks
from ..adapters._records import read_record
from ..adapters._stream import MAX_RECORD_BYTES, RawRecord
from ..adapters._values import Skipped
from ..decide._engine import Engine
from ..decide._evaluate import evaluate
from ..model._decision import Decision
from ..model._outcome import History, Outcome
from ..model._vocabulary import CHANNELS, PROVIDERS
from ..policy._compile import CompiledPolicy
from ..report._decision_log import DecisionLog
from ._common import UsageError, add_policy_arguments, check_tenant_argument, engine_from, parse_now, workers_count
from ._inputs import add_input_arguments, check_inputs, input_records
from ._lines import LINE_START, decision_body, decision_line, error_line, error_tail, skipped_tail
from ._state import DEFAULT_BATCH, StateBatch, add_state_argument, recorder_from
from ._summary import RunSummary
from ._workers import ChunkSetup, decide_chunks

_FLUSH_EVERY: Final = 256
_PROGRESS_SECONDS: Final = 0.25


class _Policies:
    """The compiled policy for each tenant seen in the run, looked up once per tenant, not once per record."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._by_tenant: dict[str | None, CompiledPolicy | DlrpolicyError] = {None: engine.policy}

    def get(self, tenant: str | None) -> CompiledPolicy | DlrpolicyError:
        found = self._by_tenant.get(tenant)
        if found is None:
            # An unknown tenant (no file, or no policy directory at all) is an error for its records unless the
            # engine was made with default_for_unknown: a typo must not silently get the default policy.
            try:
                found = self._engine.for_tenant(tenant).policy  # type: ignore[arg-type]
            except DlrpolicyError as exc:
                found = exc
            self._by_tenant[tenant] = found
        return found


def decide_records(records: Iterable[RawRecord], write: Callable[[str], object], *, engine: Engine,
                   now: datetime, provider: str | None = None, channel: str | None = None,
                   tenant: str | None = None, progress: Callable[[RunSummary], None] | None = None,
                   log: Callable[[int, datetime, Outcome, History | None, Decision, CompiledPolicy], object] | None
                   = None, state: StateBatch | None = None,
                   lines: Callable[[str, int, str], object] | None = None) -> RunSummary:
    """Decide every record, writing one JSON line per outcome (or per error) through ``write``.

    Every record yields at least one line.  The lines are the `Decision.to_json` keys plus ``outcome``,
    ``message_id`` and ``input`` (the record number), ``{"input", "error": {"type", "message", "path"}}``, or
    ``{"input", "skipped": {"reason", "path"}}``.  ``log`` (a `DecisionLog.record`) is called with every decision
    and what it was made from.  With ``state``, each outcome is recorded through it and its line (with a ``state``
    object) comes out after its batch committed.  ``lines`` takes the lines instead of ``write``, each as its head,
    record number and tail (worker processes give them back without the run-wide numbers).
    """
    summary = RunSummary()
    verdicts = summary.verdicts
    if state is not None:
        state.bind(verdicts)
    policies = _Policies(engine)
    default_policy = policies.get(tenant)
    buffer: list[str] = []
    append = buffer.append if state is None else state.add_line  # with state, lines keep input order there
    add = lines or (lambda head, number, tail: append(f"{head}{number}{tail}"))
    records_seen = decisions = errors = skipped = 0
    shown = 0.0
    started = time.perf_counter()
    for record in records:
        number = record.number
        records_seen += 1
        lines_before = decisions + errors + skipped
        try:
            if record.error is not None:
                raise record.error
            found = read_record(record.value, provider=provider, channel=channel, tenant=tenant)
            policy = policies.get(found.tenant) if found.tenant != tenant else default_policy
            history, items, key = found.history, found.items, found.key
            if isinstance(policy, DlrpolicyError):
                raise PayloadError("$.tenant", str(policy))
            for item in items:
                if type(item) is not Outcome:  # one check for the common case, an outcome
                    if isinstance(item, PayloadError):
                        add(LINE_START, number, error_tail(item))
                        errors += 1
                        continue
                    if isinstance(item, Skipped):
                        add(LINE_START, number, skipped_tail(item))
                        skipped += 1
                        continue
                if state is not None:  # decided and recorded with its batch
                    state.add(number, item, policy, history, key)
                    decisions += 1
                    continue
                try:
                    decision = evaluate(policy, item, now=now, history=history)
                except Exception as exc:  # this outcome's error only: its siblings are still decided
                    add(LINE_START, number, error_tail(exc))
                    errors += 1
                    continue
                if lines is None:  # the line whole, without a call of `add` per decision
                    append(decision_body(decision, item, f"{number}}}"))
                else:
                    lines(decision_body(decision, item), number, "}")
                if log is not None:
                    log(number, now, item, history, decision, policy)
                verdicts[decision.verdict] += 1
                decisions += 1
        except Exception as exc:
            add(LINE_START, number, error_tail(exc))
            errors += 1
        if decisions + errors + skipped == lines_before:  # defensive: nothing is ever dropped silently
            add(LINE_START, number, error_tail(PayloadError("$", "the record produced no outcome")))
            errors += 1
        if state is not None:
            buffer.extend(state.ready())
        if len(buffer) >= _FLUSH_EVERY or (state is not None and buffer):  # with state: each batch as it commits
            buffer.append("")
            write("\n".join(buffer))
            buffer.clear()
            if progress is not None:
                elapsed = time.perf_counter() - started
                if elapsed - shown >= _PROGRESS_SECONDS:
                    shown = elapsed
                    summary.records, summary.decisions, summary.errors = records_seen, decisions, errors
                    summary.seconds = elapsed
                    progress(summary)
    if state is not None:
        buffer.extend(state.finish())
        decisions, errors = decisions - state.failed, errors + state.failed
    if buffer:
        buffer.append("")
        write("\n".join(buffer))
    summary.records, summary.decisions, summary.errors = records_seen, decisions, errors
    summary.skipped = skipped
    summary.seconds = time.perf_counter() - started
    return summary


def _inputs(files: list[str]) -> list[str]:
    return check_inputs(files)


def records_from(files: list[str], *, max_bytes: int = MAX_RECORD_BYTES) -> Iterator[RawRecord]:
    """The records of each file in turn (``-`` is stdin), numbered across all of them; an input that fails to
    read gives one error record (see `cli._inputs`)."""
    return input_records(files, max_bytes=max_bytes)


def _flushed(out: IO[str]) -> Callable[[str], object]:
    """Write and flush: with --state, a batch's lines go out as soon as it committed."""

    def write(text: str) -> None:
        out.write(text)
        out.flush()

    return write


def _progress_line(summary: RunSummary) -> None:
    rate = summary.records / summary.seconds if summary.seconds > 0 else 0.0
    sys.stderr.write(f"\r{summary.records:,} records, {summary.errors:,} errors, {rate:,.0f} records/s")
    sys.stderr.flush()


def _open_log(name: str | None) -> IO[str] | None:
    """``--log FILE``: the decision log, appended to (a log collects many runs)."""
    if name is None:
        return None
    try:
        # Log lines keep non-ASCII text as it is; a lone surrogate (from a JSON escape in a report) has no UTF-8
        # form and is written as that escape again, which reads back as the same string.
        return open(name, "a", encoding="utf-8", errors="backslashreplace")
    except OSError as exc:
        raise UsageError(f"--log {name}: cannot open for writing: {exc.strerror}") from None


def _on_workers(args: argparse.Namespace, files: list[str], engine: Engine, now: datetime,
                log_file: IO[str] | None, tty: bool) -> RunSummary:
    """``--workers N``: the inputs cut into chunks, decided on N processes, written in input order."""
    setup = ChunkSetup(decide_records, engine, now, args.provider, args.channel, args.tenant, args.max_record_bytes,
                       log=log_file is not None)
    out: Callable[[bytes], object] | int = sys.stdout.buffer.write
    log: Callable[[bytes], object] | int | None = None if log_file is None else \
        (lambda data: log_file.write(data.decode("utf-8")))
    sys.stdout.flush()
    if log_file is not None:
        log_file.flush()
    # Real files: the workers write their own lines (see `cli._workers`).  io.UnsupportedOperation (an OSError
    # and a ValueError): stdout is not a file (captured, in memory), and the lines go through write().
    with contextlib.suppress(OSError, ValueError):
        out, log = sys.stdout.fileno(), None if log_file is None else log_file.fileno()
    chunks = read_chunks(files, largest=largest_for(args.workers), max_bytes=args.max_record_bytes)
    return decide_chunks(chunks, out, setup=setup,
                         workers=args.workers, log=log, progress=_progress_line if tty else None)


def run(args: argparse.Namespace) -> int:
    """Evaluate the inputs; exit 0 when every record was decided, 1 when some were not."""
    check_tenant_argument(args)
    files = _inputs(list(args.files))
    if args.workers > 1 and args.state:
        raise UsageError(f"--workers {args.workers} with --state: recording is sequential (duplicates, attempts "
                         "and flood counters depend on the order reports arrive in, and each batch is one "
                         "transaction); drop --workers to record, or --state to only decide")
    now = parse_now(args.now)
    engine = engine_from(args)  # with --tenant, its store also serves the tenants named in envelopes
    tty = sys.stderr.isatty()
    out = sys.stdout
    log_file = _open_log(args.log)
    log = DecisionLog(log_file) if log_file is not None else None
    state = None
    if args.state:
        state = StateBatch(recorder_from(args, engine), now=now, size=args.batch, decision_line=decision_line,
                           error_line=error_line, log=log.record if log is not None else None)
    write = out.write if state is None else _flushed(out)
    try:
        if args.workers > 1:
            summary = _on_workers(args, files, engine, now, log_file, tty)
        else:
            records = records_from(files, max_bytes=args.max_record_bytes)
            summary = decide_records(records, write, engine=engine, now=now, provider=args.provider,
                                     channel=args.channel, tenant=args.tenant,
                                     progress=_progress_line if tty else None,
                                     log=log.record if log is not None else None, state=state)
    finally:
        if log is not None and log_file is not None:
            log.close()
            log_file.close()
    out.flush()
    sys.stderr.write(("\r" if tty else "") + summary.render() + "\n")
    return 1 if summary.errors else 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``evaluate``."""
    p = sub.add_parser(
        "evaluate", help="decide provider payloads (delivery reports, API errors) from files or stdin",
        description="Read provider payloads (Infobip reports and API errors, NHN KakaoTalk Bizmessage results) "
        "as JSON documents or JSON Lines, raw or in an envelope {\"report\": ..., \"tenant\", \"attempt\", "
        "\"first_attempt_at\", \"channel\", \"provider\", \"http_status\", \"headers\", \"sender\", \"template\", "
        "\"key\"}, and print one decision "
        "per outcome as JSON Lines.  Exit 0: all decided; 1: some records could not be decided; 2: usage error.",
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="input files (default or -: stdin)")
    add_input_arguments(p)
    p.add_argument("--now", help="evaluation time, ISO 8601 with offset (default: the current time)")
    p.add_argument("--provider", choices=PROVIDERS, help="treat every payload as this provider's "
                   "(default: detect from the shape)")
    p.add_argument("--channel", choices=CHANNELS, help="channel of every payload without an envelope channel "
                   "(default: from the payload, else the product's)")
    p.add_argument("--workers", type=workers_count, default=1, metavar="N",
                   help="decide on N processes (auto: one per usable core; default 1); the output is the same, "
                   "in input order, written a chunk of records at a time")
    p.add_argument("--log", metavar="FILE", help="append a decision log to FILE (JSON Lines: outcome, now, "
                   "history, decision and policy version per decision), for `dlrpolicy replay`")
    add_policy_arguments(p)
    add_state_argument(p, required=False)
    p.add_argument("--batch", type=int, default=DEFAULT_BATCH, metavar="N",
                   help=f"with --state: records per transaction (default {DEFAULT_BATCH})")
    p.set_defaults(run=run)
