"""Reading policy files value by value: the problem collector and the readers that turn one rule body or match
into validated, bounded values, recording every problem instead of stopping at the first.  Values quoted in
messages are cut short (`quote`), so a hostile value cannot make a hostile message."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .._errors import DurationError, PolicyProblem, quote
from ..model._decision import EscalateEffect
from ..model._duration import parse_duration
from ..model._time_rules import Backoff, CalendarTime, Window
from ..model._vocabulary import CHANNELS, SCOPES, SEVERITIES, VERDICTS, VOCABULARY
from ._limits import FACTOR_RANGE, MAX_ATTEMPTS
from ._rules import Body, Match, SuppressSpec
from ._source import Layer

__all__ = ["BODY_KEYS", "EXHAUSTED", "ROUTE", "FieldReader", "Layer", "Problems", "read_match"]

BODY_KEYS: Final = frozenset(
    {
        "verdict", "after", "every", "backoff", "at", "timezone", "window", "give_up_after", "max_attempts",
        "on_exhausted", "channel", "suppress", "escalate", "reason", "max_delay",
    }
)
MATCH_KEYS: Final = frozenset(
    {"provider", "kind", "product", "group_id", "id", "name", "permanent", "success", "channel"}
)
BACKOFF_KEYS: Final = frozenset({"initial", "factor", "max", "jitter"})
EXHAUSTED: Final = ("suppress", "escalate", "done")
ROUTE = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,63}")

#: Zone names that are not IANA zones but files of the host (``localtime`` is whatever the machine is set to): a
#: policy naming one would decide differently on every host.
HOST_ZONES: Final = frozenset({"localtime", "posixrules", "Factory"})


class Problems:
    """Collects policy problems (file, line, rule, field, message, fix) while reading goes on."""

    def __init__(self) -> None:
        self.items: list[PolicyProblem] = []

    def add(self, layer: Layer, message: str, fix: str, *, rule: str | None = None, field: str | None = None,
            line: int | None = None) -> None:
        if line is None and rule is not None:
            line = layer.rule_line(rule)
        self.items.append(PolicyProblem(file=layer.source, line=line, rule=rule, field=field, message=message,
                                        fix=fix))


class FieldReader:
    """Reads one body (rule, defaults fallback, unknown) field by field, recording problems instead of raising.

    ``table`` (``"defaults"``, ``"defaults.unknown"``, ``"windows.NAME"``) makes each problem point at the line of
    its own key in that table; a rule's problems point at the rule's ``id`` line.  ``broken_windows`` are windows
    that are defined but invalid: a reference to one is not reported again as "no window named".  ``origins``
    maps keys to the layer that wrote them, for tables merged from several files (``[defaults]``).
    """

    def __init__(self, problems: Problems, layer: Layer, rule: str | None, windows: Mapping[str, Window],
                 zone: ZoneInfo, backoff: Backoff | None, line: int | None = None, *, table: str | None = None,
                 broken_windows: frozenset[str] = frozenset(), origins: Mapping[str, Layer] | None = None) -> None:
        self.problems = problems
        self.layer = layer
        self.origins = origins or {}
        self.rule = rule
        self.windows = windows
        self.zone = zone
        self.default_backoff = backoff
        self.line = line
        self.table = table
        self.broken_windows = broken_windows
        self.ok = True

    def fail(self, field: str, message: str, fix: str) -> None:
        self.ok = False
        line, layer = self.line, self.layer
        if self.table is not None:
            key = field.removeprefix(f"{self.table}.").split(".")[0]
            layer = self.origins.get(key, layer)
            line = layer.key_line(self.table, key) or (line if layer is self.layer else layer.header_line(self.table))
        self.problems.add(layer, message, fix, rule=self.rule, field=field, line=line)

    def duration(self, raw: Mapping[str, Any], key: str, field: str | None = None) -> timedelta | None:
        """``raw[key]`` as a duration (reported as ``field``, default ``key``), or None when absent or bad."""
        value = raw.get(key)
        field = field or key
        if value is None:
            return None
        try:
            return parse_duration(value)
        except DurationError as exc:
            if exc.problem is not None:
                self.fail(field, f"{quote(value)} is longer than the limit of 400d",
                          'durations are at most 400 days (9600h): write e.g. "7d"')
            else:
                self.fail(field, f"{quote(value)} is not a duration",
                          'write a number and a unit: "30s", "15m", "24h", "7d"')
            return None

    def choice(self, raw: Mapping[str, Any], key: str, choices: Sequence[str], field: str | None = None) -> str | None:
        value = raw.get(key)
        field = field or key
        if value is None:
            return None
        if value not in choices:
            self.fail(field, f"{quote(value)} is not allowed", f"use one of: {', '.join(choices)}")
            return None
        return str(value)

    def positive_int(self, raw: Mapping[str, Any], key: str, field: str | None = None,
                     maximum: int = MAX_ATTEMPTS) -> int | None:
        value = raw.get(key)
        field = field or key
        if value is None:
            return None
        if type(value) is not int or not 1 <= value <= maximum:
            self.fail(field, f"{quote(value)} is not a whole number from 1 to {maximum:,}",
                      f"write a whole number from 1 to {maximum:,}, e.g. 3")
            return None
        return value

    def zone_of(self, value: object, field: str) -> ZoneInfo | None:
        if not isinstance(value, str):
            self.fail(field, f"{quote(value)} is not a time zone name", 'use an IANA zone such as "Asia/Seoul"')
            return None
        if value in HOST_ZONES or value.startswith(("posix/", "right/")):
            self.fail(field, f"{quote(value)} depends on the host's settings, not on the policy",
                      'name an IANA zone such as "Asia/Seoul" or "UTC", so every host decides alike')
            return None
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            self.fail(field, f"unknown time zone {quote(value)}", 'use an IANA zone such as "America/New_York"')
            return None

    def _number(self, value: object, field: str, low: float, high: float, *, high_open: bool, fix: str) -> bool:
        # Compared before any float() conversion: a 400-digit integer does not fit in a float, and NaN compares
        # false both ways, so it fails here instead of making every backoff 0.
        ok = isinstance(value, int | float) and not isinstance(value, bool) and (
            low <= value < high if high_open else low <= value <= high)
        if not ok:
            span = f"[{low:g}, {high:g})" if high_open else f"from {low:g} to {high:g}"
            self.fail(field, f"{quote(value)} is not a number {span}", fix)
        return ok

    def backoff(self, value: object, field: str = "backoff") -> Backoff | None:
        base = self.default_backoff
        if value is True:
            return base
        if not isinstance(value, dict):
            self.fail(field, f"{quote(value)} is not a backoff table", "write {initial, factor, max, jitter} or true")
            return None
        unknown = set(value) - BACKOFF_KEYS
        if unknown:
            self.fail(f"{field}.{sorted(unknown)[0]}", "unknown key", f"use only {', '.join(sorted(BACKOFF_KEYS))}")
        initial = self.duration(value, "initial") if "initial" in value else (base.initial if base else None)
        maximum = self.duration(value, "max") if "max" in value else (base.max if base else None)
        factor = value.get("factor", base.factor if base else None)
        jitter = value.get("jitter", base.jitter if base else 0.0)
        low, high = FACTOR_RANGE
        if not self._number(factor, f"{field}.factor", low, high, high_open=False, fix="use e.g. factor = 2"):
            return None
        if not self._number(jitter, f"{field}.jitter", 0.0, 1.0, high_open=True, fix="use e.g. jitter = 0.1"):
            return None
        if initial is None or maximum is None:
            self.fail(field, "initial and max are required", 'write e.g. {initial = "30s", max = "1h"}')
            return None
        if maximum < initial:
            self.fail(f"{field}.max", "max is shorter than initial", "make max at least as long as initial")
            return None
        assert isinstance(factor, int | float)  # both checked by _number above
        assert isinstance(jitter, int | float)
        return Backoff(initial=initial, factor=float(factor), max=maximum, jitter=float(jitter))

    def _window(self, raw: Mapping[str, Any]) -> Window | None:
        name = raw["window"]
        window = self.windows.get(name) if isinstance(name, str) else None
        if window is None and name not in self.broken_windows:  # a broken window was reported where it is defined
            known = ", ".join(sorted(self.windows)) or "none defined"
            shown = quote(name)
            self.fail("window", f"no window named {shown}", f"define [windows.NAME] or use one of: {known}")
        if window is None:
            self.ok = False
        return window

    def _effects(self, raw: Mapping[str, Any]) -> tuple[SuppressSpec | None, EscalateEffect | None]:
        suppress = escalate = None
        if "suppress" in raw:
            spec = raw["suppress"]
            if not isinstance(spec, dict) or set(spec) - {"scope", "for"}:
                self.fail("suppress", f"{quote(spec)} is not a suppress table",
                          'write {scope = "recipient", for = "24h"}')
            else:
                scope = spec.get("scope")
                if scope not in SCOPES:
                    self.fail("suppress.scope", f"{quote(scope)} is not a scope", f"use one of: {', '.join(SCOPES)}")
                duration = self.duration(spec, "for")
                if scope in SCOPES:
                    suppress = SuppressSpec(str(scope), duration)
        if "escalate" in raw:
            spec = raw["escalate"]
            if not isinstance(spec, dict) or set(spec) - {"route", "severity"}:
                self.fail("escalate", f"{quote(spec)} is not an escalate table",
                          'write {route = "billing", severity = "critical"}')
            else:
                route = spec.get("route")
                severity = spec.get("severity", "warning")
                if not isinstance(route, str) or not ROUTE.fullmatch(route):
                    self.fail("escalate.route", f"{quote(route)} is not a route name",
                              "use a lower-case name such as credentials, billing, support")
                elif severity not in SEVERITIES:
                    self.fail("escalate.severity", f"{quote(severity)} is not a severity",
                              f"use one of: {', '.join(SEVERITIES)}")
                else:
                    escalate = EscalateEffect(route, str(severity))
        return suppress, escalate

    def body(self, raw: Mapping[str, Any], *, require_reason: bool = True) -> Body | None:
        verdict = raw.get("verdict")
        if verdict not in VERDICTS:
            self.fail("verdict", f"{quote(verdict)} is not a verdict", f"use one of: {', '.join(VERDICTS)}")
        reason = raw.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            if require_reason:
                self.fail("reason", "missing or empty", "add a one-line reason an on-call engineer understands")
            reason = ""
        zone = self.zone
        if "timezone" in raw:
            zone = self.zone_of(raw["timezone"], "timezone") or zone
        at = None
        if "at" in raw:
            try:
                at = CalendarTime.parse(raw["at"], zone)
            except ValueError as exc:
                self.fail("at", str(exc), 'write "next_day HH:MM" or "next HH:MM"')
        window = self._window(raw) if "window" in raw else None
        backoff = self.backoff(raw["backoff"]) if "backoff" in raw else None
        channel = raw.get("channel")
        if channel is not None and channel not in CHANNELS:
            self.fail("channel", f"{quote(channel)} is not a channel", f"use one of: {', '.join(CHANNELS)}")
        elif channel is not None and verdict != "retry":
            # A fallback channel is where the next attempt goes; any other verdict makes no attempt, so the
            # field would silently do nothing (a [[patch]] channel = "sms" on an escalate rule did exactly that).
            self.fail("channel", f"a fallback channel does nothing when the verdict is {quote(verdict)}",
                      'also set verdict = "retry" (the retry goes out on the channel), or drop channel')
        suppress, escalate = self._effects(raw)
        body = Body(
            verdict=str(verdict),
            reason=reason.strip(),
            after=self.duration(raw, "after"),
            every=self.duration(raw, "every"),
            backoff=backoff,
            at=at,
            window=window,
            give_up_after=self.duration(raw, "give_up_after"),
            max_attempts=self.positive_int(raw, "max_attempts"),
            on_exhausted=self.choice(raw, "on_exhausted", EXHAUSTED),
            channel=channel if isinstance(channel, str) else None,
            suppress=suppress,
            escalate=escalate,
            max_delay=self.duration(raw, "max_delay"),
        )
        if body.at is not None and (body.after is not None or body.every is not None):
            self.fail("at", "at cannot be combined with after/every", "keep either the calendar time or the delay")
        return body if self.ok else None


_PRODUCTS: Final = sorted({x for p in VOCABULARY.values() for ks in p.values() for x in ks})
_KINDS: Final = sorted({k for p in VOCABULARY.values() for k in p})


def read_match(reader: FieldReader, raw: object) -> Match | None:
    if not isinstance(raw, dict):
        reader.fail("match", f"{quote(raw)} is not a table", 'write match = {provider = "infobip", id = 581}')
        return None
    for key in sorted(set(raw) - MATCH_KEYS):
        reader.fail(f"match.{key}", "unknown match key", f"use only: {', '.join(sorted(MATCH_KEYS))}")
    provider, kind, product = raw.get("provider"), raw.get("kind"), raw.get("product")
    # Type checks come first: a table or list where a name belongs is unhashable, and the vocabulary lookups
    # below would raise TypeError for it.
    if provider is not None and (not isinstance(provider, str) or provider not in VOCABULARY):
        reader.fail("match.provider", f"unknown provider {quote(provider)}", f"use one of: {', '.join(VOCABULARY)}")
    kinds = sorted(VOCABULARY[provider]) if isinstance(provider, str) and provider in VOCABULARY else _KINDS
    if kind is not None and (not isinstance(kind, str) or kind not in kinds):
        reader.fail("match.kind", f"unknown kind {quote(kind)}", f"use one of: {', '.join(kinds)}")
    if product is not None and (not isinstance(product, str) or product not in _PRODUCTS):
        reader.fail("match.product", f"unknown product {quote(product)}", f"use one of: {', '.join(_PRODUCTS)}")
    group_id = raw.get("group_id")
    if group_id is not None and type(group_id) is not int:
        reader.fail("match.group_id", f"{quote(group_id)} is not an integer", "write group_id = 2")
    ids_raw = raw.get("id")
    ids = None
    if ids_raw is not None:
        items = ids_raw if isinstance(ids_raw, list) else [ids_raw]
        if not items or any(type(i) is not int for i in items):
            reader.fail("match.id", f"{quote(ids_raw)} is not an integer or a list of integers", "write id = 581")
        else:
            ids = frozenset(items)
    name = raw.get("name")
    name_re = None
    if name is not None:
        if not isinstance(name, str) or not re.fullmatch(r"[A-Z0-9_*?\[\]!]{1,80}", name):
            reader.fail("match.name", f"{quote(name)} is not a name pattern",
                        'write an UPPER_SNAKE name or glob: "EC_*"')
        else:
            name_re = re.compile(fnmatch.translate(name))
    for key in ("permanent", "success"):
        if key in raw and type(raw[key]) is not bool:
            reader.fail(f"match.{key}", f"{quote(raw[key])} is not true or false", f"write {key} = true")
    channels = None
    if "channel" in raw:
        items = raw["channel"] if isinstance(raw["channel"], list) else [raw["channel"]]
        bad = [c for c in items if not isinstance(c, str) or c not in CHANNELS]
        if bad or not items:
            reader.fail("match.channel", f"unknown channel {quote(bad[0]) if bad else quote(items)}",
                        f"use one of: {', '.join(CHANNELS)}")
        else:
            channels = frozenset(items)
    if not reader.ok:
        return None
    return Match(
        provider=provider, kind=kind, product=product, group_id=group_id, ids=ids, name=name,
        permanent=raw.get("permanent"), success=raw.get("success"), channels=channels, name_re=name_re,
    )
