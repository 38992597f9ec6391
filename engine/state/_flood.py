"""Flood control, decided in memory from counters the store keeps per (tenant, route): a retry budget (retries
may add at most a share of the route's recent reports) and a circuit breaker (a route whose flood failures
cross a ratio opens, defers retries until a half-open probe succeeds, and doubles its break on each failed probe).

Counters live in buckets of a sixth of the longer window.  The store reads them together with the message's
history and writes the increments in the report's own transaction (SQLite) or script (Redis), so flood control
adds no round trip and no transaction."""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from datetime import timedelta

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


@attrs.frozen
class FloodChange:
    """What flood control did: the (possibly adjusted) decision, notes for the result, and the writes."""

    decision: Decision
    notes: tuple[str, ...]
    bucket: int
    add: tuple[int, int, int]
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


def _sums(counters: RouteCounters, current: int, count: int, first: int | None = None) -> tuple[int, int, int,
                                                                                              int | None]:
    reports = retries = failures = 0
    oldest_retry: int | None = None
    start = current - count + 1 if first is None else max(first, current - count + 1)
    for b in range(start, current + 1):
        r, x, f = counters.buckets.get(b, (0, 0, 0))
        reports, retries, failures = reports + r, retries + x, failures + f
        if x and oldest_retry is None:
            oldest_retry = b
    return reports, retries, failures, oldest_retry


def _spread(key: str, size: float) -> float:
    # Deferred retries would otherwise all come due at the same instant; spread them over one bucket, derived
    # from the message key (deterministic, like evaluate's jitter).
    return (zlib.crc32(key.encode()) % 1000) / 1000 * size


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
            reports, _, failures, _ = _sums(counters, current, count, first)
            reports, failures = reports + 1, failures + int(flood)
            if reports >= breaker.min_reports and failures / reports >= breaker.failure_ratio:
                new_breaker = (now + base, base, counters.since)
                defer_to = now + base
                notes.append(f"circuit breaker {route} opened: {failures} of {reports} reports in "
                             f"{format_duration(breaker.window)} were flood failures; open for {_span(base)}")
    counted = 0
    if retry and budget.enabled and defer_to is None:
        count = spans.budget_buckets
        reports, retries, _, oldest = _sums(counters, current, count)
        allowed = max(budget.floor, budget.ratio * (reports + 1))
        if retries + 1 > allowed:
            recover = ((oldest if oldest is not None else current) + count) * size
            defer_to = recover
            deferral = (f"retry budget of {route} spent ({retries} retries for {reports + 1} reports in "
                        f"{format_duration(budget.window)}, {budget.ratio:.0%} allowed)")
        else:
            counted = 1
    adjusted = decision
    if retry and defer_to is not None:
        assert decision.retry_at is not None
        target = defer_to + _spread(key, size)
        if target > ts(decision.retry_at):
            moved = from_ts(target)
            if decision.give_up_at is not None and moved > decision.give_up_at:
                moved = decision.give_up_at
            if deferral:
                notes.append(deferral)
            adjusted = attrs.evolve(decision, retry_at=moved, reason=f"{decision.reason} Flood control: "
                                    f"{'; '.join(notes)}; retry deferred to {iso_z(moved)}.")
    keep_from = current - BUCKETS * 2
    return FloodChange(adjusted, tuple(notes), current, (1, counted, int(flood)), keep_from, new_breaker,
                       counters.gen)


def _span(seconds: float) -> str:
    return format_duration(timedelta(seconds=round(seconds)))
