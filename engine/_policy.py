"""Policy files: TOML in, validated rule specs out.  Every problem in a file is collected and reported at once,
each naming the file, line, rule id, field and the fix.  Layers (the shipped default, then a tenant file) are
merged here, before validation, so that a file that fails is never partly applied."""

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

from ._catalog import VOCABULARY
from ._duration import parse_duration
from ._errors import DurationError, PolicyError, PolicyProblem
from ._models import CHANNELS, SCOPES, SEVERITIES, VERDICTS, EscalateEffect
from ._rules import Body, Defaults, Match, PolicySpec, Rule, SuppressSpec
from ._schedule import WEEKDAYS, Backoff, CalendarTime, Window, parse_range

_BODY_KEYS: Final = frozenset(
    {
        "verdict", "after", "every", "backoff", "at", "timezone", "window", "give_up_after", "max_attempts",
        "on_exhausted", "channel", "suppress", "escalate", "reason", "max_delay",
    }
)
_RULE_KEYS: Final = _BODY_KEYS | {"id", "match"}
_MATCH_KEYS: Final = frozenset(
    {"provider", "kind", "product", "group_id", "id", "name", "permanent", "success", "channel"}
)
_DEFAULT_KEYS: Final = frozenset(
    {
        "timezone", "backoff", "max_attempts", "give_up_after", "on_exhausted", "max_delay", "verdict", "reason",
        "unknown", "unknown_permanent", "escalate", "suppress", "after", "every", "window", "routes",
        "attempts_ceiling", "same_day",
    }
)
_BACKOFF_KEYS: Final = frozenset({"initial", "factor", "max", "jitter"})
_TOP_KEYS: Final = frozenset({"defaults", "windows", "rule", "patch", "disable", "policy"})
_EXHAUSTED: Final = ("suppress", "escalate", "done")
_RULE_ID = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,79}")
_ROUTE = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,63}")

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


class _Problems:
    def __init__(self) -> None:
        self.items: list[PolicyProblem] = []

    def add(self, layer: Layer, message: str, fix: str, *, rule: str | None = None, field: str | None = None,
            line: int | None = None) -> None:
        if line is None and rule is not None:
            line = layer.rule_line(rule)
        self.items.append(PolicyProblem(file=layer.source, line=line, rule=rule, field=field, message=message,
                                        fix=fix))


class _Reader:
    """Reads one body (rule, defaults fallback, unknown) field by field, recording problems instead of raising."""

    def __init__(self, problems: _Problems, layer: Layer, rule: str | None, windows: Mapping[str, Window],
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
        unknown = set(value) - _BACKOFF_KEYS
        if unknown:
            self.fail(f"{field}.{sorted(unknown)[0]}", "unknown key", f"use only {', '.join(sorted(_BACKOFF_KEYS))}")
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
                if not isinstance(route, str) or not _ROUTE.fullmatch(route):
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
            on_exhausted=self.choice(raw, "on_exhausted", _EXHAUSTED),
            channel=channel,
            suppress=suppress,
            escalate=escalate,
            max_delay=self.duration(raw, "max_delay"),
        )
        if body.at is not None and (body.after is not None or body.every is not None):
            self.fail("at", "at cannot be combined with after/every", "keep either the calendar time or the delay")
        return body if self.ok else None


def _merge_defaults(layers: Sequence[Layer], problems: _Problems) -> tuple[dict[str, Any], dict[str, Layer]]:
    merged: dict[str, Any] = {}
    origin: dict[str, Layer] = {}
    for layer in layers:
        raw = layer.data.get("defaults", {})
        if not isinstance(raw, dict):
            problems.add(layer, "[defaults] is not a table", "write [defaults] as a table", field="defaults")
            continue
        for key, value in raw.items():
            if key not in _DEFAULT_KEYS:
                problems.add(layer, f"unknown key defaults.{key}", f"use only: {', '.join(sorted(_DEFAULT_KEYS))}",
                              field=f"defaults.{key}", line=layer.line_of(rf"^\s*{re.escape(key)}\s*="))
                continue
            if key in ("backoff", "unknown", "unknown_permanent", "routes") and isinstance(value, dict) and isinstance(
                merged.get(key), dict
            ):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
            origin[key] = layer
    return merged, origin


