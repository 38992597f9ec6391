"""Time rules: send windows in a zone, calendar times ("next_day 00:05"), bounded backoff with jitter that is
derived from the message id and attempt (never from a random generator), so evaluation stays pure."""

from __future__ import annotations

import math
import re
import zlib
from datetime import datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import attrs

from ._duration import format_duration

WEEKDAYS: Final[tuple[str, ...]] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"([01]\d|2[0-4]):([0-5]\d)")
_RANGE = re.compile(r"(\d\d:\d\d)-(\d\d:\d\d)")
_AT = re.compile(r"(next_day|next)\s+(\d\d:\d\d)")


def parse_hhmm(text: str) -> int:
    """``"08:30"`` -> minutes after midnight (``"24:00"`` is allowed as the end of a day)."""
    match = _HHMM.fullmatch(text)
    if match is None or (match.group(1) == "24" and match.group(2) != "00"):
        raise ValueError(f"{text!r} is not a time of day HH:MM")
    return int(match.group(1)) * 60 + int(match.group(2))


def parse_range(text: str) -> tuple[int, int]:
    """``"08:00-20:50"`` -> (480, 1250).  A range whose end is not after its start runs past midnight."""
    match = _RANGE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a daily range HH:MM-HH:MM")
    start, end = parse_hhmm(match.group(1)), parse_hhmm(match.group(2))
    if start == end:
        raise ValueError(f"{text!r} is empty: start and end are the same time")
    return start, end


