"""Reading policy files value by value: the layer (a file as read), the problem collector, and the readers that
turn one rule body or match into validated values, recording every problem instead of stopping at the first."""

from __future__ import annotations

import fnmatch
import functools
import re
import tomllib
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from .._errors import DurationError, PolicyError, PolicyProblem
from ..model._decision import EscalateEffect
from ..model._duration import parse_duration
from ..model._time_rules import Backoff, CalendarTime, Window
from ..model._vocabulary import CHANNELS, SCOPES, SEVERITIES, VERDICTS, VOCABULARY
from ._rules import Body, Match, SuppressSpec

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

_ID_LINE = re.compile(r"""^\s*id\s*=\s*["']([^"']*)["']""")


@attrs.frozen(slots=False)
class Layer:
    """One policy file as read: its TOML data, where it came from, and what to call it in decisions."""

    name: str
    source: str
    data: Mapping[str, Any]
    text: str = ""

    @classmethod
    def from_text(cls, text: str, *, source: str, name: str) -> Layer:
        """Parse TOML text; a syntax error becomes a `PolicyError` naming the file and line."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line = None
            found = re.search(r"line (\d+)", str(exc))
            if found:
                line = int(found.group(1))
            raise PolicyError(
                [PolicyProblem(file=source, line=line, message=f"not valid TOML: {exc}",
                               fix="correct the TOML syntax at that line")]
            ) from None
        return cls(name=name, source=source, data=data, text=text)

    def line_of(self, pattern: str) -> int | None:
        """First line (1-based) whose text matches the regular expression ``pattern``."""
        regex = re.compile(pattern)
        for number, line in enumerate(self.text.splitlines(), start=1):
            if regex.search(line):
                return number
        return None

    def rule_line(self, rule_id: object) -> int | None:
        """The line of ``id = "<rule_id>"`` in this file."""
        if not isinstance(rule_id, str):
            return None
        return self._id_lines.get(rule_id)

    @functools.cached_property
    def _id_lines(self) -> dict[str, int]:
        # One pass over the text: looking each rule up separately made loading quadratic in the rule count.
        lines: dict[str, int] = {}
        for number, line in enumerate(self.text.splitlines(), start=1):
            found = _ID_LINE.match(line)
            if found:
                lines.setdefault(found.group(1), number)
        return lines


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
    """Reads one body (rule, defaults fallback, unknown) field by field, recording problems instead of raising."""

    def __init__(self, problems: Problems, layer: Layer, rule: str | None, windows: Mapping[str, Window],
                 zone: ZoneInfo, backoff: Backoff | None, line: int | None = None) -> None:
        self.problems = problems
        self.layer = layer
        self.rule = rule
        self.windows = windows
        self.zone = zone
        self.default_backoff = backoff
        self.line = line
        self.ok = True

    def fail(self, field: str, message: str, fix: str) -> None:
        self.ok = False
        self.problems.add(self.layer, message, fix, rule=self.rule, field=field, line=self.line)

    def duration(self, raw: Mapping[str, Any], field: str) -> timedelta | None:
        value = raw.get(field)
        if value is None:
            return None
        try:
            return parse_duration(value)
        except DurationError:
            self.fail(field, f"{value!r} is not a duration", 'write a number and a unit: "30s", "15m", "24h", "7d"')
            return None

    def choice(self, raw: Mapping[str, Any], field: str, choices: Sequence[str]) -> str | None:
        value = raw.get(field)
        if value is None:
            return None
        if value not in choices:
            self.fail(field, f"{value!r} is not allowed", f"use one of: {', '.join(choices)}")
            return None
        return str(value)

    def positive_int(self, raw: Mapping[str, Any], field: str) -> int | None:
        value = raw.get(field)
        if value is None:
            return None
        if type(value) is not int or value < 1:
            self.fail(field, f"{value!r} is not a whole number >= 1", "write a positive integer, e.g. 3")
            return None
        return value

    def zone_of(self, value: object, field: str) -> ZoneInfo | None:
        if not isinstance(value, str):
            self.fail(field, f"{value!r} is not a time zone name", 'use an IANA zone such as "Asia/Seoul"')
            return None
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            self.fail(field, f"unknown time zone {value!r}", 'use an IANA zone such as "America/New_York"')
            return None

    def backoff(self, value: object, field: str = "backoff") -> Backoff | None:
        base = self.default_backoff
        if value is True:
            return base
        if not isinstance(value, dict):
            self.fail(field, f"{value!r} is not a backoff table", "write {initial, factor, max, jitter} or true")
            return None
        unknown = set(value) - BACKOFF_KEYS
        if unknown:
            self.fail(f"{field}.{sorted(unknown)[0]}", "unknown key", f"use only {', '.join(sorted(BACKOFF_KEYS))}")
        initial = self.duration(value, "initial") if "initial" in value else (base.initial if base else None)
        maximum = self.duration(value, "max") if "max" in value else (base.max if base else None)
        factor = value.get("factor", base.factor if base else None)
        jitter = value.get("jitter", base.jitter if base else 0.0)
        if not isinstance(factor, int | float) or isinstance(factor, bool) or factor < 1:
            self.fail(f"{field}.factor", f"{factor!r} is not a number >= 1", "use e.g. factor = 2")
            return None
        if not isinstance(jitter, int | float) or isinstance(jitter, bool) or not 0 <= jitter < 1:
            self.fail(f"{field}.jitter", f"{jitter!r} is not a fraction in [0, 1)", "use e.g. jitter = 0.1")
            return None
        if initial is None or maximum is None:
            self.fail(field, "initial and max are required", 'write e.g. {initial = "30s", max = "1h"}')
            return None
        if maximum < initial:
            self.fail(f"{field}.max", "max is shorter than initial", "make max at least as long as initial")
            return None
        return Backoff(initial=initial, factor=float(factor), max=maximum, jitter=float(jitter))

    def body(self, raw: Mapping[str, Any], *, require_reason: bool = True) -> Body | None:
        verdict = raw.get("verdict")
        if verdict not in VERDICTS:
            self.fail("verdict", f"{verdict!r} is not a verdict", f"use one of: {', '.join(VERDICTS)}")
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
        window = None
        if "window" in raw:
            window = self.windows.get(raw["window"]) if isinstance(raw["window"], str) else None
            if window is None:
                known = ", ".join(sorted(self.windows)) or "none defined"
                self.fail("window", f"no window named {raw['window']!r}", f"define [windows.{raw['window']}] "
                          f"or use one of: {known}")
        backoff = self.backoff(raw["backoff"]) if "backoff" in raw else None
        channel = raw.get("channel")
        if channel is not None and channel not in CHANNELS:
            self.fail("channel", f"{channel!r} is not a channel", f"use one of: {', '.join(CHANNELS)}")
        suppress = None
        if "suppress" in raw:
            spec = raw["suppress"]
            if not isinstance(spec, dict) or set(spec) - {"scope", "for"}:
                self.fail("suppress", f"{spec!r} is not a suppress table", 'write {scope = "recipient", for = "24h"}')
            else:
                scope = spec.get("scope")
                if scope not in SCOPES:
                    self.fail("suppress.scope", f"{scope!r} is not a scope", f"use one of: {', '.join(SCOPES)}")
                    scope = None
                duration = self.duration(spec, "for")
                if scope is not None:
                    suppress = SuppressSpec(scope, duration)
        escalate = None
        if "escalate" in raw:
            spec = raw["escalate"]
            if not isinstance(spec, dict) or set(spec) - {"route", "severity"}:
                self.fail("escalate", f"{spec!r} is not an escalate table",
                          'write {route = "billing", severity = "critical"}')
            else:
                route = spec.get("route")
                severity = spec.get("severity", "warning")
                if not isinstance(route, str) or not ROUTE.fullmatch(route):
                    self.fail("escalate.route", f"{route!r} is not a route name",
                              "use a lower-case name such as credentials, billing, support")
                elif severity not in SEVERITIES:
                    self.fail("escalate.severity", f"{severity!r} is not a severity",
                              f"use one of: {', '.join(SEVERITIES)}")
                else:
                    escalate = EscalateEffect(route, severity)
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
            channel=channel,
            suppress=suppress,
            escalate=escalate,
            max_delay=self.duration(raw, "max_delay"),
        )
        if body.at is not None and (body.after is not None or body.every is not None):
            self.fail("at", "at cannot be combined with after/every", "keep either the calendar time or the delay")
        return body if self.ok else None


def read_match(reader: FieldReader, raw: object) -> Match | None:
    if not isinstance(raw, dict):
        reader.fail("match", f"{raw!r} is not a table", 'write match = {provider = "infobip", id = 581}')
        return None
    for key in set(raw) - MATCH_KEYS:
        reader.fail(f"match.{key}", "unknown match key", f"use only: {', '.join(sorted(MATCH_KEYS))}")
    provider, kind, product = raw.get("provider"), raw.get("kind"), raw.get("product")
    if provider is not None and (not isinstance(provider, str) or provider not in VOCABULARY):
        reader.fail("match.provider", f"unknown provider {provider!r}", f"use one of: {', '.join(VOCABULARY)}")
    kinds = set(VOCABULARY[provider]) if isinstance(provider, str) and provider in VOCABULARY else {
        k for p in VOCABULARY.values() for k in p
    }
    if kind is not None and kind not in kinds:
        reader.fail("match.kind", f"unknown kind {kind!r}", f"use one of: {', '.join(sorted(kinds))}")
    products = {x for p in VOCABULARY.values() for ks in p.values() for x in ks}
    if product is not None and product not in products:
        reader.fail("match.product", f"unknown product {product!r}", f"use one of: {', '.join(sorted(products))}")
    group_id = raw.get("group_id")
    if group_id is not None and type(group_id) is not int:
        reader.fail("match.group_id", f"{group_id!r} is not an integer", "write group_id = 2")
    ids_raw = raw.get("id")
    ids = None
    if ids_raw is not None:
        items = ids_raw if isinstance(ids_raw, list) else [ids_raw]
        if not items or any(type(i) is not int for i in items):
            reader.fail("match.id", f"{ids_raw!r} is not an integer or a list of integers", "write id = 581")
        else:
            ids = frozenset(items)
    name = raw.get("name")
    name_re = None
    if name is not None:
        if not isinstance(name, str) or not re.fullmatch(r"[A-Z0-9_*?\[\]!]+", name):
            reader.fail("match.name", f"{name!r} is not a name pattern", 'write an UPPER_SNAKE name or glob: "EC_*"')
        else:
            name_re = re.compile(fnmatch.translate(name))
    for key in ("permanent", "success"):
        if key in raw and type(raw[key]) is not bool:
            reader.fail(f"match.{key}", f"{raw[key]!r} is not true or false", f"write {key} = true")
    channels = None
    if "channel" in raw:
        items = raw["channel"] if isinstance(raw["channel"], list) else [raw["channel"]]
        bad = [c for c in items if c not in CHANNELS]
        if bad or not items:
            reader.fail("match.channel", f"unknown channel {bad[0] if bad else items!r}",
                        f"use one of: {', '.join(CHANNELS)}")
        else:
            channels = frozenset(items)
    if not reader.ok:
        return None
    return Match(
        provider=provider, kind=kind, product=product, group_id=group_id, ids=ids, name=name,
        permanent=raw.get("permanent"), success=raw.get("success"), channels=channels, name_re=name_re,
    )