def _read_windows(layers: Sequence[Layer], problems: _Problems) -> dict[str, Window]:
    merged: dict[str, dict[str, Any]] = {}
    origin: dict[str, Layer] = {}
    for layer in layers:
        raw = layer.data.get("windows", {})
        if not isinstance(raw, dict):
            problems.add(layer, "[windows] is not a table", "write [windows.NAME] tables", field="windows")
            continue
        for name, spec in raw.items():
            if not isinstance(spec, dict):
                problems.add(layer, f"window {name!r} is not a table", "write [windows.NAME] with timezone and daily",
                             field=f"windows.{name}")
                continue
            merged[name] = {**merged.get(name, {}), **spec}
            origin[name] = layer
    windows = {}
    allowed = {"timezone", "daily", *WEEKDAYS}
    for name, spec in merged.items():
        layer = origin[name]
        line = layer.line_of(rf"^\s*\[windows\.{re.escape(name)}\]")
        reader = _Reader(problems, layer, None, {}, ZoneInfo("UTC"), None, line)
        for key in set(spec) - allowed:
            reader.fail(f"windows.{name}.{key}", "unknown key", f"use timezone, daily or {', '.join(WEEKDAYS)}")
        zone = reader.zone_of(spec.get("timezone"), f"windows.{name}.timezone")
        daily = spec.get("daily", [])
        per_day = []
        for day in WEEKDAYS:
            ranges_raw = spec.get(day, daily)
            ranges = []
            if not isinstance(ranges_raw, list):
                reader.fail(f"windows.{name}.{day}", f"{ranges_raw!r} is not a list", 'write ["08:00-20:50"]')
                ranges_raw = []
            for item in ranges_raw:
                try:
                    ranges.append(parse_range(item))
                except ValueError as exc:
                    reader.fail(f"windows.{name}.{day}", str(exc), 'write ranges like "08:00-20:50"')
            per_day.append(tuple(ranges))
        if not any(per_day):
            reader.fail(f"windows.{name}", "the window allows no hours at all", 'add daily = ["HH:MM-HH:MM"]')
        if zone is not None and reader.ok:
            windows[name] = Window(name, zone, tuple(per_day))
    return windows


def _read_match(reader: _Reader, raw: object) -> Match | None:
    if not isinstance(raw, dict):
        reader.fail("match", f"{raw!r} is not a table", 'write match = {provider = "infobip", id = 581}')
        return None
    for key in set(raw) - _MATCH_KEYS:
        reader.fail(f"match.{key}", "unknown match key", f"use only: {', '.join(sorted(_MATCH_KEYS))}")
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


def _rules_of(layer: Layer, problems: _Problems, key: str) -> list[dict[str, Any]]:
    raw = layer.data.get(key, [])
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        problems.add(layer, f"{key} must be an array of tables", f"write each one as [[{key}]]", field=key)
        return []
    return raw


_Merged = dict[str, tuple[dict[str, Any], "Layer", tuple[str, ...]]]


