"""Plumbing the state commands share: ``--state URL`` (``$DLRPOLICY_STATE``), the store and recorder it names, JSON
Lines output, and `StateBatch`, through which ``dlrpolicy evaluate --state`` records its decisions in batches
(a line is written only after its batch committed)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TextIO

import attrs
import structlog

from ..decide._engine import Engine
from ..model._decision import Decision
from ..model._outcome import History, Outcome
from ..policy._compile import CompiledPolicy
from ..state._codec import iso_utc
from ..state._open import ENV_STATE, open_store
from ..state._recorder import Recorder
from ..state._records import Recorded
from ..state._store import Report, Store
from ._common import UsageError, engine_from

#: Reports per transaction (SQLite) or pipelined round (Redis) unless --batch says otherwise.
DEFAULT_BATCH = 500


def add_state_argument(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """``--state URL``, defaulting to ``$DLRPOLICY_STATE``."""
    parser.add_argument("--state", metavar="URL", default=os.environ.get(ENV_STATE),
                        help="the store: sqlite:///state.db, redis://host:6379/0, unix:///run/redis.sock "
                        f"(default: ${ENV_STATE})" + ("" if required else "; without it nothing is recorded"))
    parser.set_defaults(state_required=required)


def store_from(args: argparse.Namespace, *, create: bool = True) -> Store:
    """The store ``--state`` names (a usage error when there is none); ``create`` False: it must exist."""
    if not args.state:
        raise UsageError(f"--state URL is required (or set ${ENV_STATE}), e.g. --state sqlite:///state.db")
    return open_store(args.state, create=create)


def event_logger() -> Any:
    """Incident events as JSON lines on stderr (stdout carries the command's own JSON Lines)."""
    return structlog.wrap_logger(structlog.PrintLogger(file=sys.stderr), processors=[
        structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.JSONRenderer()])


def recorder_from(args: argparse.Namespace, engine: Engine | None = None, *, create: bool = True) -> Recorder:
    """A recorder over the store and the policy the arguments name (``create`` False: commands that read or act
    on what a store holds, which must not create one at a mistyped path)."""
    return Recorder(engine or engine_from(args), store_from(args, create=create), logger=event_logger())


def write_lines(out: TextIO, rows: Iterable[dict[str, object]]) -> int:
    """Write rows as JSON Lines; how many."""
    count = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count


_ascii: Callable[[str], str] = json.encoder.encode_basestring_ascii


def _string(value: str | None) -> str:
    return "null" if value is None else _ascii(value)


def _instant(value: datetime | None) -> str:
    return "null" if value is None else f'"{iso_utc(value)}"'


def state_text(result: Recorded) -> str:
    """``json.dumps(result.to_json())``, the ``state`` object of an output line, written directly (a line per
    recorded report; tests compare the two for every field)."""
    flood = "[]" if not result.flood else json.dumps(list(result.flood))
    schedule = None if result.schedule is None else result.schedule.due_at
    return (f'{{"key": {_ascii(result.key)}, "attempts": {result.history.attempts}, '
            f'"first_attempt_at": {_instant(result.history.first_attempt_at)}, '
            f'"duplicate": {"true" if result.duplicate else "false"}, '
            f'"superseded": {"true" if result.superseded else "false"}, "report": {_ascii(result.report)}, '
            f'"suppression": {_string(result.suppression)}, "schedule": {_instant(schedule)}, '
            f'"incident": {_string(result.incident)}, "held": {"true" if result.held else "false"}, '
            f'"flood": {flood}}}')


@attrs.define
class _Pending:
    slot: int
    number: int
    outcome: Outcome
    report: Report


class StateBatch:
    """Collects the lines of ``dlrpolicy evaluate --state`` in input order; decisions wait for their batch to be
    recorded, and every line is released only when everything before it is final.

    ``decision_line(decision, outcome, number)`` and ``error_line(number, exc)`` format lines (the evaluate
    command's own); each decision line gains ``"state": {...}`` (`Recorded.to_json`).  ``log`` (a
    `DecisionLog.record`) gets every decision recorded in this run with the history it was made with (not the
    stored decisions that duplicate reports return).
    """

    def __init__(self, recorder: Recorder, *, now: datetime, size: int,
                 decision_line: Callable[[Decision, Outcome, int], str],
                 error_line: Callable[[int, Exception], str],
                 log: Callable[[int, datetime, Outcome, History | None, Decision, CompiledPolicy], object] | None
                 = None) -> None:
        if size < 1:
            raise UsageError("--batch must be at least 1")
        self.recorder = recorder
        self.now = now
        self.size = size
        self._decision_line = decision_line
        self._error_line = error_line
        self._log = log
        self._queue: list[str] = []
        self._pending: list[_Pending] = []
        self.failed = 0
        self.verdicts: dict[str, int] = {}

    def bind(self, verdicts: dict[str, int]) -> None:
        """Count verdicts of recorded decisions into ``verdicts`` (the run summary's)."""
        self.verdicts = verdicts

    def add_line(self, line: str) -> None:
        """A line that needs no recording (an error record)."""
        self._queue.append(line)

    def add(self, number: int, outcome: Outcome, policy: CompiledPolicy, history: History | None,
            key: str | None) -> None:
        """An outcome to decide and record with the batch."""
        self._pending.append(_Pending(len(self._queue), number, outcome,
                                      Report(outcome=outcome, key=key, history=history, policy=policy)))
        self._queue.append("")
        if len(self._pending) >= self.size:
            self.flush()

    def flush(self) -> None:
        """Record the pending outcomes (one transaction); failures become error records."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        results: list[object]
        try:
            results = list(self.recorder.record_many([p.report for p in pending], now=self.now))
        except Exception as exc:  # the store failed: every outcome of the batch becomes an error record
            results = [exc] * len(pending)
        for item, result in zip(pending, results, strict=True):
            if isinstance(result, Exception):
                self._queue[item.slot] = self._error_line(item.number, result)
                self.failed += 1
                continue
            assert isinstance(result, Recorded)
            line = self._decision_line(result.decision, item.outcome, item.number)
            # A duplicate's decision was made (and logged) when the report first came; logging it again with this
            # run's `now` would make replay see its times move.
            if self._log is not None and item.report.policy is not None and not result.duplicate:
                self._log(item.number, self.now, item.outcome, result.history, result.decision, item.report.policy)
            self._queue[item.slot] = f'{line[:-1]}, "state": {state_text(result)}}}'
            self.verdicts[result.decision.verdict] = self.verdicts.get(result.decision.verdict, 0) + 1

    def ready(self) -> list[str]:
        """The lines that are final, in order (none while a batch is pending)."""
        if self._pending:
            return []
        lines, self._queue = self._queue, []
        return lines

    def finish(self) -> list[str]:
        """Record what is left and return the remaining lines."""
        self.flush()
        return self.ready()
