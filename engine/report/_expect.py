"""What a policy test case expects of its decision, and the check that says why a decision falls short.

Times are written relative to the case's ``now`` with an optional tolerance — ``"now"``, ``"now+24h"``,
``"now+24h±1h"`` (or ``+-1h``) — or as ISO 8601 instants (``"2026-11-25T08:00:00+09:00±5m"``); ``"none"`` means the
field must be empty."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from .._errors import DlrpolicyError
from ..model._datetimes import iso_z
from ..model._decision import Decision
from ..model._duration import parse_duration
from ..model._vocabulary import CHANNELS, SCOPES, SEVERITIES, VERDICTS

EXPECT_KEYS: Final = ("verdict", "rule", "retry_at", "give_up_at", "check_at", "attempt", "channel", "suppress",
                      "escalate", "reason_contains")
TIME_KEYS: Final = ("retry_at", "give_up_at", "check_at")
NONE: Final = "none"
_RELATIVE: Final = re.compile(r"now(?:\s*([+-])\s*([0-9smhd]+))?")
_TIME_FIX: Final = ('write "now", "now+24h", "now+24h±1h" (or +-1h), an ISO 8601 time with an offset '
                    '(optionally ±tolerance), or "none"')


@attrs.frozen
class TimeExpectation:
    """An instant relative to ``now`` (``offset``) or absolute (``at``), within ``tolerance``; or no value."""

    text: str
    offset: timedelta | None = None
    at: datetime | None = None
    tolerance: timedelta = timedelta(0)

    @classmethod
    def parse(cls, text: str) -> TimeExpectation:
        """Read ``"now+24h±1h"`` and friends; ValueError with the accepted forms when it is none of them."""
        base, tolerance = text.strip(), timedelta(0)
        for mark in ("±", "+-"):
            if mark in base:
                base, _, spread = base.partition(mark)
                base = base.strip()
                tolerance = _duration(spread.strip())
                break
        if base == NONE:
            if tolerance:
                raise ValueError("'none' takes no tolerance")
            return cls(text)
        found = _RELATIVE.fullmatch(base)
        if found is not None:
            sign, amount = found.groups()
            offset = timedelta(0) if amount is None else _duration(amount)
            return cls(text, offset=-offset if sign == "-" else offset, tolerance=tolerance)
        try:
            at = datetime.fromisoformat(base)
        except ValueError:
            raise ValueError(f"{text!r} is not a time") from None
        if at.utcoffset() is None:
            raise ValueError(f"{text!r} has no UTC offset")
        return cls(text, at=at, tolerance=tolerance)

    def check(self, field: str, value: datetime | None, now: datetime) -> str | None:
        """Why ``value`` does not meet this expectation, or None when it does."""
        if self.offset is None and self.at is None:
            return None if value is None else f"{field} is {iso_z(value)}, expected none"
        target = now + self.offset if self.offset is not None else self.at
        assert target is not None
        low, high = target - self.tolerance, target + self.tolerance
        if value is None:
            return f"{field} is none, expected {self.text} ({_span(low, high)})"
        if not low <= value <= high:
            return f"{field} {iso_z(value)} is not within {self.text} ({_span(low, high)})"
        return None


def _span(low: datetime, high: datetime) -> str:
    return iso_z(low) or "" if low == high else f"{iso_z(low)} .. {iso_z(high)}"


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except DlrpolicyError:
        raise ValueError(f"{text!r} is not a duration like 30s, 15m, 24h or 7d") from None


class ExpectationError(ValueError):
    """A malformed expectation field: ``field`` names it (``expect.retry_at``), ``fix`` says what to write.

    `read_expectations` raises the first one it found with every one it found in ``problems`` (itself included), so
    that a test file's author sees all of them at once."""

    def __init__(self, field: str, message: str, fix: str) -> None:
        self.field = field
        self.fix = fix
        self.problems: tuple[ExpectationError, ...] = (self,)
        super().__init__(message)


def _choice(field: str, value: object, choices: tuple[str, ...], *, allow_none: bool = False) -> str:
    allowed = (*choices, NONE) if allow_none else choices
    if value not in allowed:
        raise ExpectationError(field, f"{value!r} is not allowed", f"use one of: {', '.join(allowed)}")
    return str(value)


def _table(field: str, value: object, keys: tuple[str, ...]) -> Mapping[str, Any] | None:
    if value == NONE:
        return None
    if not isinstance(value, dict):
        raise ExpectationError(field, f"expected a table {{{', '.join(keys)}}} or \"none\", got {value!r}",
                               f"write {field} = {{ {keys[0]} = \"...\" }} or {field} = \"none\"")
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise ExpectationError(f"{field}.{unknown[0]}", "unknown key", f"use only: {', '.join(keys)}")
    return value


