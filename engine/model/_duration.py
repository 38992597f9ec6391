"""Durations written as strings: ``"30s"``, ``"15m"``, ``"24h"``, ``"7d"``, or combined like ``"1h30m"``."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache

from .._errors import DurationError

_PART = re.compile(r"(\d+)([smhd])")
_WHOLE = re.compile(r"(?:\d+[smhd])+")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@lru_cache(maxsize=512)
def parse_duration(text: str) -> timedelta:
    """Parse a duration string; raise `DurationError` that shows the accepted forms."""
    if not isinstance(text, str) or not _WHOLE.fullmatch(text.strip()):
        raise DurationError(text)
    seconds = sum(int(n) * _SECONDS[unit] for n, unit in _PART.findall(text))
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