@attrs.frozen
class Window:
    """Allowed sending hours in a time zone, per weekday: ``ranges[weekday]`` holds (start, end) minutes.

    A range whose end is before its start runs past midnight into the next day.
    """

    name: str
    zone: ZoneInfo
    ranges: tuple[tuple[tuple[int, int], ...], ...]

    def _intervals(self, day: datetime) -> list[tuple[datetime, datetime]]:
        # Intervals (local, aware) that start on `day`'s date; overnight ranges end on the next date.
        out = []
        for start, end in self.ranges[day.weekday()]:
            begin = datetime.combine(day.date(), time(start // 60, start % 60), tzinfo=self.zone)
            if end > start:
                finish = (
                    datetime.combine(day.date(), time(end // 60, end % 60), tzinfo=self.zone)
                    if end < 1440
                    else datetime.combine(day.date() + timedelta(days=1), time(0, 0), tzinfo=self.zone)
                )
            else:
                finish = datetime.combine(day.date() + timedelta(days=1), time(end // 60, end % 60), tzinfo=self.zone)
            out.append((begin, finish))
        return out

    def contains(self, moment: datetime) -> bool:
        """True when ``moment`` falls inside an allowed range."""
        local = moment.astimezone(self.zone)
        for offset in (-1, 0):
            for begin, finish in self._intervals(local + timedelta(days=offset)):
                if begin <= local < finish:
                    return True
        return False

    def next_opening(self, moment: datetime) -> datetime:
        """``moment`` itself when allowed, else the start of the next allowed range (in UTC-comparable form)."""
        if self.contains(moment):
            return moment
        local = moment.astimezone(self.zone)
        for offset in range(8):
            for begin, _finish in sorted(self._intervals(local + timedelta(days=offset))):
                if begin > local:
                    return begin
        raise ValueError(f"window {self.name!r} has no allowed hours")

    def describe(self) -> str:
        """``08:00-20:50 Asia/Seoul`` (or per weekday when the days differ)."""
        def fmt(ranges: tuple[tuple[int, int], ...]) -> str:
            return ",".join(f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in ranges) or "closed"

        if len(set(self.ranges)) == 1:
            return f"{fmt(self.ranges[0])} {self.zone.key}"
        days = " ".join(f"{d}={fmt(r)}" for d, r in zip(WEEKDAYS, self.ranges, strict=True))
        return f"{days} {self.zone.key}"


@attrs.frozen
class CalendarTime:
    """A calendar instant relative to ``now`` in a zone: ``next_day HH:MM`` (tomorrow at HH:MM) or
    ``next HH:MM`` (the first HH:MM strictly after now)."""

    mode: str
    minute_of_day: int
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: str, zone: ZoneInfo) -> CalendarTime:
        """Parse ``"next_day 00:05"`` / ``"next 08:00"``; raise ValueError naming the accepted forms."""
        match = _AT.fullmatch(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f'{text!r} is not a calendar time: write "next_day HH:MM" or "next HH:MM"')
        try:
            minute = parse_hhmm(match.group(2))
        except ValueError as exc:
            raise ValueError(f'{text!r}: {exc}; write "next_day HH:MM" or "next HH:MM"') from None
        if minute >= 1440:
            raise ValueError(f'{text!r}: use 00:00 rather than 24:00 in "next HH:MM"')
        return cls(match.group(1), minute, zone)

    def after(self, now: datetime) -> datetime:
        """The instant this calendar time names, seen from ``now``."""
        local = now.astimezone(self.zone)
        at = time(self.minute_of_day // 60, self.minute_of_day % 60)
        if self.mode == "next_day":
            return datetime.combine(local.date() + timedelta(days=1), at, tzinfo=self.zone)
        candidate = datetime.combine(local.date(), at, tzinfo=self.zone)
        if candidate <= local:
            candidate = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=self.zone)
        return candidate

    def describe(self) -> str:
        """``next_day 00:05 America/New_York``."""
        return f"{self.mode} {self.minute_of_day // 60:02d}:{self.minute_of_day % 60:02d} {self.zone.key}"


@attrs.frozen
class Backoff:
    """Exponential backoff: ``initial * factor**(n-1)`` capped at ``max``, spread by +/- ``jitter`` (a fraction)."""

    initial: timedelta
    factor: float
    max: timedelta
    jitter: float
    # Seconds as floats, computed once: delay() runs on every retry decision.
    _initial_s: float = attrs.field(init=False, eq=False, repr=False)
    _max_s: float = attrs.field(init=False, eq=False, repr=False)
    _cap_after: int = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_initial_s", self.initial.total_seconds())
        object.__setattr__(self, "_max_s", self.max.total_seconds())
        # The first retry number whose delay is surely at the cap (the exponent stops mattering there).
        cap_after = 1_000_000
        if self.factor > 1.0 and self._initial_s > 0:
            cap_after = 1 + math.ceil(math.log(max(self._max_s / self._initial_s, 1.0)) / math.log(self.factor))
        object.__setattr__(self, "_cap_after", cap_after)

    def delay(self, retry_number: int, message_id: str | None) -> timedelta:
        """The delay before retry number ``retry_number`` (1 for the first retry) of ``message_id``."""
        base = self._capped(retry_number)
        if self.jitter:
            base *= 1.0 + self.jitter * (2.0 * jitter_fraction(message_id, retry_number) - 1.0)
        return timedelta(seconds=base if base > 0.0 else 0.0)

    def shortest_delay(self, retry_number: int) -> timedelta:
        """The least the delay before retry ``retry_number`` can be, jitter at its lowest (for attempt bounds)."""
        return timedelta(seconds=max(self._capped(retry_number) * (1.0 - self.jitter), 0.0))

    def _capped(self, retry_number: int) -> float:
        """``initial * factor ** (n - 1)`` capped at ``max``, in seconds."""
        # Past the cap the exponent no longer matters: checking it first keeps factor ** n from overflowing when
        # a rule bounded only by its deadline reaches attempt 1,025 and beyond.
        if retry_number > self._cap_after:
            return self._max_s
        if self._initial_s <= 0.0:
            return 0.0
        return min(self._initial_s * self.factor ** (retry_number - 1), self._max_s)

    def describe(self) -> str:
        """``backoff 30s x2 up to 1h +/-10%``."""
        return (
            f"backoff {format_duration(self.initial)} x{self.factor:g} up to {format_duration(self.max)}"
            + (f" +/-{self.jitter:.0%}" if self.jitter else "")
        )


def jitter_fraction(message_id: str | None, attempt: int) -> float:
    """A number in [0, 1) fixed by ``message_id`` and ``attempt``: the same inputs always spread the same way."""
    return zlib.crc32(f"{message_id or ''}\x00{attempt}".encode()) / 4294967296.0
