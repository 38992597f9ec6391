"""Flood control, decided in memory from counters the store keeps per (tenant, route): a retry budget (retries
may add at most a share of the route's recent reports) and a circuit breaker (a route whose flood failures
cross a ratio opens, defers retries until a half-open probe succeeds, and doubles its break on each failed probe).

Retries count in the bucket they come due in, so a window's budget covers what reaches the provider in it; a retry
that does not fit is deferred to the first later bucket with room, at most ``allowed / buckets`` per bucket,
evenly spaced: deferred retries come due at the budget's rate over the following windows (and count there), not
all in the instant the budget recovers.  Retries the breaker holds back go through the same budget from its end.

Counters live in buckets of a sixth of the longer window.  The store reads them together with the message's
history and writes the increments in the report's own transaction (SQLite) or script (Redis), so flood control
adds no round trip and no transaction."""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import attrs

from ..model._datetimes import iso_z
from ..model._decision import Decision
from ..model._duration import format_duration
from ..policy._settings import StateSettings
from ._codec import from_ts, ts

#: Buckets per window.
BUCKETS = 6


@attrs.frozen
class RouteCounters:
    """What the store holds for one route: bucket -> (reports, retries, flood failures), and the breaker:
    ``until`` (0: closed; in the past: half-open), the current break in seconds, and a generation that makes
    concurrent transitions apply once."""

    buckets: Mapping[int, tuple[int, int, int]] = attrs.field(factory=dict)
    until: float = 0.0
    brk: float = 0.0
    gen: int = 0
    #: When the breaker last closed: reports before it no longer count towards opening it.
    since: float = 0.0


EMPTY = RouteCounters()


# Not slotted (like Outcome and Decision): a frozen attrs class with a __dict__ builds about twice as fast, and
# one of these is built per recorded report.
@attrs.frozen(slots=False)
class FloodChange:
    """What flood control did: the (possibly adjusted) decision, notes for the result, and the writes."""

    decision: Decision
    notes: tuple[str, ...]
    bucket: int
    add: tuple[int, int, int]
    #: The bucket a retry is counted in (the one it comes due in), or None.
    retry_bucket: int | None
    keep_from: int
    #: New breaker state (until, break seconds, closed since) to write if the generation is still ``gen``.
    breaker: tuple[float, float, float] | None
    gen: int


@attrs.frozen
class _Spans:
    size: float
    budget_buckets: int
    breaker_buckets: int
    base: float
    ceiling: float


_SPANS: dict[int, tuple[StateSettings, _Spans]] = {}


def _spans(settings: StateSettings) -> _Spans:
    # Settings objects live as long as their compiled policy; their spans are computed once, not per report.
    found = _SPANS.get(id(settings))
    if found is None or found[0] is not settings:
        size = bucket_size(settings)
        spans = _Spans(size, max(1, math.ceil(settings.budget.window.total_seconds() / size)),
                       max(1, math.ceil(settings.breaker.window.total_seconds() / size)),
                       settings.breaker.break_for.total_seconds(), settings.breaker.max_break.total_seconds())
        if len(_SPANS) > 1024:
            _SPANS.clear()
        found = _SPANS[id(settings)] = (settings, spans)
    return found[1]


def bucket_size(settings: StateSettings) -> float:
    """Seconds per counter bucket."""
    return max(settings.budget.window, settings.breaker.window).total_seconds() / BUCKETS


def _sums(counters: RouteCounters, current: int, count: int, first: int | None = None) -> tuple[int, int]:
    reports = failures = 0
    start = current - count + 1 if first is None else max(first, current - count + 1)
    get = counters.buckets.get
    for b in range(start, current + 1):
        found = get(b)
        if found is not None:
            reports += found[0]
            failures += found[2]
    return reports, failures


def _spread(key: str, size: float) -> float:
    # Retries the breaker holds back would otherwise all come due at the instant it ends; spread them over one
    # bucket, derived from the message key (deterministic, like evaluate's jitter).
    return (zlib.crc32(key.encode()) % 1000) / 1000 * size


#: How far ahead (in windows) a deferred retry looks for room in the budget before it takes the last slot seen.
HORIZON_WINDOWS = 60


def _fits(counters: RouteCounters, bucket: int, count: int, allowed: float) -> bool:
    # One more retry due in ``bucket`` keeps every window that contains it (those ending at bucket ...
    # bucket + count - 1) within the budget.
    retries = [counters.buckets.get(b, (0, 0, 0))[1] for b in range(bucket - count + 1, bucket + count)]
    total = sum(retries[:count])
    for end in range(count - 1, 2 * count - 1):
        if end >= count:
            total += retries[end] - retries[end - count]
        if total + 1 > allowed:
            return False
    return True


def _budget_slot(counters: RouteCounters, start: int, count: int, allowed: float) -> tuple[int, float]:
    """The first bucket from ``start`` where a deferred retry fits the budget, and where in it: deferred retries
    go at most ``allowed / count`` to a bucket, evenly spaced inside it, so they come due at the budget's rate
    over the following windows instead of all at once when it recovers."""
    cap = max(1, math.ceil(allowed / count))
    bucket = start
    for bucket in range(start, start + HORIZON_WINDOWS * count):
        taken = counters.buckets.get(bucket, (0, 0, 0))[1]
        if taken < cap and _fits(counters, bucket, count, allowed):
            return bucket, taken / cap
    return bucket, 0.0


