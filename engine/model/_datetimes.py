"""Aware datetimes at the boundary: the check that rejects naive ones, and the ISO 8601 form decisions use."""

from __future__ import annotations

from datetime import UTC, datetime

from .._errors import NaiveDatetimeError


def require_aware(field: str, value: datetime | None) -> None:
    """Raise `NaiveDatetimeError` when ``value`` is a datetime without a UTC offset."""
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise NaiveDatetimeError(field, value)


def iso_z(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z`` suffix (``2026-11-24T10:00:00Z``), or None."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
