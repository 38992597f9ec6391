"""Replay: re-decide logged outcomes (or raw reports) under a new policy and compare with the old decisions —
the logged ones, or those of a baseline policy.  Pure apart from reading its input: it writes to no store.

Input is cut into chunks of whole records (`read_chunks`), each replayed on its own (`Replayer.run_chunk`), in this
process or in worker processes (`replay_chunks`), and the results are put back in input order, so the output is
the same for any number of workers and memory stays flat for any input size."""

from __future__ import annotations

import concurrent.futures
import contextlib
import gc
import io
import json
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from os import PathLike
from typing import Any

import attrs

from .._errors import DlrpolicyError, PayloadError
from ..adapters._records import error_fields, read_record, skipped_fields
from ..adapters._stream import MAX_RECORD_BYTES, RawRecord, RecordStream
from ..adapters._values import Skipped
from ..decide._evaluate import evaluate
from ..model._outcome import History, Outcome
from ..policy._compile import CompiledPolicy
from ..policy._layers import default_policy
from ..policy._tenants import PolicyStore
from ._chunks import Chunk, shifted
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


@attrs.frozen
class ChunkResult:
    """A replayed chunk: how many records it held, its output lines (ASCII, each up to its record number: line
    ``i`` is ``text[ends[i - 1]:ends[i]]`` followed by the number), the record number of each line within the
    chunk, and its summary (record numbers in samples also within the chunk).  Bytes and integer lists cross
    process boundaries cheaply; the parent only splices in the numbers."""

    records: int
    text: bytes
    ends: list[int]
    numbers: list[int]
    summary: ReplaySummary
    #: The chunk ended inside a multi-line document: it was not cut between records, so this result is dropped
    #: and the chunk is replayed again joined to the next one.
    ended_open: bool = False


