"""Aware datetimes at the boundary: the checks that reject naive and out-of-range ones, and the ISO 8601 form
decisions use."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from .._errors import InvalidOutcomeError, NaiveDatetimeError, quote

#: The instants dlrpolicy accepts, ``EARLIEST <= t < LATEST``.  Far wider than any real report, and far enough
#: from datetime's own limits (years 1 and 9999) that adding the longest policy duration (400 days), a week of
#: window search and a day of calendar arithmetic can never overflow.
EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(9000, 1, 1, tzinfo=UTC)
RANGE_TEXT: Final = "1970-01-01T00:00:00Z (inclusive) to 9000-01-01T00:00:00Z (exclusive)"


def require_aware(field: str, value: datetime | None) -> None:
    """Raise `NaiveDatetimeError` when ``value`` is a datetime without a UTC offset."""
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise NaiveDatetimeError(field, value)


def require_instant(field: str, value: object) -> None:
    """Accept None or an aware datetime within [`EARLIEST`, `LATEST`); raise `InvalidOutcomeError` (or
    `NaiveDatetimeError`) naming ``field`` and the fix otherwise."""
    if value is None:
        return
    if not isinstance(value, datetime):
        raise InvalidOutcomeError(field, f"expected a timezone-aware datetime, got {type(value).__name__} "
                                         f"{quote(value)}: parse it first, e.g. datetime.fromisoformat(text)")
    require_aware(field, value)
    # Compared, not converted: astimezone() itself overflows near year 1 with a positive offset.
    if not EARLIEST <= value < LATEST:
        raise InvalidOutcomeError(field, f"{value.isoformat()} is outside the supported range {RANGE_TEXT}: "
                                         "check the clock or the field the time was read from")


def iso_z(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z`` suffix (``2026-11-24T10:00:00Z``), or None."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