def control(decision: Decision, *, settings: StateSettings, route: str, channel: str, counters: RouteCounters,
            now: float, key: str) -> FloodChange:
    """Apply the budget and the breaker of ``route`` to ``decision`` (made about a report on ``channel``)."""
    spans = _spans(settings)
    size = spans.size
    current = math.floor(now / size)
    flood = decision.rule in settings.flood
    budget, breaker = settings.budget, settings.breaker
    retry = decision.verdict == "retry" and decision.retry_at is not None and decision.channel in (None, channel)
    notes: list[str] = []  # breaker transitions, always reported
    deferral = ""  # why the retry moved, reported when it did
    defer_to: float | None = None
    new_breaker: tuple[float, float, float] | None = None
    if breaker.enabled:
        base = spans.base
        current_break = counters.brk or base
        if counters.until > now:
            defer_to = counters.until
            deferral = f"circuit breaker {route} is open until {iso_z(from_ts(counters.until))}"
        elif counters.until > 0:  # half-open: this report is a probe
            if flood:
                grown = min(current_break * 2, spans.ceiling)
                new_breaker = (now + grown, grown, counters.since)
                defer_to = now + grown
                notes.append(f"circuit breaker {route} probe failed; open again for {_span(grown)}")
            elif decision.verdict == "done":
                new_breaker = (0.0, 0.0, now)
                notes.append(f"circuit breaker {route} closed after a successful probe")
        else:
            count = spans.breaker_buckets
            # Buckets are coarse: after a close, count from the bucket after the one it closed in.
            first = math.floor(counters.since / size) + 1 if counters.since else None
            reports, failures = _sums(counters, current, count, first)
            reports, failures = reports + 1, failures + int(flood)
            if reports >= breaker.min_reports and failures / reports >= breaker.failure_ratio:
                new_breaker = (now + base, base, counters.since)
                defer_to = now + base
                notes.append(f"circuit breaker {route} opened: {failures} of {reports} reports in "
                             f"{format_duration(breaker.window)} were flood failures; open for {_span(base)}")
    retry_bucket: int | None = None
    budget_note = ""
    adjusted = decision
    if retry:
        assert decision.retry_at is not None
        due = ts(decision.retry_at)
        if defer_to is not None:  # the breaker is open: no retry before it ends
            due = max(due, defer_to + _spread(key, size))
        if budget.enabled:
            # Retries count in the bucket they come due in (when they reach the provider), deferred ones too,
            # against a share of the reports of the window ending now.
            count = spans.budget_buckets
            reports, _ = _sums(counters, current, count)
            allowed = max(budget.floor, budget.ratio * (reports + 1))
            retry_bucket = math.floor(due / size)
            if not _fits(counters, retry_bucket, count, allowed):
                retry_bucket, offset = _budget_slot(counters, retry_bucket + 1, count, allowed)
                due = (retry_bucket + offset) * size
                budget_note = (f"retry budget of {route} spent ({format_duration(budget.window)} windows allow "
                               f"{allowed:.0f} retries at {budget.ratio:.0%} of {reports + 1} reports)")
        if due > ts(decision.retry_at):
            moved = from_ts(due)
            if decision.give_up_at is not None and moved > decision.give_up_at:
                moved = decision.give_up_at
                retry_bucket = None if retry_bucket is None else math.floor(ts(moved) / size)
            notes += [note for note in (deferral, budget_note) if note]
            adjusted = attrs.evolve(decision, retry_at=moved, reason=f"{decision.reason} Flood control: "
                                    f"{'; '.join(notes)}; retry deferred to {iso_z(moved)}.")
    keep_from = current - BUCKETS * 2
    return FloodChange(adjusted, tuple(notes), current, (1, 0, int(flood)), retry_bucket, keep_from, new_breaker,
                       counters.gen)


class LiveCounters:
    """A route's counters while a batch is decided: read once, then each report's ``fc`` and ``brk`` ops applied
    as the stores apply them, so the next report of the batch reads what the ones before it did (else a storm
    recorded in one batch would never open the breaker).  The `RouteCounters` handed to reports share the live
    bucket dict (flood control reads it before the report's own ops are applied), so no bucket is copied per
    report; only a breaker change makes new ones.  ``dirty``, ``breaker_dirty`` and ``keep`` tell a store what
    to write."""

    def __init__(self, buckets: dict[int, tuple[int, int, int]], until: float = 0.0, brk: float = 0.0,
                 since: float = 0.0, gen: int = 0) -> None:
        self.buckets = buckets
        self.until, self.brk, self.since, self.gen = until, brk, since, gen
        self.dirty: set[int] = set()
        self.breaker_dirty = False
        self.keep = 0
        self._snapshot: RouteCounters | None = None

    def counters(self) -> RouteCounters:
        """The counters as the batch's reports so far left them."""
        if self._snapshot is None:
            self._snapshot = RouteCounters(self.buckets, self.until, self.brk, self.gen, self.since)
        return self._snapshot

    def apply(self, op: Mapping[str, Any]) -> None:
        """Apply one ``fc`` (counts; a retry counts in the bucket it comes due in) or ``brk`` op (a breaker
        transition, only at the generation it was decided at); other ops change no counters."""
        kind = op["op"]
        if kind == "fc":
            buckets, add, bucket, retry = self.buckets, op["add"], op["bucket"], op.get("xb")
            r, x, f = buckets.get(bucket, _ZERO)
            buckets[bucket] = (r + add[0], x + add[1], f + add[2])
            self.dirty.add(bucket)
            if retry is not None:
                r, x, f = buckets.get(retry, _ZERO)
                buckets[retry] = (r, x + 1, f)
                self.dirty.add(retry)
            self.keep = max(self.keep, op["keep"])
        elif kind == "brk" and op["gen"] == self.gen:
            self.until, self.brk, self.since = op["until"], op["brk"], op["since"]
            self.gen += 1
            self.breaker_dirty = True
            self._snapshot = None


_ZERO = (0, 0, 0)


def _span(seconds: float) -> str:
    return format_duration(timedelta(seconds=round(seconds)))
