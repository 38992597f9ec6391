"""Tests for windows, calendar times, backoff and jitter."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlrpolicy.model._time_rules import Backoff, CalendarTime, Window, jitter_fraction, parse_range
from tests.strategies import offset_datetimes

SEOUL = ZoneInfo("Asia/Seoul")
NY = ZoneInfo("America/New_York")


def _daily(*ranges: str, zone: ZoneInfo = SEOUL) -> Window:
    """A window with the same ranges every day."""
    parsed = tuple(parse_range(r) for r in ranges)
    return Window("w", zone, (parsed,) * 7)


def test_window_moves_night_to_next_opening() -> None:
    """21:30 KST moves to 08:00 KST the next morning."""
    window = _daily("08:00-20:50")
    moment = datetime(2026, 11, 24, 21, 30, tzinfo=SEOUL)
    assert datetime(2026, 11, 25, 8, 0, tzinfo=SEOUL) == window.next_opening(moment)


def test_window_keeps_allowed_time() -> None:
    """A time inside the window is left alone."""
    moment = datetime(2026, 11, 24, 12, 0, tzinfo=SEOUL)
    assert moment == _daily("08:00-20:50").next_opening(moment)


def test_window_end_is_exclusive() -> None:
    """20:50 itself is outside 08:00-20:50."""
    assert not _daily("08:00-20:50").contains(datetime(2026, 11, 24, 20, 50, tzinfo=SEOUL))


def test_overnight_range() -> None:
    """A range ending before it starts runs past midnight."""
    window = _daily("21:00-08:00")
    assert window.contains(datetime(2026, 11, 24, 2, 0, tzinfo=SEOUL))
    noon = datetime(2026, 11, 24, 12, 0, tzinfo=SEOUL)
    assert datetime(2026, 11, 24, 21, 0, tzinfo=SEOUL) == window.next_opening(noon)


def test_weekday_window_skips_weekend() -> None:
    """Friday evening moves to Monday morning when weekends are closed."""
    weekday = (parse_range("09:00-17:00"),)
    window = Window("office", ZoneInfo("Europe/Berlin"), (weekday,) * 5 + ((), ()))
    friday = datetime(2026, 11, 27, 18, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert datetime(2026, 11, 30, 9, 0, tzinfo=ZoneInfo("Europe/Berlin")) == window.next_opening(friday)


@given(offset_datetimes)
def test_next_opening_is_inside_and_not_earlier(moment: datetime) -> None:
    """The opening is never before the moment and always inside the window."""
    window = _daily("08:00-20:50")
    opening = window.next_opening(moment)
    assert opening >= moment
    assert window.contains(opening)


@pytest.mark.parametrize("text", ["8:00-20:50", "08:00", "25:00-26:00", "08:00-08:00", "08:60-09:00"])
def test_bad_ranges(text: str) -> None:
    """Malformed or empty ranges are rejected."""
    with pytest.raises(ValueError, match=r"HH:MM|empty|time of day"):
        parse_range(text)


def test_next_day_in_new_york() -> None:
    """next_day 00:05 in New York from 10:00 UTC on the 24th is 05:05 UTC on the 25th."""
    at = CalendarTime.parse("next_day 00:05", NY)
    assert datetime(2026, 11, 25, 5, 5, tzinfo=UTC) == at.after(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))


def test_next_day_counts_local_date() -> None:
    """At 02:00 UTC it is still the previous day in New York, so next_day is the 24th local."""
    at = CalendarTime.parse("next_day 00:05", NY)
    assert datetime(2026, 11, 24, 0, 5, tzinfo=NY) == at.after(datetime(2026, 11, 24, 2, 0, tzinfo=UTC))


def test_next_time_of_day() -> None:
    """next 08:00 is today's 08:00 when still ahead, else tomorrow's."""
    at = CalendarTime.parse("next 08:00", SEOUL)
    assert datetime(2026, 11, 24, 8, 0, tzinfo=SEOUL) == at.after(datetime(2026, 11, 24, 7, 0, tzinfo=SEOUL))
    assert datetime(2026, 11, 25, 8, 0, tzinfo=SEOUL) == at.after(datetime(2026, 11, 24, 8, 0, tzinfo=SEOUL))


def test_dst_gap_is_handled() -> None:
    """A calendar time inside New York's spring-forward gap still yields an instant after now."""
    at = CalendarTime.parse("next_day 02:30", NY)
    now = datetime(2027, 3, 13, 12, 0, tzinfo=UTC)
    assert at.after(now) > now


