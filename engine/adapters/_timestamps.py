"""Provider timestamps to aware datetimes.

Infobip writes ``2015-02-12T09:58:20.323+0100`` (offset without a colon), ``+05:30``, ``+0000`` or ``Z``; a
timestamp without an offset is rejected, because guessing a zone would shift every deadline computed from it.
NHN Cloud writes ``2018-08-10 10:06:30.0`` with no offset and documents the times as Korea Standard Time, so
those are read in KST (Korea has no daylight saving time: a fixed +09:00 is exact).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Final

from .._errors import NaiveTimestampError, PayloadError

KST: Final = timezone(timedelta(hours=9), "KST")




def parse_timestamp(value: object, path: str = "$") -> datetime:
    """Parse an Infobip-style ISO 8601 timestamp with an offset into an aware datetime.

    Raises `NaiveTimestampError` for a timestamp without an offset and `PayloadError` (naming ``path``) for
    anything that is not a timestamp at all.
    """
    if not isinstance(value, str):
        raise PayloadError(path, f"expected a timestamp string such as 2015-02-12T09:58:20.323+0100, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PayloadError(
            path, f"{value!r} is not a timestamp: write ISO 8601 with an offset, e.g. 2015-02-12T09:58:20.323+0100"
        ) from None
    if parsed.tzinfo is None:
        raise NaiveTimestampError(path, value)
    return parsed


def parse_kst_timestamp(value: object, path: str = "$") -> datetime:
    """Parse an NHN Cloud timestamp (``2018-08-10 10:06:30.0``, documented as KST); an explicit offset wins."""
    if not isinstance(value, str):
        raise PayloadError(path, f"expected a timestamp string such as 2018-08-10 10:06:30, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PayloadError(path, f"{value!r} is not a timestamp of the form 2018-08-10 10:06:30") from None
    return parsed.replace(tzinfo=KST) if parsed.tzinfo is None else parsed


def optional_timestamp(value: object, path: str) -> datetime | None:
    """`parse_timestamp`, with JSON null and a missing field both meaning "not reported"."""
    return None if value is None else parse_timestamp(value, path)


def optional_kst_timestamp(value: object, path: str) -> datetime | None:
    """`parse_kst_timestamp`, with null, a missing field and an empty string meaning "not reported"."""
    return None if value is None or value == "" else parse_kst_timestamp(value, path)


#: The longest provider-requested wait accepted; a longer Retry-After is a misconfiguration, not a plan.
MAX_RETRY_AFTER: Final = timedelta(days=400)
_MAX_DIGITS: Final = 12


def parse_retry_after(headers: object, path: str = "$.headers") -> tuple[timedelta | None, datetime | None]:
    """The ``Retry-After`` in ``headers`` (any letter case): (delay, None) for delta-seconds, (None, instant) for
    an HTTP date, (None, None) when absent.

    A date is kept as an instant and compared with ``now`` when the outcome is evaluated (the adapter does not
    know the time).  Waits beyond `MAX_RETRY_AFTER` (400 days) are rejected as errors naming the header.
    """
    if headers is None:
        return None, None
    if not isinstance(headers, dict):
        raise PayloadError(path, f"expected an object of HTTP headers, got {type(headers).__name__}")
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == "retry-after":
            return _retry_after(value, f"{path}.{key}")
    return None, None


def _retry_after(value: object, where: str) -> tuple[timedelta | None, datetime | None]:
    text = str(value).strip() if type(value) in (int, str) else None
    if text is not None and text.isascii() and text.isdigit():
        if len(text) > _MAX_DIGITS or int(text) > MAX_RETRY_AFTER.total_seconds():
            raise PayloadError(where, f"Retry-After {text[:20]!r} seconds is more than "
                                      f"{MAX_RETRY_AFTER.days} days: check the header (delays that long are not "
                                      "waited for)")
        return timedelta(seconds=int(text)), None
    if isinstance(value, str):
        try:
            moment = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError, OverflowError):
            moment = None
        if moment is not None:
            # HTTP dates are always GMT; "-0000" parses as naive.
            return None, moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    raise PayloadError(where, f"Retry-After {str(value)[:40]!r} is neither a number of seconds nor an HTTP date "
                              "(such as 'Wed, 21 Oct 2026 07:28:00 GMT'): fix the header")