class _Lines:
    """Output lines of one chunk as they are made."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.ends: list[int] = []
        self.numbers: list[int] = []
        self._size = 0

    def __len__(self) -> int:
        return len(self.numbers)

    def add(self, number: int, body: str) -> None:
        """One line: ``body`` is the JSON object up to ``"input": `` (ASCII, so its length is its size)."""
        self.parts.append(body)
        self._size += len(body)
        self.ends.append(self._size)
        self.numbers.append(number)


class _Policies:
    """The compiled policy per tenant, looked up once per tenant and kept for the whole run."""

    def __init__(self, policy_dir: str | PathLike[str] | None) -> None:
        self._store = PolicyStore(policy_dir) if policy_dir is not None else None
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
        self._new = _Policies(config.policy_dir)
        self._old = _Policies(config.baseline_dir)
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
        reader = RecordStream(io.BytesIO(chunk.data), name=chunk.name, start=1, max_bytes=self.config.max_bytes)
        for record in shifted(reader, chunk.name, chunk.first_line - 1):
            if reader.ended_open and not chunk.final:
                # The records from here on are the reader's view of an input that ended early; the whole input
                # goes on in the next chunk, so the chunk is replayed again with it (see `replay_chunks`).
                return ChunkResult(0, b"", [], [], ReplaySummary(), ended_open=True)
            count += 1
            self._record(record, summary, lines)
        if reader.ended_open and not chunk.final:  # defensive: the loop above returns first
            return ChunkResult(0, b"", [], [], ReplaySummary(), ended_open=True)
        summary.records = count
        if not self.config.lines:
            return ChunkResult(count, b"", [], [], summary)
        return ChunkResult(count, "".join(lines.parts).encode("ascii"), lines.ends, lines.numbers, summary)

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
                    lines.add(number, _error_body(item))
                    continue
                if isinstance(item, Skipped):
                    summary.skipped += 1
                    lines.add(number, json.dumps({"skipped": skipped_fields(item)})[:-1] + ', "input": ')
                    continue
                try:
                    new = self._decide(self._new.get(found.tenant), item, now, found.history)
                    old = self._decide(self._old.get(found.tenant), item, now, found.history)
                except DlrpolicyError as exc:
                    summary.errors += 1
                    lines.add(number, _error_body(exc))
                    continue
                self._compare(number, item, found.tenant, old, new, summary, lines)
        except Exception as exc:
            summary.errors += 1
            lines.add(number, _error_body(exc))
        if len(lines) + summary.errors + summary.skipped + summary.overall.decisions == before:  # nothing dropped
            summary.errors += 1
            lines.add(number, _error_body(PayloadError("$", "the record produced no outcome")))

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
            lines.add(number, body[:-1] + ', "input": ')


_WORKER: Replayer | None = None


def _start_worker(config: ReplayConfig) -> None:
    global _WORKER
    if _WORKER is None or _WORKER.config != config:  # forked workers already hold the parent's warm replayer
        _WORKER = Replayer(config)


def _run_in_worker(chunk: Chunk) -> ChunkResult:
    assert _WORKER is not None, "worker not started"
    return _WORKER.run_chunk(chunk)


def _in_order(chunks: Iterator[Chunk], submit: Callable[[Chunk], Callable[[], ChunkResult]],
              ahead: int) -> Iterator[ChunkResult]:
    """The results of ``chunks`` in input order, up to ``ahead`` submitted at once.  A chunk that ended inside a
    document is submitted again joined to the next chunk (whose own result, read from the middle of that
    document, is dropped) until the joined chunk ends between records."""
    pending: deque[tuple[Chunk, Callable[[], ChunkResult]]] = deque()

    def fill() -> None:
        while len(pending) < ahead:
            chunk = next(chunks, None)
            if chunk is None:
                return
            pending.append((chunk, submit(chunk)))

    fill()
    while pending:
        chunk, result_of = pending.popleft()
        result = result_of()
        while result.ended_open:
            fill()
            # A chunk that is not final always has a next one; were it missing, the chunk is read as final.
            chunk = chunk.joined(pending.popleft()[0]) if pending else attrs.evolve(chunk, final=True)
            result = submit(chunk)()
        yield result
        fill()


def _pooled(chunks: Iterator[Chunk], config: ReplayConfig, workers: int) -> Iterator[ChunkResult]:
    global _WORKER
    # fork shares the parent's compiled policies with the workers; elsewhere each worker compiles its own.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    _WORKER = Replayer(config)
    _WORKER.warm()
    # The pool forks its workers at the first submit: until it is shut down, keep the warm replayer for them to
    # inherit, and the inherited objects frozen, so the workers' garbage collector leaves their pages shared.
    gc.freeze()
    try:
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                                                    initargs=(config,)) as pool:
            # A bounded number of chunks in flight keeps memory flat and every worker busy.
            yield from _in_order(chunks, lambda chunk: pool.submit(_run_in_worker, chunk).result, 3 * workers)
    finally:
        gc.unfreeze()
        _WORKER = None


def replay_chunks(chunks: Iterable[Chunk], config: ReplayConfig, *, workers: int = 1,
                  write: Callable[[bytes], object] | None = None) -> ReplaySummary:
    """Replay ``chunks`` on ``workers`` processes (1: in this one), writing each record's JSON lines through
    ``write`` in input order (when the config asks for lines); returns the merged summary."""
    if workers < 1:
        raise ValueError("workers must be >= 1")
    summary = ReplaySummary()
    results: Iterable[ChunkResult]
    if workers == 1:
        replayer = Replayer(config)
        results = _in_order(iter(chunks), lambda chunk: lambda: replayer.run_chunk(chunk), 1)
    else:
        results = _pooled(iter(chunks), config, workers)
    done = 0
    for result in results:
        if write is not None and result.numbers:
            view = memoryview(result.text)
            pieces: list[bytes | memoryview] = []
            start = 0
            for end, number in zip(result.ends, result.numbers, strict=True):
                pieces.append(view[start:end])
                pieces.append(b"%d}\n" % (done + number))
                start = end
            write(b"".join(pieces))
        summary.merge(result.summary, offset=done)
        done += result.records
    return summary