@pytest.mark.parametrize("text", ["tomorrow", "next_day", "next_day 25:00", "next 24:00", "in 5m"])
def test_bad_calendar_times(text: str) -> None:
    """Unsupported calendar expressions are rejected with the accepted forms."""
    with pytest.raises(ValueError, match="next"):
        CalendarTime.parse(text, UTC)  # type: ignore[arg-type]


def test_backoff_grows_and_caps() -> None:
    """30s, 60s, 120s ... capped at the maximum."""
    backoff = Backoff(timedelta(seconds=30), 2.0, timedelta(minutes=5), 0.0)
    delays = [backoff.delay(n, "m").total_seconds() for n in range(1, 7)]
    assert [30, 60, 120, 240, 300, 300] == delays


@given(st.text(max_size=30), st.integers(min_value=1, max_value=50))
def test_jitter_is_deterministic_and_bounded(message_id: str, attempt: int) -> None:
    """The same message and attempt always jitter the same way, within +/- the fraction."""
    backoff = Backoff(timedelta(seconds=60), 1.0, timedelta(seconds=60), 0.2)
    first, second = backoff.delay(attempt, message_id), backoff.delay(attempt, message_id)
    assert first == second
    assert timedelta(seconds=48) <= first <= timedelta(seconds=72)
    assert 0.0 <= jitter_fraction(message_id, attempt) < 1.0


def test_jitter_differs_between_messages() -> None:
    """Different messages spread differently (no thundering herd)."""
    backoff = Backoff(timedelta(seconds=60), 1.0, timedelta(seconds=60), 0.2)
    assert len({backoff.delay(1, f"m{i}") for i in range(20)}) > 10


def test_backoff_shortest_delay_and_zero_initial_at_high_attempts() -> None:
    """The lowest possible delay is capped too, and a zero initial delay stays zero at any attempt."""
    backoff = Backoff(initial=timedelta(minutes=1), factor=10.0, max=timedelta(hours=1), jitter=0.0)
    assert timedelta(hours=1) == backoff.shortest_delay(10**6)
    zero = Backoff(initial=timedelta(0), factor=10.0, max=timedelta(hours=1), jitter=0.0)
    assert timedelta(0) == zero.delay(10**6, "m")


def test_backoff_of_factor_one_is_constant_at_any_attempt() -> None:
    """A factor of 1 never reaches the cap: the delay is the initial one even past a million retries."""
    backoff = Backoff(initial=timedelta(minutes=5), factor=1.0, max=timedelta(hours=1), jitter=0.0)
    assert timedelta(minutes=5) == backoff.delay(2_000_000, "m")


@pytest.mark.parametrize("retry_number", [1025, 10_000, 1_000_000])
def test_backoff_never_overflows(retry_number: int) -> None:
    """Far past the cap the delay is the cap: 2.0 ** 1024 is not computed (it overflows a float)."""
    backoff = Backoff(timedelta(seconds=30), 2.0, timedelta(hours=1), 0.0)
    assert timedelta(hours=1) == backoff.delay(retry_number, "m")
    assert timedelta(hours=1) == Backoff(timedelta(seconds=1), 10.0, timedelta(hours=1), 0.0).delay(retry_number, "m")


def test_jitter_of_a_lone_surrogate_message_id() -> None:
    """A message id with a lone surrogate ("\\ud800", from a JSON escape) jitters like any other id."""
    assert jitter_fraction("\ud800", 1) == jitter_fraction("\ud800", 1)
    assert jitter_fraction("\ud800", 1) != jitter_fraction("\ud801", 1)


# --- daylight-saving changes: America/New_York falls back on 2026-11-01 (01:00-02:00 twice), springs forward on
# --- 2027-03-14 (02:00-03:00 never happens).

def test_window_opening_from_the_repeated_hour_is_not_before_now() -> None:
    """now in the second 01:20 (fold=1, 06:20 UTC): the 01:30 opening is the second 01:30, not the first (05:30
    UTC, which is before now)."""
    window = _daily("01:30-03:00", zone=NY)
    now = datetime(2026, 11, 1, 1, 20, fold=1, tzinfo=NY)
    opening = window.next_opening(now)
    assert opening >= now
    assert datetime(2026, 11, 1, 6, 30, tzinfo=UTC) == opening


def test_window_contains_by_the_wall_clock_in_the_repeated_hour() -> None:
    """Both passes through 01:15 are inside 01:00-01:30; 01:45 on either pass is not."""
    window = _daily("01:00-01:30", zone=NY)
    for fold in (0, 1):
        assert window.contains(datetime(2026, 11, 1, 1, 15, fold=fold, tzinfo=NY))
        assert not window.contains(datetime(2026, 11, 1, 1, 45, fold=fold, tzinfo=NY))


