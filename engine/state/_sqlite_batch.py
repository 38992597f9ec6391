"""What a SQLite batch transaction holds in memory until it commits: each route's flood counters (read once,
updated per report) and the writes held back to one statement per table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ._flood import RouteCounters


class Route:
    """A route's flood counters while a transaction runs: read once, updated in memory, written at commit.

    The `RouteCounters` handed to reports share the live bucket dict (flood control only reads it, before the
    report's own ops are applied), so a batch does not copy every bucket once per report; only a breaker change
    makes a new one."""

    def __init__(self, buckets: dict[int, tuple[int, int, int]], until: float, brk: float, since: float,
                 gen: int) -> None:
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

    def add(self, bucket: int, add: Sequence[int], retry_bucket: int | None) -> None:
        """Count a report's increments (and its retry in the bucket it comes due in)."""
        buckets = self.buckets
        r, x, f = buckets.get(bucket, _ZERO)
        buckets[bucket] = (r + add[0], x + add[1], f + add[2])
        self.dirty.add(bucket)
        if retry_bucket is not None:
            r, x, f = buckets.get(retry_bucket, _ZERO)
            buckets[retry_bucket] = (r, x + 1, f)
            self.dirty.add(retry_bucket)

    def changed(self) -> None:
        """The breaker changed: the next report gets new counters."""
        self._snapshot = None


_ZERO: Final = (0, 0, 0)


class Batch:
    """Writes of a batch held until its end: each message's newest state, each key's schedule entry, the links
    and the suppressions (merged in the order the reports asked for them), each table with one statement."""

    def __init__(self) -> None:
        self.messages: dict[tuple[str, str], tuple[int, str]] = {}
        self.schedule: dict[tuple[str, str], dict[str, Any] | None] = {}
        self.links: dict[tuple[str, str], str] = {}
        self.suppressions: list[Mapping[str, Any]] = []