def read_expectations(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Validate an ``expect`` table; raise `ExpectationError` listing every malformed field in ``problems``."""
    problems: list[ExpectationError] = []
    unknown = sorted(set(raw) - set(EXPECT_KEYS))
    problems += [ExpectationError(f"expect.{key}", "unknown expectation", f"use only: {', '.join(EXPECT_KEYS)}")
                 for key in unknown]
    if not raw:
        problems.append(ExpectationError("expect", "a case must expect something", 'add e.g. expect.verdict = "retry"'))
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in unknown:
            continue
        try:
            out[key] = _expectation(key, value)
        except ExpectationError as exc:
            problems.append(exc)
    if problems:
        first = problems[0]
        first.problems = tuple(problems)
        raise first
    return out


def _expectation(key: str, value: object) -> Any:
    """One ``expect`` field, validated (`ExpectationError` when it is malformed)."""
    field = f"expect.{key}"
    if key == "verdict":
        return _choice(field, value, VERDICTS)
    if key in ("rule", "reason_contains"):
        if not isinstance(value, str) or not value:
            raise ExpectationError(field, f"expected a non-empty string, got {value!r}", f'write {key} = "..."')
        return value
    if key == "attempt":
        if type(value) is not int or value < 1:
            raise ExpectationError(field, f"{value!r} is not a whole number >= 1", "write e.g. attempt = 2")
        return value
    if key == "channel":
        return _choice(field, value, CHANNELS, allow_none=True)
    if key in TIME_KEYS:
        if not isinstance(value, str):
            raise ExpectationError(field, f"expected a time string, got {value!r}", _TIME_FIX)
        try:
            return TimeExpectation.parse(value)
        except ValueError as exc:
            raise ExpectationError(field, str(exc), _TIME_FIX) from None
    if key == "suppress":
        table = _table(field, value, ("scope", "key", "until"))
        if table is None:
            return None
        table = dict(table)
        if "scope" in table:
            _choice(f"{field}.scope", table["scope"], SCOPES)
        if "until" in table:
            try:
                table["until"] = TimeExpectation.parse(str(table["until"]))
            except ValueError as exc:
                raise ExpectationError(f"{field}.until", str(exc), _TIME_FIX) from None
        return table
    table = _table(field, value, ("route", "severity"))  # escalate
    if table is not None and "severity" in table:
        _choice(f"{field}.severity", table["severity"], SEVERITIES)
    return table


def check(expect: Mapping[str, Any], decision: Decision, now: datetime) -> list[str]:
    """Every way ``decision`` falls short of ``expect`` (empty: the case passes)."""
    why: list[str] = []
    for key, wanted in expect.items():
        if key in ("verdict", "rule", "attempt"):
            actual = getattr(decision, key)
            if actual != wanted:
                why.append(f"{key} is {actual!r}, expected {wanted!r}")
        elif key == "channel":
            actual = decision.channel or NONE
            if actual != wanted:
                why.append(f"channel is {actual!r}, expected {wanted!r}")
        elif key == "reason_contains":
            if wanted not in decision.reason:
                why.append(f"reason does not contain {wanted!r}")
        elif key in TIME_KEYS:
            problem = wanted.check(key, getattr(decision, key), now)
            if problem is not None:
                why.append(problem)
        elif key == "suppress":
            why += _check_suppress(wanted, decision, now)
        else:
            why += _check_escalate(wanted, decision)
    return why


def _check_suppress(wanted: Mapping[str, Any] | None, decision: Decision, now: datetime) -> list[str]:
    effect = decision.suppress
    if wanted is None:
        return [] if effect is None else [f"suppress is {effect.scope} {effect.key}, expected none"]
    if effect is None:
        return ["suppress is none, expected a suppression"]
    why = []
    for key in ("scope", "key"):
        if key in wanted and getattr(effect, key) != wanted[key]:
            why.append(f"suppress.{key} is {getattr(effect, key)!r}, expected {wanted[key]!r}")
    if "until" in wanted:
        problem = wanted["until"].check("suppress.until", effect.until, now)
        if problem is not None:
            why.append(problem)
    return why


def _check_escalate(wanted: Mapping[str, Any] | None, decision: Decision) -> list[str]:
    effect = decision.escalate
    if wanted is None:
        return [] if effect is None else [f"escalate is {effect.route} ({effect.severity}), expected none"]
    if effect is None:
        return ["escalate is none, expected an escalation"]
    return [f"escalate.{key} is {getattr(effect, key)!r}, expected {wanted[key]!r}"
            for key in ("route", "severity") if key in wanted and getattr(effect, key) != wanted[key]]
