"""Provider timestamps: every Infobip format, NHN's KST times, naive and malformed values, Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dlrpolicy import NaiveDatetimeError, NaiveTimestampError, PayloadError, parse_timestamp
from dlrpolicy.adapters._timestamps import KST, parse_kst_timestamp, parse_retry_after


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-02-12T09:58:20.323+0100", datetime(2015, 2, 12, 8, 58, 20, 323000, tzinfo=UTC)),
        ("2015-02-12T09:58:20.323+05:30", datetime(2015, 2, 12, 4, 28, 20, 323000, tzinfo=UTC)),
        ("2015-02-12T09:58:20.323+0000", datetime(2015, 2, 12, 9, 58, 20, 323000, tzinfo=UTC)),
        ("2015-02-12T09:58:20Z", datetime(2015, 2, 12, 9, 58, 20, tzinfo=UTC)),
        ("2015-02-12T09:58:20.323-0700", datetime(2015, 2, 12, 16, 58, 20, 323000, tzinfo=UTC)),
    ],
)
def test_infobip_formats_parse_to_the_same_instant(text: str, expected: datetime) -> None:
    """Each Infobip offset style gives the right aware instant."""
    assert expected == parse_timestamp(text)


def test_offset_is_kept() -> None:
    """The parsed datetime keeps the offset the provider wrote."""
    assert timedelta(hours=5, minutes=30) == parse_timestamp("2015-02-12T09:58:20+05:30").utcoffset()


def test_naive_timestamp_is_rejected_with_its_path() -> None:
    """A timestamp without an offset is an error naming the field, catchable as either error type."""
    with pytest.raises(NaiveTimestampError) as info:
        parse_timestamp("2015-02-12T09:58:20.323", "$.results[0].sentAt")
    assert "$.results[0].sentAt" == info.value.path
    assert isinstance(info.value, NaiveDatetimeError)
    assert isinstance(info.value, PayloadError)
    assert "no UTC offset" in str(info.value)


@pytest.mark.parametrize("value", ["yesterday", "", 1423735100, None, ["2015-02-12T09:58:20Z"]])
def test_garbage_is_a_payload_error(value: object) -> None:
    """Values that are not timestamp strings are payload errors naming the path."""
    with pytest.raises(PayloadError) as info:
        parse_timestamp(value, "$.sentAt")
    assert "$.sentAt" == info.value.path


def test_nhn_times_are_korean_standard_time() -> None:
    """NHN's offset-less times are read as KST (+09:00)."""
    assert datetime(2018, 8, 10, 1, 6, 30, tzinfo=UTC) == parse_kst_timestamp("2018-08-10 10:06:30.0")
    assert KST.utcoffset(None) == parse_kst_timestamp("2018-08-10 10:06:30").utcoffset()


def test_nhn_explicit_offset_wins() -> None:
    """An NHN time that does carry an offset keeps it."""
    assert UTC.utcoffset(None) == parse_kst_timestamp("2018-08-10T10:06:30Z").utcoffset()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "30"}, (timedelta(seconds=30), None)),
        ({"retry-after": 5}, (timedelta(seconds=5), None)),
        ({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}, (None, datetime(2026, 10, 21, 7, 28, tzinfo=UTC))),
        ({"Retry-After": "Wed, 21 Oct 2026 07:28:00 -0000"}, (None, datetime(2026, 10, 21, 7, 28, tzinfo=UTC))),
        ({"Content-Type": "application/json"}, (None, None)),
        (None, (None, None)),
    ],
)
def test_retry_after(headers: dict[str, object] | None, expected: tuple[object, object]) -> None:
    """Retry-After is read in any letter case, as seconds (a delay) or an HTTP date (an instant)."""
    assert expected == parse_retry_after(headers)


@pytest.mark.parametrize("value", ["-3", "soon", 1.5, "Someday, 99 Foo 2026", ""])
def test_retry_after_that_is_neither_form_is_an_error(value: object) -> None:
    """Garbage Retry-After is an error naming the header and both accepted forms."""
    with pytest.raises(PayloadError) as info:
        parse_retry_after({"Retry-After": value})
    assert "$.headers.Retry-After" == info.value.path
    assert "HTTP date" in info.value.message


@pytest.mark.parametrize("value", [str(400 * 86400 + 1), "86000000000000", "9" * 5000, 10**20])
def test_retry_after_beyond_400_days_is_an_error(value: object) -> None:
    """A delay past 400 days (or thousands of digits) is refused with the limit named, never an OverflowError."""
    with pytest.raises(PayloadError) as info:
        parse_retry_after({"Retry-After": value})
    assert "400 days" in info.value.message
