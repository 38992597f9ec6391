"""Durations written as strings: ``"30s"``, ``"15m"``, ``"24h"``, ``"7d"``, or combined like ``"1h30m"``."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache
from typing import Final

from .._errors import DurationError

_PART = re.compile(r"(\d+)([smhd])")
_WHOLE = re.compile(r"(?:\d+[smhd])+")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

#: The longest duration a policy may write.  Longer than any retry, deadline or suppression a messaging
#: pipeline needs, and short enough that adding it to any supported instant cannot overflow.
MAX_DURATION: Final = timedelta(days=400)
_MAX_SECONDS: Final = int(MAX_DURATION.total_seconds())
# "9600h" is 5 characters; 40 leaves room for spelled-out combinations while int() never sees thousands of digits.
_MAX_TEXT: Final = 40
_TOO_LONG: Final = 'durations are at most 400d (9600h): write a shorter one, such as "7d" or "24h"'


def parse_duration(text: str) -> timedelta:
    """Parse a duration string (at most `MAX_DURATION`, 400 days); raise `DurationError` that shows the fix."""
    # Checked before the cache: a list or table is unhashable, and the cache would raise TypeError for it.
    if not isinstance(text, str):
        raise DurationError(text)
    return _parse(text)


@lru_cache(maxsize=512)
def _parse(text: str) -> timedelta:
    stripped = text.strip()
    if not _WHOLE.fullmatch(stripped):
        raise DurationError(text)
    if len(stripped) > _MAX_TEXT:
        raise DurationError(text, _TOO_LONG)
    seconds = sum(int(n) * _SECONDS[unit] for n, unit in _PART.findall(stripped))
    if seconds > _MAX_SECONDS:
        raise DurationError(text, _TOO_LONG)
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """Write a duration the way policy files do: ``"24h"``, ``"1h30m"``, ``"7d"`` (days only from 3 days up)."""
    seconds = int(delta.total_seconds())
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    parts = []
    # Days read better only for long spans: "24h" and "48h" are how providers and people say it.
    units = ("d", "h", "m", "s") if seconds >= 3 * 86400 and seconds % 86400 == 0 else ("h", "m", "s")
    for unit in units:
        size = _SECONDS[unit]
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return sign + "".join(parts)