def test_window_second_pass_through_its_hours_is_an_opening() -> None:
    """After the first 01:00-01:30 has passed, the second pass (EST) opens the window again that night."""
    window = _daily("01:00-01:30", zone=NY)
    after_first = datetime(2026, 11, 1, 5, 40, tzinfo=UTC)  # 01:40 EDT
    assert datetime(2026, 11, 1, 6, 0, tzinfo=UTC) == window.next_opening(after_first)


def test_window_inside_the_spring_gap_is_skipped() -> None:
    """A window that lies wholly in the skipped hour does not open that day: its next opening is the next day's."""
    window = _daily("02:10-02:40", zone=NY)
    before = datetime(2027, 3, 14, 1, 0, tzinfo=NY)
    opening = window.next_opening(before)
    assert window.contains(opening)
    assert datetime(2027, 3, 15, 2, 10, tzinfo=NY) == opening


def test_calendar_time_from_the_repeated_hour_is_not_before_now() -> None:
    """`next 01:45` from the second 01:30 is the second 01:45 (06:45 UTC), not the first (05:45 UTC)."""
    at = CalendarTime.parse("next 01:45", NY)
    now = datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NY)
    assert datetime(2026, 11, 1, 6, 45, tzinfo=UTC) == at.after(now)


def test_calendar_time_in_the_repeated_hour_from_before_it() -> None:
    """`next 01:30` from 00:30 EDT is the first 01:30 (05:30 UTC)."""
    at = CalendarTime.parse("next 01:30", NY)
    assert datetime(2026, 11, 1, 5, 30, tzinfo=UTC) == at.after(datetime(2026, 11, 1, 0, 30, tzinfo=NY))


def test_results_are_utc() -> None:
    """Openings and calendar times come back in UTC, so adding to them is elapsed time."""
    assert UTC is _daily("08:00-20:50").next_opening(datetime(2026, 11, 24, 23, 0, tzinfo=SEOUL)).tzinfo
    assert UTC is CalendarTime.parse("next_day 00:05", NY).after(datetime(2026, 11, 24, 10, tzinfo=UTC)).tzinfo


def test_range_cannot_start_at_24_00() -> None:
    """24:00 ends a day; it does not start one."""
    with pytest.raises(ValueError, match="24:00"):
        parse_range("24:00-08:00")


@given(st.integers(min_value=1, max_value=3600), st.floats(min_value=1.0, max_value=10.0),
       st.integers(min_value=1, max_value=86_400 * 7), st.floats(min_value=0.0, max_value=0.99),
       st.integers(min_value=1, max_value=2000), st.text(max_size=12))
def test_backoff_delay_is_the_plain_formula(initial: int, factor: float, cap: int, jitter: float, retry: int,
                                            message_id: str) -> None:
    """delay() (precomputed bases, integer microseconds) is timedelta(seconds=...) of the written formula."""
    backoff = Backoff(timedelta(seconds=initial), factor, timedelta(seconds=cap), jitter)
    try:
        base = min(initial * factor ** (retry - 1), cap)
    except OverflowError:  # far past the cap
        base = cap
    base *= 1.0 + jitter * (2.0 * jitter_fraction(message_id, retry) - 1.0)
    assert timedelta(seconds=max(base, 0.0)) == backoff.delay(retry, message_id)


@given(st.one_of(st.none(), st.text(max_size=16)), st.integers(min_value=-5, max_value=5000))
def test_jitter_fraction_hashes_the_id_and_attempt(message_id: str | None, attempt: int) -> None:
    """The jitter is crc32 of "<id>\\x00<attempt>" (surrogates passed through), for every id and attempt."""
    data = f"{message_id or ''}\x00{attempt}".encode("utf-8", "surrogatepass")
    assert zlib.crc32(data) / 4294967296.0 == jitter_fraction(message_id, attempt)


def test_backoff_delay_of_a_lone_surrogate_id_is_the_plain_formula() -> None:
    """An id with a lone surrogate (a broken JSON escape) is jittered as jitter_fraction hashes it."""
    backoff = Backoff(timedelta(seconds=60), 2.0, timedelta(hours=1), 0.5)
    base = 120.0 * (1.0 + 0.5 * (2.0 * jitter_fraction("m-\ud800", 2) - 1.0))
    assert timedelta(seconds=base) == backoff.delay(2, "m-\ud800")
