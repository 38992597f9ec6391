"""Time rules: send windows in a zone, calendar times ("next_day 00:05"), bounded backoff with jitter that is
derived from the message id and attempt (never from a random generator), so evaluation stays pure."""

from __future__ import annotations

import functools
import math
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zlib import crc32
from zoneinfo import ZoneInfo

import attrs

from .._errors import quote
from ._duration import format_duration

WEEKDAYS: Final[tuple[str, ...]] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"([01]\d|2[0-4]):([0-5]\d)")
_RANGE = re.compile(r"(\d\d:\d\d)-(\d\d:\d\d)")
_AT = re.compile(r"(next_day|next)\s+(\d\d:\d\d)")


def parse_hhmm(text: str) -> int:
    """``"08:30"`` -> minutes after midnight (``"24:00"`` is allowed as the end of a day)."""
    match = _HHMM.fullmatch(text)
    if match is None or (match.group(1) == "24" and match.group(2) != "00"):
        raise ValueError(f"{quote(text)} is not a time of day HH:MM")
    return int(match.group(1)) * 60 + int(match.group(2))


def parse_range(text: str) -> tuple[int, int]:
    """``"08:00-20:50"`` -> (480, 1250).  A range whose end is not after its start runs past midnight."""
    match = _RANGE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{quote(text)} is not a daily range HH:MM-HH:MM")
    start, end = parse_hhmm(match.group(1)), parse_hhmm(match.group(2))
    if start == 1440:
        raise ValueError(f"{quote(text)} starts at 24:00, which ends a day: start at 00:00 instead")
    if start == end:
        raise ValueError(f"{quote(text)} is empty: start and end are the same time")
    return start, end


