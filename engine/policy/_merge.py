"""Policy files: TOML in, validated rule specs out.  Every problem in a file is collected and reported at once,
each naming the file, line, rule id, field and the fix.  Layers (the shipped default, then a tenant file) are
merged here, before validation, so that a file that fails is never partly applied."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from .._errors import PolicyError
from ..model._time_rules import WEEKDAYS, Window, parse_range
from ._read import BODY_KEYS, EXHAUSTED, ROUTE, FieldReader, Layer, Problems, read_match
from ._rules import Body, Defaults, PolicySpec, Rule
from ._settings import RULE_KEYS, TABLES
from ._settings_read import read_settings

_RULE_KEYS: Final = BODY_KEYS | {"id", "match"} | RULE_KEYS
_DEFAULT_KEYS: Final = frozenset(
    {
        "timezone", "backoff", "max_attempts", "give_up_after", "on_exhausted", "max_delay", "verdict", "reason",
        "unknown", "unknown_permanent", "escalate", "suppress", "after", "every", "window", "routes",
        "attempts_ceiling", "same_day", "seen", "cancelled", "type_windows",
    }
)
# [defaults] keys whose tables a later layer merges key by key instead of replacing.
_TABLE_DEFAULTS: Final = frozenset({"backoff", "unknown", "unknown_permanent", "routes", "seen", "cancelled",
                                    "type_windows"})
# Event decisions when a policy says nothing about them: a read report and a cancelled message need no action.
_EVENT_DEFAULTS: Final = {
    "seen": {"verdict": "done", "reason": "The recipient read the message; a read report needs no action."},
    "cancelled": {"verdict": "done", "reason": "The sender cancelled the message before it was sent; nothing "
                                               "more to do."},
}
_TYPE_PATTERN = re.compile(r"[A-Z0-9_*?]+")
_TOP_KEYS: Final = frozenset({"defaults", "windows", "rule", "patch", "disable", "policy"}) | TABLES
_RULE_ID = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,79}")

__all__ = ["Layer", "build_spec"]


def _merge_defaults(layers: Sequence[Layer], problems: Problems) -> tuple[dict[str, Any], dict[str, Layer]]:
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
            if key in _TABLE_DEFAULTS and isinstance(value, dict) and isinstance(
                merged.get(key), dict
            ):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
            origin[key] = layer
    return merged, origin


def _read_windows(layers: Sequence[Layer], problems: Problems) -> dict[str, Window]:
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
        reader = FieldReader(problems, layer, None, {}, ZoneInfo("UTC"), None, line)
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


def _rules_of(layer: Layer, problems: Problems, key: str) -> list[dict[str, Any]]:
    raw = layer.data.get(key, [])
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        problems.add(layer, f"{key} must be an array of tables", f"write each one as [[{key}]]", field=key)
        return []
    return raw


_Merged = dict[str, tuple[dict[str, Any], "Layer", tuple[str, ...]]]


def _merge_rules(layers: Sequence[Layer], problems: Problems) -> _Merged:
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


def _type_windows(raw: object, windows: Mapping[str, Window], reader: FieldReader) -> tuple[tuple[str, Window], ...]:
    """``type_windows = { "FRIENDTALK_*" = "kakao_friendtalk" }``: message types (globs) -> the window that
    governs their retries."""
    if not isinstance(raw, dict):
        reader.fail("defaults.type_windows", f"{raw!r} is not a table",
                    'write type_windows = { "FRIENDTALK_*" = "kakao_friendtalk" }')
        return ()
    found = []
    for pattern, name in raw.items():
        if not _TYPE_PATTERN.fullmatch(pattern):
            reader.fail(f"defaults.type_windows.{pattern}", "not a message type pattern",
                        'write an UPPER_SNAKE message type or glob such as "FRIENDTALK_*"')
        elif not isinstance(name, str) or name not in windows:
            reader.fail(f"defaults.type_windows.{pattern}", f"no window named {name!r}",
                        f"define [windows.{name}] or use one of: {', '.join(sorted(windows)) or '-'}")
        else:
            found.append((pattern, windows[name]))
    return tuple(found)


def build_spec(layers: Sequence[Layer]) -> PolicySpec:
    """Merge ``layers`` (base first) and validate the result; raise `PolicyError` listing every problem."""
    if not layers:
        raise ValueError("build_spec needs at least one layer")
    problems = Problems()
    raw_defaults, origin = _merge_defaults(layers, problems)
    windows = _read_windows(layers, problems)
    base = layers[0]
    defaults_layer = origin.get("timezone", base)
    reader = FieldReader(problems, defaults_layer, None, windows, ZoneInfo("UTC"), None,
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
    on_exhausted = reader.choice(raw_defaults, "on_exhausted", EXHAUSTED) or "suppress"
    max_delay = reader.duration(raw_defaults, "max_delay") or timedelta(hours=1)
    window = None
    if "window" in raw_defaults:
        window = windows.get(raw_defaults["window"]) if isinstance(raw_defaults["window"], str) else None
        if window is None:
            reader.fail("defaults.window", f"no window named {raw_defaults['window']!r}",
                        f"define [windows.{raw_defaults['window']}] or use one of: {', '.join(sorted(windows)) or '-'}")
    routes = raw_defaults.get("routes", {})
    if not isinstance(routes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and ROUTE.fullmatch(v) for k, v in routes.items()
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
        sub = FieldReader(problems, layer, f"defaults.{key}", windows, zone, backoff,
                      layer.line_of(rf"^\s*\[defaults\.{key}\]") or layer.line_of(r"^\s*\[defaults\]"))
        if not isinstance(raw, dict):
            sub.fail(f"defaults.{key}", "missing or not a table", f"add [defaults.{key}] with verdict and reason")
            return None
        for extra in set(raw) - BODY_KEYS:
            sub.fail(f"defaults.{key}.{extra}", "unknown key", f"use only: {', '.join(sorted(BODY_KEYS))}")
        return sub.body(raw)

    fallback_raw = {k: raw_defaults[k] for k in BODY_KEYS if k in raw_defaults and k not in
                    ("backoff", "give_up_after", "max_attempts", "on_exhausted", "max_delay", "timezone", "window")}
    fallback_reader = FieldReader(problems, origin.get("verdict", base), "defaults", windows, zone, backoff,
                              origin.get("verdict", base).line_of(r"^\s*\[defaults\]"))
    fallback = fallback_reader.body(fallback_raw)
    unknown = sub_body("unknown", None)
    unknown_permanent = sub_body("unknown_permanent", raw_defaults.get("unknown"))
    seen = sub_body("seen", _EVENT_DEFAULTS["seen"])
    cancelled = sub_body("cancelled", _EVENT_DEFAULTS["cancelled"])
    type_windows = _type_windows(raw_defaults.get("type_windows", {}), windows, reader)

    rules = []
    merged_rules = _merge_rules(layers, problems)
    settings = read_settings(layers, merged_rules, problems)
    for rule_id, (raw, layer, shaped) in merged_rules.items():
        rule_reader = FieldReader(problems, layer, rule_id, windows, zone, backoff)
        for field in set(raw) - _RULE_KEYS:
            rule_reader.fail(field, "unknown field", f"use only: {', '.join(sorted(_RULE_KEYS))}")
        match = read_match(rule_reader, raw.get("match"))
        body = rule_reader.body({k: v for k, v in raw.items() if k in BODY_KEYS})
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
        seen=seen, cancelled=cancelled, type_windows=type_windows,
    )
    disabled = tuple(str(d) for layer in layers[1:] for d in layer.data.get("disable", []) or [])
    return PolicySpec(defaults, windows, tuple(rules), tuple(layer.name for layer in layers), disabled,
                      settings=settings)