def _merge_rules(layers: Sequence[Layer], problems: _Problems) -> _Merged:
    """Rule id -> (raw rule, layer that last wrote it, layers that shaped it), applying replace/patch/disable."""
    rules: dict[str, tuple[dict[str, Any], Layer, tuple[str, ...]]] = {}
    for index, layer in enumerate(layers):
        for key in set(layer.data) - _TOP_KEYS:
            problems.add(layer, f"unknown top-level key {key!r}", f"use only: {', '.join(sorted(_TOP_KEYS))}",
                         field=key, line=layer.line_of(rf"^\s*\[*{re.escape(key)}\b"))
        if index == 0 and ("patch" in layer.data or "disable" in layer.data):
            problems.add(layer, "the base policy cannot patch or disable rules", "edit the rules directly",
                         field="patch" if "patch" in layer.data else "disable")
        seen_here: set[str] = set()
        for raw in _rules_of(layer, problems, "rule"):
            rule_id = raw.get("id")
            if not isinstance(rule_id, str) or not _RULE_ID.fullmatch(rule_id):
                problems.add(layer, f"rule id {rule_id!r} is missing or malformed",
                             'give every rule an id like "sms.out-of-credit" (a-z, 0-9, ".", "-", "_")',
                             field="id", line=layer.rule_line(rule_id))
                continue
            if rule_id in seen_here:
                problems.add(layer, f"rule id {rule_id!r} is defined twice in this file",
                             "rename one of them or merge them", rule=rule_id, field="id")
                continue
            seen_here.add(rule_id)
            rules[rule_id] = (raw, layer, (layer.name,))
        for raw in _rules_of(layer, problems, "patch"):
            rule_id = raw.get("id")
            if rule_id not in rules:
                problems.add(layer, f"patch names unknown rule {rule_id!r}",
                             "use the id of a rule from an earlier layer (`dlrpolicy policy coverage` lists them)",
                             rule=rule_id if isinstance(rule_id, str) else None, field="id")
                continue
            fields = {k: v for k, v in raw.items() if k != "id"}
            for field in set(fields) - (_RULE_KEYS - {"id"}):
                problems.add(layer, f"unknown field {field!r} in patch",
                             f"use only: {', '.join(sorted(_RULE_KEYS - {'id'}))}", rule=rule_id, field=field)
            base, _, shaped = rules[rule_id]
            merged = {**base, **fields}
            if isinstance(fields.get("match"), dict) and isinstance(base.get("match"), dict):
                merged["match"] = {**base["match"], **fields["match"]}
            rules[rule_id] = (merged, layer, (*shaped, layer.name) if layer.name not in shaped else shaped)
        disable = layer.data.get("disable", [])
        if not isinstance(disable, list):
            problems.add(layer, "disable must be a list of rule ids", 'write disable = ["rule-id"]', field="disable")
            disable = []
        for rule_id in disable:
            if rule_id not in rules:
                problems.add(layer, f"disable names unknown rule {rule_id!r}",
                             "use the id of a rule from an earlier layer", rule=str(rule_id), field="disable",
                             line=layer.line_of(r"^\s*disable\s*="))
            else:
                del rules[rule_id]
    return rules