def _local(day: date, minute: int, zone: ZoneInfo, fold: int = 0) -> datetime:
    """The instant (in UTC) at which the wall clock in ``zone`` shows ``minute`` on ``day``; ``fold`` picks the
    first (0) or second (1) pass through a repeated hour.  A wall time in a spring-forward gap maps, as zoneinfo
    reads it, to the instant the clock would have shown it without the change."""
    if minute >= 1440:
        day, minute = day + timedelta(days=1), minute - 1440
    return datetime.combine(day, time(minute // 60, minute % 60, fold=fold), tzinfo=zone).astimezone(UTC)


_MINUTE: Final = timedelta(minutes=1)
_MICROSECOND: Final = timedelta(microseconds=1)
_ZERO: Final = timedelta(0)
_LAST_MICROSECOND: Final = timedelta(seconds=59, microseconds=999_999)
#: Minutes remembered per window or calendar time; the memo starts over when full (it only saves work).
_MEMO_MAX: Final = 4096
_MISSING: Final = object()


def _steady_minute(moment: datetime, zone: ZoneInfo) -> bool:
    """True when, for the whole UTC minute of ``moment``, the wall clock in ``zone`` moves in step with it (a
    whole-minute offset that does not change within the minute).

    Windows open and close, and calendar times fall, on whole wall-clock minutes, so within such a minute every
    instant gets the same answer: it can be remembered for the minute.  Minutes where the offset changes (a
    daylight-saving change) or is not whole (local mean time before 1972 in a few zones) are always computed."""
    start = moment.replace(second=0, microsecond=0)
    offset = start.astimezone(zone).utcoffset()
    return (offset is not None and not offset % _MINUTE
            and (start + _LAST_MICROSECOND).astimezone(zone).utcoffset() == offset)


def _remember(memo: dict[int, Any], minute: int, moment: datetime, zone: ZoneInfo, answer: object) -> None:
    """Keep ``answer`` for the UTC ``minute`` of ``moment`` when every instant of that minute gets it (a steady
    minute); the memo starts over when full."""
    if _steady_minute(moment, zone):
        if len(memo) >= _MEMO_MAX:
            memo.clear()
        memo[minute] = answer


# Windows and calendar times compare and return UTC instants and use the zone only to read wall clocks: aware
# datetimes that share a tzinfo compare by wall clock, which in a repeated hour puts 01:30 (first pass) after 01:20
# (second pass) and so produced retries before now.

@attrs.frozen
class Window:
    """Allowed sending hours in a time zone, per weekday: ``ranges[weekday]`` holds (start, end) minutes.

    A range whose end is before its start runs past midnight into the next day.  A moment is inside when the wall
    clock in ``zone`` reads inside a range (so both passes through a repeated hour count, and hours skipped by a
    spring-forward change never happen).
    """

    name: str
    zone: ZoneInfo
    ranges: tuple[tuple[tuple[int, int], ...], ...]
    # UTC minute -> None (the window is open through the minute) or the next opening (it is closed through it).
    _openings: dict[int, datetime | None] | None = attrs.field(default=None, init=False, eq=False, repr=False)
    #: What a decision's reason says when this window moved its retry (built once, not per decision).
    moved_note: str = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "moved_note", f" Moved to the next opening of window {self.name} "
                                               f"({self.describe()}).")

    def contains(self, moment: datetime) -> bool:
        """True when the wall clock in the window's zone reads inside an allowed range at ``moment``."""
        local = moment.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        weekday = local.weekday()
        for start, end in self.ranges[weekday]:
            if start <= minute and (minute < end or end < start):
                return True
        # Overnight ranges of the day before reach into this morning.
        return any(end < start and minute < end for start, end in self.ranges[weekday - 1])

    def next_opening(self, moment: datetime) -> datetime:
        """``moment`` itself (in UTC) when allowed, else the earliest later instant at which a range opens.

        Remembered per UTC minute (see `_steady_minute`): a report batch asks about the same few minutes again
        and again, and the zone arithmetic below costs several microseconds."""
        if moment.tzinfo is not UTC:
            moment = moment.astimezone(UTC)
        openings = self._openings
        if openings is None:  # made on first use: a tenant's windows that never decide cost nothing
            openings = {}
            object.__setattr__(self, "_openings", openings)
        key = int(moment.timestamp()) // 60
        found = openings.get(key, _MISSING)
        if found is _MISSING:
            opening = self.next_opening_computed(moment)
            _remember(openings, key, moment, self.zone, None if opening == moment else opening)
            return opening
        return moment if found is None else found  # type: ignore[return-value]

    def next_opening_computed(self, moment: datetime) -> datetime:
        """`next_opening` worked out from the zone's rules, without the memo."""
        moment = moment.astimezone(UTC)
        if self.contains(moment):
            return moment
        today = moment.astimezone(self.zone).date()
        for offset in range(9):
            day = today + timedelta(days=offset)
            # Both passes through a repeated hour are openings; a start in a skipped hour opens only if its
            # instant reads inside the window (a window wholly inside the gap does not open that day).
            found = [at for start, _end in self.ranges[day.weekday()] for fold in (0, 1)
                     if (at := _local(day, start, self.zone, fold)) > moment and self.contains(at)]
            if found:
                return min(found)
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
    # UTC minute -> the instant named from any moment of that minute.
    _instants: dict[int, datetime] | None = attrs.field(default=None, init=False, eq=False, repr=False)

    @classmethod
    def parse(cls, text: str, zone: ZoneInfo) -> CalendarTime:
        """Parse ``"next_day 00:05"`` / ``"next 08:00"``; raise ValueError naming the accepted forms."""
        match = _AT.fullmatch(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f'{quote(text)} is not a calendar time: write "next_day HH:MM" or "next HH:MM"')
        try:
            minute = parse_hhmm(match.group(2))
        except ValueError as exc:
            raise ValueError(f'{quote(text)}: {exc}; write "next_day HH:MM" or "next HH:MM"') from None
        if minute >= 1440:
            raise ValueError(f'{quote(text)}: use 00:00 rather than 24:00 in "next HH:MM"')
        return cls(match.group(1), minute, zone)

    def after(self, now: datetime) -> datetime:
        """The instant (in UTC) this calendar time names, seen from ``now`` (remembered per UTC minute, as
        `Window.next_opening` is)."""
        if now.tzinfo is not UTC:
            now = now.astimezone(UTC)
        instants = self._instants
        if instants is None:
            instants = {}
            object.__setattr__(self, "_instants", instants)
        key = int(now.timestamp()) // 60
        found = instants.get(key)
        if found is None:
            found = self.after_computed(now)
            _remember(instants, key, now, self.zone, found)
        return found

    def after_computed(self, now: datetime) -> datetime:
        """`after` worked out from the zone's rules, without the memo."""
        now = now.astimezone(UTC)
        today = now.astimezone(self.zone).date()
        if self.mode == "next_day":
            return _local(today + timedelta(days=1), self.minute_of_day, self.zone)
        for day in (today, today + timedelta(days=1)):
            for fold in (0, 1):
                candidate = _local(day, self.minute_of_day, self.zone, fold)
                if candidate > now:
                    return candidate
        return _local(today + timedelta(days=2), self.minute_of_day, self.zone)  # pragma: no cover - defensive

    def describe(self) -> str:
        """``next_day 00:05 America/New_York``."""
        return f"{self.mode} {self.minute_of_day // 60:02d}:{self.minute_of_day % 60:02d} {self.zone.key}"


@functools.lru_cache(maxsize=256)
def _capped_delays(initial: float, factor: float, most: float, cap_after: int) -> tuple[float, ...]:
    """``initial * factor ** (n - 1)`` capped at ``most`` for n in 0 .. 32 (what `Backoff._capped` computes)."""
    if initial <= 0.0:
        return (0.0,) * 33
    return tuple(most if n > cap_after else min(initial * factor ** (n - 1), most) for n in range(33))


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
    # The capped delay in seconds of retry numbers 0 .. 32, indexed by retry number (0 unused); shared by every
    # Backoff with the same numbers (tenants repeat the default's).
    _bases: tuple[float, ...] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_initial_s", self.initial.total_seconds())
        object.__setattr__(self, "_max_s", self.max.total_seconds())
        # The first retry number whose delay is surely at the cap (the exponent stops mattering there).
        cap_after = 2**62  # a factor of 1 (or less) never grows: no exponent overflows and none reaches the cap
        if self.factor > 1.0 and self._initial_s > 0:
            cap_after = 1 + math.ceil(math.log(max(self._max_s / self._initial_s, 1.0)) / math.log(self.factor))
        object.__setattr__(self, "_cap_after", cap_after)
        object.__setattr__(self, "_bases", _capped_delays(self._initial_s, self.factor, self._max_s, cap_after))

    def delay(self, retry_number: int, message_id: str | None) -> timedelta:
        """The delay before retry number ``retry_number`` (1 for the first retry) of ``message_id``."""
        bases = self._bases
        base = bases[retry_number] if retry_number < len(bases) else self._capped(retry_number)
        jitter = self.jitter
        if jitter:
            base *= 1.0 + jitter * (2.0 * jitter_fraction(message_id, retry_number) - 1.0)
        if base <= 0.0:
            return _ZERO
        # timedelta(seconds=base) exactly (whole seconds, then the fraction's microseconds rounded half to even,
        # as datetime does), at half the cost of parsing keyword arguments.
        whole = int(base)
        return _MICROSECOND * (whole * 1_000_000 + round((base - whole) * 1e6))

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
    text = (message_id or "") + (_ATTEMPT_SUFFIXES[attempt] if 0 <= attempt < 256 else f"\x00{attempt}")
    try:
        data = text.encode()
    except UnicodeEncodeError:
        # A lone surrogate ("\ud800", which JSON escapes can produce) is still an id: surrogatepass encodes it.
        # Every other string takes the line above, whose bytes are the same (and cost half).
        data = text.encode("utf-8", "surrogatepass")
    return crc32(data) / 4294967296.0


# "\x00<attempt>" for the attempt numbers retries reach, built once.
_ATTEMPT_SUFFIXES: Final = tuple(f"\x00{n}" for n in range(256))
