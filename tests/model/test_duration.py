"""Tests for duration strings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlrpolicy import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30s", timedelta(seconds=30)), ("15m", timedelta(minutes=15)), ("24h", timedelta(hours=24)),
     ("7d", timedelta(days=7)), ("1h30m", timedelta(minutes=90)), ("0s", timedelta(0))],
)
def test_parse(text: str, expected: timedelta) -> None:
    """The documented forms parse."""
    assert expected == parse_duration(text)


@pytest.mark.parametrize("text", ["", "24", "h", "1.5h", "-1h", "24 hours", "1w", "1h 30m"])
def test_parse_rejects_with_fix(text: str) -> None:
    """Anything else raises DurationError that shows the accepted forms."""
    with pytest.raises(DurationError, match='"30s"'):
        parse_duration(text)


def test_parse_rejects_non_strings() -> None:
    """A number where a string belongs is an error, not a guess."""
    with pytest.raises(DurationError):
        parse_duration(24)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=400 * 86400))
def test_format_round_trips(seconds: int) -> None:
    """format_duration output parses back to the same duration (up to the 400-day limit)."""
    delta = timedelta(seconds=seconds)
    assert delta == parse_duration(format_duration(delta))


def test_format_prefers_hours_for_short_spans() -> None:
    """24h and 48h read as hours; a week as days."""
    assert ("24h", "48h", "7d") == tuple(format_duration(timedelta(hours=h)) for h in (24, 48, 168))


@pytest.mark.parametrize("value", ["1000000000d", "9" * 5000 + "s", "401d", "9601h", "400d1s", "1" + "0" * 40 + "s"])
def test_durations_past_the_limit_are_refused(value: str) -> None:
    """Durations are at most 400 days: longer ones (and absurd digit counts) are a DurationError naming the limit,
    not an OverflowError or ValueError from the arithmetic."""
    with pytest.raises(DurationError, match="400d"):
        parse_duration(value)


@pytest.mark.parametrize("value", [["1s"], {"a": 1}, None, 1.5, b"30s"])
def test_non_string_durations_are_duration_errors(value: object) -> None:
    """A list or table where a duration belongs is a DurationError, not a TypeError from the cache."""
    with pytest.raises(DurationError):
        parse_duration(value)  # type: ignore[arg-type]


def test_the_limit_itself_is_accepted() -> None:
    """400d (= 9600h) is the longest duration."""
    assert timedelta(days=400) == parse_duration("400d") == parse_duration("9600h")