def build_spec(layers: Sequence[Layer]) -> PolicySpec:
    """Merge ``layers`` (base first) and validate the result; raise `PolicyError` listing every problem."""
    if not layers:
        raise ValueError("build_spec needs at least one layer")
    problems = _Problems()
    raw_defaults, origin = _merge_defaults(layers, problems)
    windows = _read_windows(layers, problems)
    base = layers[0]
    defaults_layer = origin.get("timezone", base)
    reader = _Reader(problems, defaults_layer, None, windows, ZoneInfo("UTC"), None,
                     defaults_layer.line_of(r"^\s*\[defaults\]"))
    zone = reader.zone_of(raw_defaults.get("timezone", "UTC"), "defaults.timezone") or ZoneInfo("UTC")
    reader.zone = zone
    backoff = reader.backoff(raw_defaults.get("backoff"), "defaults.backoff") if "backoff" in raw_defaults else None
    if backoff is None and "backoff" not in raw_defaults:
        reader.fail("defaults.backoff", "missing", 'add backoff = {initial = "30s", factor = 2, max = "1h"}')
    max_attempts = reader.positive_int(raw_defaults, "max_attempts")
    if max_attempts is None and "max_attempts" not in raw_defaults:
        reader.fail("defaults.max_attempts", "missing", "add max_attempts = 5")
    give_up_after = reader.duration(raw_defaults, "give_up_after")
    if give_up_after is None and "give_up_after" not in raw_defaults:
        reader.fail("defaults.give_up_after", "missing", 'add give_up_after = "48h"')
    on_exhausted = reader.choice(raw_defaults, "on_exhausted", _EXHAUSTED) or "suppress"
    max_delay = reader.duration(raw_defaults, "max_delay") or timedelta(hours=1)
    window = None
    if "window" in raw_defaults:
        window = windows.get(raw_defaults["window"]) if isinstance(raw_defaults["window"], str) else None
        if window is None:
            reader.fail("defaults.window", f"no window named {raw_defaults['window']!r}",
                        f"define [windows.{raw_defaults['window']}] or use one of: {', '.join(sorted(windows)) or '-'}")
    routes = raw_defaults.get("routes", {})
    if not isinstance(routes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and _ROUTE.fullmatch(v) for k, v in routes.items()
    ):
        reader.fail("defaults.routes", f"{routes!r} is not a table of route names",
                    'write routes = { billing = "bank-finance" } with lower-case route names')
        routes = {}
    attempts_ceiling = reader.positive_int(raw_defaults, "attempts_ceiling")
    same_day = raw_defaults.get("same_day", False)
    if type(same_day) is not bool:
        reader.fail("defaults.same_day", f"{same_day!r} is not true or false", "write same_day = true")
        same_day = False

    def sub_body(key: str, fallback: Mapping[str, Any] | None) -> Body | None:
        raw = raw_defaults.get(key, fallback)
        layer = origin.get(key, base)
        sub = _Reader(problems, layer, f"defaults.{key}", windows, zone, backoff,
                      layer.line_of(rf"^\s*\[defaults\.{key}\]") or layer.line_of(r"^\s*\[defaults\]"))
        if not isinstance(raw, dict):
            sub.fail(f"defaults.{key}", "missing or not a table", f"add [defaults.{key}] with verdict and reason")
            return None
        for extra in set(raw) - _BODY_KEYS:
            sub.fail(f"defaults.{key}.{extra}", "unknown key", f"use only: {', '.join(sorted(_BODY_KEYS))}")
        return sub.body(raw)

    fallback_raw = {k: raw_defaults[k] for k in _BODY_KEYS if k in raw_defaults and k not in
                    ("backoff", "give_up_after", "max_attempts", "on_exhausted", "max_delay", "timezone", "window")}
    fallback_reader = _Reader(problems, origin.get("verdict", base), "defaults", windows, zone, backoff,
                              origin.get("verdict", base).line_of(r"^\s*\[defaults\]"))
    fallback = fallback_reader.body(fallback_raw)
    unknown = sub_body("unknown", None)
    unknown_permanent = sub_body("unknown_permanent", raw_defaults.get("unknown"))

    rules = []
    for rule_id, (raw, layer, shaped) in _merge_rules(layers, problems).items():
        rule_reader = _Reader(problems, layer, rule_id, windows, zone, backoff)
        for field in set(raw) - _RULE_KEYS:
            rule_reader.fail(field, "unknown field", f"use only: {', '.join(sorted(_RULE_KEYS))}")
        match = _read_match(rule_reader, raw.get("match"))
        body = rule_reader.body({k: v for k, v in raw.items() if k in _BODY_KEYS})
        if match is not None and body is not None and rule_reader.ok:
            rules.append(Rule(rule_id, match, body, layer.source, shaped, layer.rule_line(rule_id)))
    if problems.items:
        raise PolicyError(problems.items)
    # Every None below was reported as a problem above, so reaching here means all were read.
    assert backoff is not None
    assert max_attempts is not None
    assert give_up_after is not None
    assert fallback is not None
    assert unknown is not None
    assert unknown_permanent is not None
    defaults = Defaults(
        timezone=zone, backoff=backoff, max_attempts=max_attempts, give_up_after=give_up_after,
        on_exhausted=on_exhausted, max_delay=max_delay, fallback=fallback, unknown=unknown,
        unknown_permanent=unknown_permanent, source=defaults_layer.source,
        layers=tuple(dict.fromkeys(layer.name for layer in origin.values())) or (base.name,),
        window=window, routes=dict(routes), attempts_ceiling=attempts_ceiling, same_day=same_day,
    )
    disabled = tuple(str(d) for layer in layers[1:] for d in layer.data.get("disable", []) or [])
    return PolicySpec(defaults, windows, tuple(rules), tuple(layer.name for layer in layers), disabled)

