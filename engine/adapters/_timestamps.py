"""Provider timestamps to aware datetimes.

Infobip writes ``2015-02-12T09:58:20.323+0100`` (offset without a colon), ``+05:30``, ``+0000`` or ``Z``; a
timestamp without an offset is rejected, because guessing a zone would shift every deadline computed from it.
NHN Cloud writes ``2018-08-10 10:06:30.0`` with no offset and documents the times as Korea Standard Time, so
those are read in KST (Korea has no daylight saving time: a fixed +09:00 is exact).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
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


def parse_retry_after(headers: object, path: str = "$.headers") -> timedelta | None:
    """The ``Retry-After`` delay in ``headers`` (any letter case), or None when absent.

    Only the delta-seconds form is accepted: the HTTP-date form would need the time of the response, which an
    adapter does not know, so it is rejected with a request to convert it.
    """
    if headers is None:
        return None
    if not isinstance(headers, dict):
        raise PayloadError(path, f"expected an object of HTTP headers, got {type(headers).__name__}")
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == "retry-after":
            where = f"{path}.{key}"
            if type(value) is int and value >= 0:
                return timedelta(seconds=value)
            if isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
                return timedelta(seconds=int(value.strip()))
            raise PayloadError(where, f"Retry-After {value!r} is not a number of seconds: give the delay in "
                                      "seconds (an HTTP-date must be converted relative to the response time)")
    return None
