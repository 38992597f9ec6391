"""Replay: re-decide logged outcomes (or raw reports) under a new policy and compare with the old decisions —
the logged ones, or those of a baseline policy.  Pure apart from reading its input: it writes to no store.

Input is cut into chunks of whole records (`read_chunks`), each replayed on its own (`Replayer.run_chunk`), in this
process or in worker processes (`replay_chunks`, through `adapters._chunks.run_chunks`), and the results are put
back in input order, so the output is the same for any number of workers and memory stays flat for any input
size."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
from datetime import datetime
from os import PathLike
from typing import Any

import attrs

from .._errors import DlrpolicyError, PayloadError
from ..adapters._chunk_runs import Job, NumberedText, run_chunks
from ..adapters._chunks import Chunk, ChunkRecords
from ..adapters._records import error_fields, read_record, skipped_fields
from ..adapters._stream import MAX_RECORD_BYTES, RawRecord
from ..adapters._values import Skipped
from ..decide._evaluate import evaluate
from ..model._outcome import History, Outcome
from ..policy._compile import CompiledPolicy
from ..policy._layers import default_policy
from ..policy._tenants import PolicyStore
from ._compare import ReplaySummary, changed_fields
from ._decision_log import is_log_entry, read_log_entry


@attrs.frozen
class ReplayConfig:
    """What a replay compares: the new policies (``policy_dir``'s tenants on the default), the baseline
    (``baseline_dir``'s tenants; without it, logged decisions, and the shipped default for raw reports), the
    time raw reports are decided at, and how raw reports are read."""

    policy_dir: str | PathLike[str] | None
    baseline_dir: str | PathLike[str] | None = None
    now: datetime | None = None
    provider: str | None = None
    channel: str | None = None
    tenant: str | None = None
    #: Whether to produce the per-record JSON lines (the table and HTML formats need only the summary).
    lines: bool = True
    #: The longest record read (as in `read_records`); give `read_chunks` the same.
    max_bytes: int = MAX_RECORD_BYTES
    #: Tenants without a file get the default policy (as `evaluate --default-for-unknown-tenants` gave them)
    #: instead of an error record.
    default_for_unknown: bool = False


@attrs.frozen
class ChunkResult:
    """A replayed chunk: how many records it held, its output lines with the record numbers left out (chunk-local
    numbers; the parent fills in the run-wide ones), and its summary (record numbers in samples also within the
    chunk).  Bytes and integer lists cross process boundaries cheaply."""

    records: int
    lines: NumberedText
    summary: ReplaySummary
    #: The chunk ended inside a multi-line document: it was not cut between records, so this result is dropped
    #: and the chunk is replayed again joined to the next one.
    ended_open: bool = False


class _Lines(NumberedText):
    """Output lines of one chunk as they are made."""

    __slots__ = ()

    def __len__(self) -> int:
        return len(self.numbers)

    def line(self, number: int, body: str) -> None:
        """One line: ``body`` is the JSON object up to ``"input": ``."""
        self.add_line(body, number, "}")


class _Policies:
    """The compiled policy per tenant, looked up once per tenant and kept for the whole run."""

    def __init__(self, policy_dir: str | PathLike[str] | None, *, default_for_unknown: bool = False) -> None:
        self._store = PolicyStore(policy_dir, default_for_unknown=default_for_unknown) \
            if policy_dir is not None else None
        self._found: dict[str | None, CompiledPolicy | DlrpolicyError] = {}

    def get(self, tenant: str | None) -> CompiledPolicy:
        found = self._found.get(tenant)
        if found is None:
            try:
                if self._store is None:
                    found = default_policy()
                else:
                    found = self._store.default if tenant is None else self._store.get(tenant)
            except DlrpolicyError as exc:
                found = exc
            self._found[tenant] = found
        if isinstance(found, DlrpolicyError):
            raise PayloadError("$.tenant", f"tenant {tenant}: {found}")
        return found


def _error_body(exc: Exception) -> str:
    return json.dumps({"error": error_fields(exc)})[:-1] + ', "input": '


class Replayer:
    """Replays records under the configured policies (one per process: it caches compiled tenants)."""

    def __init__(self, config: ReplayConfig) -> None:
        self.config = config
        self._new = _Policies(config.policy_dir, default_for_unknown=config.default_for_unknown)
        self._old = _Policies(config.baseline_dir, default_for_unknown=config.default_for_unknown)
        self._use_logged = config.baseline_dir is None

    def warm(self) -> None:
        """Compile the policies the configured tenant needs now (forked workers inherit them)."""
        for policies in (self._new, self._old):
            with contextlib.suppress(DlrpolicyError):
                policies.get(self.config.tenant)
                policies.get(None)

    def run_chunk(self, chunk: Chunk) -> ChunkResult:
        """Replay one chunk; never raises for bad input (each bad record becomes an error line)."""
        summary = ReplaySummary()
        lines = _Lines()
        count = 0
        records = ChunkRecords(chunk, max_bytes=self.config.max_bytes)
        for record in records:
            count += 1
            self._record(record, summary, lines)
        if records.ended_open:
            # The chunk ended inside a document that goes on in the next chunk: it is replayed again with it.
            return ChunkResult(0, NumberedText(), ReplaySummary(), ended_open=True)
        summary.records = count
        if not self.config.lines:
            return ChunkResult(count, NumberedText(), summary)
        return ChunkResult(count, lines.finish(), summary)

    def _record(self, record: RawRecord, summary: ReplaySummary, lines: _Lines) -> None:
        number = record.number
        before = len(lines) + summary.errors + summary.skipped + summary.overall.decisions
        try:
            if record.error is not None:
                raise record.error
            value = record.value
            if is_log_entry(value):
                entry = read_log_entry(value)  # type: ignore[arg-type]
                tenant = entry.tenant or self.config.tenant
                new = self._decide(self._new.get(tenant), entry.outcome, entry.now, entry.history)
                old = dict(entry.decision) if self._use_logged else \
                    self._decide(self._old.get(tenant), entry.outcome, entry.now, entry.history)
                self._compare(number, entry.outcome, tenant, old, new, summary, lines)
                return
            now = self.config.now
            if now is None:
                raise PayloadError("$", "a raw report needs a time to be decided at: pass --now")
            found = read_record(value, provider=self.config.provider, channel=self.config.channel,
                                tenant=self.config.tenant)
            for item in found.items:
                if isinstance(item, PayloadError):
                    summary.errors += 1
                    lines.line(number, _error_body(item))
                    continue
                if isinstance(item, Skipped):
                    summary.skipped += 1
                    lines.line(number, json.dumps({"skipped": skipped_fields(item)})[:-1] + ', "input": ')
                    continue
                try:
                    new = self._decide(self._new.get(found.tenant), item, now, found.history)
                    old = self._decide(self._old.get(found.tenant), item, now, found.history)
                except DlrpolicyError as exc:
                    summary.errors += 1
                    lines.line(number, _error_body(exc))
                    continue
                self._compare(number, item, found.tenant, old, new, summary, lines)
        except Exception as exc:
            summary.errors += 1
            lines.line(number, _error_body(exc))
        if len(lines) + summary.errors + summary.skipped + summary.overall.decisions == before:  # nothing dropped
            summary.errors += 1
            lines.line(number, _error_body(PayloadError("$", "the record produced no outcome")))

    @staticmethod
    def _decide(policy: CompiledPolicy, outcome: Outcome, now: datetime, history: History | None) -> dict[str, Any]:
        return evaluate(policy, outcome, now=now, history=history).to_json()

    def _compare(self, number: int, outcome: Outcome, tenant: str | None, old: dict[str, Any], new: dict[str, Any],
                 summary: ReplaySummary, lines: _Lines) -> None:
        fields = changed_fields(old, new)
        summary.add(old, new, fields=fields, tenant=tenant, provider=outcome.provider, channel=outcome.channel,
                    number=number, message_id=outcome.message_id)
        if self.config.lines:
            body = json.dumps({"message_id": outcome.message_id, "tenant": tenant, "provider": outcome.provider,
                               "channel": outcome.channel, "changed": bool(fields), "fields": fields, "old": old,
                               "new": new})
            lines.line(number, body[:-1] + ', "input": ')


_WORKER: Replayer | None = None


def _start_worker(config: ReplayConfig) -> None:
    global _WORKER
    if _WORKER is None or _WORKER.config != config:  # forked workers already hold the parent's warm replayer
        _WORKER = Replayer(config)


def _run_in_worker(job: Job) -> ChunkResult:
    assert _WORKER is not None, "worker not started"
    return _WORKER.run_chunk(job.chunk)


def _warm(config: ReplayConfig) -> None:
    global _WORKER
    _WORKER = Replayer(config)
    _WORKER.warm()


def replay_chunks(chunks: Iterable[Chunk], config: ReplayConfig, *, workers: int = 1,
                  write: Callable[[bytes], object] | None = None) -> ReplaySummary:
    """Replay ``chunks`` on ``workers`` processes (1: in this one), writing each record's JSON lines through
    ``write`` in input order (when the config asks for lines); returns the merged summary."""
    if workers < 1:
        raise ValueError("workers must be >= 1")
    global _WORKER
    summary = ReplaySummary()
    # The parent's replayer, warm: forked workers inherit it (see `_start_worker`).
    _warm(config)
    try:
        done = 0
        for result in run_chunks(chunks, _run_in_worker, workers=workers, initializer=_start_worker,
                                 initarg=config):
            if write is not None and result.lines.numbers:
                write(result.lines.spliced(done))
            summary.merge(result.summary, offset=done)
            done += result.records
    finally:
        _WORKER = None
    return summary
