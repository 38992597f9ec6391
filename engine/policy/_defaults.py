"""``[windows.*]`` and ``[defaults]`` merged over the layers, key by key, and read into `Window`s and `Defaults`.

Every problem is reported in the file that wrote the key, at the key's own line (a tenant's bad
``[defaults]`` key is the tenant's problem, not ``policies/default.toml:17``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from .._errors import quote
from ..model._time_rules import WEEKDAYS, Backoff, Window, parse_range
from ._read import BODY_KEYS, EXHAUSTED, ROUTE, FieldReader, Layer, Problems
from ._rules import Body, Defaults
from ._settings import TABLES

DEFAULT_KEYS: Final = frozenset(
    {
        "timezone", "backoff", "max_attempts", "give_up_after", "on_exhausted", "max_delay", "verdict", "reason",
        "unknown", "unknown_permanent", "escalate", "suppress", "after", "every", "window", "routes",
        "attempts_ceiling", "same_day", "seen", "cancelled", "type_windows", "resend_check",
        "provider_resends",
    }
)
#: Top-level keys: the policy's own tables, then the state layer's ([budgets], [breakers], ...).
TOP_KEYS: Final = frozenset({"defaults", "windows", "rule", "patch", "disable", "policy"}) | TABLES
# [defaults] keys whose tables a later layer merges key by key instead of replacing.
_MERGED_TABLES: Final = ("backoff", "unknown", "unknown_permanent", "routes", "seen", "cancelled", "type_windows")
# Event decisions when a policy says nothing about them: a read report and a cancelled message need no action.
_EVENT_DEFAULTS: Final = {
    "seen": {"verdict": "done", "reason": "The recipient read the message; a read report needs no action."},
    "cancelled": {"verdict": "done", "reason": "The sender cancelled the message before it was sent; nothing "
                                               "more to do."},
}
_TYPE_PATTERN: Final = re.compile(r"[A-Z0-9_*?]+")
#: Defaults that shape rules they are not written in; a decision they shaped names their layer.
SHAPING_KEYS: Final = ("window", "routes", "attempts_ceiling", "same_day")
_UTC: Final = ZoneInfo("UTC")


def unknown_key(key: str, where: str, allowed: Sequence[str]) -> tuple[str, str]:
    """(message, fix) for a key that does not belong in ``where``; a top-level key written after a table header
    (TOML makes it part of that table) says to move it up."""
    if key in TOP_KEYS:
        return (f"{quote(key)} is read as part of {where}, because it comes after that table's header",
                f"move `{key} = ...` above the first [table] of the file: top-level keys must come first in TOML")
    return f"unknown key {quote(key)} in {where}", f"use only: {', '.join(sorted(allowed))}"


def read_windows(layers: Sequence[Layer], problems: Problems) -> tuple[dict[str, Window], frozenset[str]]:
    """The merged windows, and the names of those defined but invalid (already reported)."""
    merged: dict[str, dict[str, Any]] = {}
    origins: dict[str, dict[str, Layer]] = {}
    for layer in layers:
        raw = layer.data.get("windows", {})
        if not isinstance(raw, dict):
            problems.add(layer, "[windows] is not a table", "write [windows.NAME] tables", field="windows")
            continue
        for name, spec in raw.items():
            if not isinstance(spec, dict):
                problems.add(layer, f"window {quote(name)} is not a table",
                             "write [windows.NAME] with timezone and daily", field=f"windows.{name}",
                             line=layer.key_line("windows", name))
                continue
            merged[name] = {**merged.get(name, {}), **spec}
            origins.setdefault(name, {}).update(dict.fromkeys(spec, layer))
    windows: dict[str, Window] = {}
    broken: set[str] = set()
    allowed = ("timezone", "daily", *WEEKDAYS)
    for name, spec in merged.items():
        table = f"windows.{name}"
        first = next(iter(origins[name].values()))
        reader = FieldReader(problems, first, None, {}, _UTC, None, first.header_line(table), table=table,
                             origins=origins[name])
        for key in sorted(set(spec) - set(allowed)):
            reader.fail(f"{table}.{key}", *unknown_key(key, f"[{table}]", allowed))
        zone = reader.zone_of(spec.get("timezone"), f"{table}.timezone")

        def ranges(value: object, field: str, reader: FieldReader = reader) -> tuple[tuple[int, int], ...] | None:
            if not isinstance(value, list):
                reader.fail(field, f"{quote(value)} is not a list of ranges", 'write ["08:00-20:50"]')
                return None
            out, ok = [], True
            for item in value:
                try:
                    out.append(parse_range(item))
                except ValueError as exc:
                    reader.fail(field, str(exc), 'write ranges like "08:00-20:50"')
                    ok = False
            return tuple(out) if ok else None

        # `daily` is read once: one bad range is one problem, not one per weekday.
        daily = ranges(spec["daily"], f"{table}.daily") if "daily" in spec else ()
        per_day = [ranges(spec[day], f"{table}.{day}") if day in spec else daily for day in WEEKDAYS]
        if reader.ok and not any(per_day):
            reader.fail(table, "the window allows no hours at all", 'add daily = ["HH:MM-HH:MM"]')
        if zone is not None and reader.ok:
            windows[name] = Window(name, zone, tuple(r or () for r in per_day))
        else:
            broken.add(name)
    return windows, frozenset(broken)


def merge_defaults(layers: Sequence[Layer], problems: Problems) -> tuple[dict[str, Any], dict[str, Layer]]:
    """``[defaults]`` of every layer merged key by key (tables among them key by key too), and which layer wrote
    each key."""
    merged: dict[str, Any] = {}
    origin: dict[str, Layer] = {}
    for layer in layers:
        raw = layer.data.get("defaults", {})
        if not isinstance(raw, dict):
            problems.add(layer, "[defaults] is not a table", "write [defaults] as a table", field="defaults")
            continue
        for key, value in raw.items():
            if key not in DEFAULT_KEYS:
                message, fix = unknown_key(key, "[defaults]", sorted(DEFAULT_KEYS))
                problems.add(layer, message, fix, field=f"defaults.{key}", line=layer.key_line("defaults", key))
                continue
            if key in _MERGED_TABLES and isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
            origin[key] = layer
    return merged, origin


def read_defaults(layers: Sequence[Layer], problems: Problems, windows: Mapping[str, Window],
                  broken: frozenset[str]) -> tuple[Defaults | None, ZoneInfo, Backoff | None]:
    """The merged ``[defaults]`` as `Defaults` (None when a problem was recorded), with the zone and backoff the
    rules inherit (read even when something else in ``[defaults]`` is wrong, so the rules are still checked)."""
    raw, origin = merge_defaults(layers, problems)
    base = layers[0]
    reader = FieldReader(problems, base, None, windows, _UTC, None, base.header_line("defaults"), table="defaults",
                         broken_windows=broken, origins=origin)
    zone = reader.zone_of(raw.get("timezone", "UTC"), "defaults.timezone") or _UTC
    reader.zone = zone
    backoff = reader.backoff(raw["backoff"], "defaults.backoff") if "backoff" in raw else None
    if "backoff" not in raw:
        reader.fail("defaults.backoff", "missing", 'add backoff = {initial = "30s", factor = 2, max = "1h"}')
    max_attempts = reader.positive_int(raw, "max_attempts", "defaults.max_attempts")
    if "max_attempts" not in raw:
        reader.fail("defaults.max_attempts", "missing", "add max_attempts = 5")
    give_up_after = reader.duration(raw, "give_up_after", "defaults.give_up_after")
    if "give_up_after" not in raw:
        reader.fail("defaults.give_up_after", "missing", 'add give_up_after = "48h"')
    on_exhausted = reader.choice(raw, "on_exhausted", EXHAUSTED, "defaults.on_exhausted") or "suppress"
    max_delay = reader.duration(raw, "max_delay", "defaults.max_delay") or timedelta(hours=1)
    resend_check = reader.duration(raw, "resend_check", "defaults.resend_check") or timedelta(minutes=15)
    window = None
    if "window" in raw:
        name = raw["window"]
        window = windows.get(name) if isinstance(name, str) else None
        if window is None and name not in broken:
            reader.fail("defaults.window", f"no window named {quote(name)}",
                        f"define [windows.NAME] or use one of: {', '.join(sorted(windows)) or '-'}")
    routes = raw.get("routes", {})
    if not isinstance(routes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and ROUTE.fullmatch(v) for k, v in routes.items()
    ):
        reader.fail("defaults.routes", f"{quote(routes)} is not a table of route names",
                    'write routes = { billing = "bank-finance" } with lower-case route names')
        routes = {}
    attempts_ceiling = reader.positive_int(raw, "attempts_ceiling", "defaults.attempts_ceiling")
    provider_resends = raw.get("provider_resends", False)
    if type(provider_resends) is not bool:
        reader.fail("defaults.provider_resends", f"{quote(provider_resends)} is not true or false",
                    "write provider_resends = true when NHN's SMS resend setting is on")
        provider_resends = False
    same_day = raw.get("same_day", False)
    if type(same_day) is not bool:
        reader.fail("defaults.same_day", f"{quote(same_day)} is not true or false", "write same_day = true")
        same_day = False

    def sub_body(key: str, fallback: Mapping[str, Any] | None) -> Body | None:
        value = raw.get(key, fallback)
        layer = origin.get(key, base)
        table = f"defaults.{key}"
        sub = FieldReader(problems, layer, table, windows, zone, backoff,
                          layer.header_line(table) or layer.key_line("defaults", key), table=table,
                          broken_windows=broken)
        if not isinstance(value, dict):
            sub.fail(table, "missing or not a table", f"add [{table}] with verdict and reason")
            return None
        for extra in sorted(set(value) - BODY_KEYS):
            sub.fail(f"{table}.{extra}", *unknown_key(extra, f"[{table}]", sorted(BODY_KEYS)))
        return sub.body(value)

    fallback_raw = {k: raw[k] for k in BODY_KEYS if k in raw and k not in
                    ("backoff", "give_up_after", "max_attempts", "on_exhausted", "max_delay", "timezone", "window")}
    fallback_reader = FieldReader(problems, base, "defaults", windows, zone, backoff, base.header_line("defaults"),
                                  table="defaults", broken_windows=broken, origins=origin)
    fallback = fallback_reader.body(fallback_raw)
    unknown = sub_body("unknown", None)
    unknown_permanent = sub_body("unknown_permanent", raw.get("unknown"))
    seen = sub_body("seen", _EVENT_DEFAULTS["seen"])
    cancelled = sub_body("cancelled", _EVENT_DEFAULTS["cancelled"])
    type_windows = _type_windows(raw.get("type_windows", {}), windows, broken, reader)
    if not reader.ok or backoff is None or max_attempts is None or give_up_after is None or fallback is None \
            or unknown is None or unknown_permanent is None or seen is None or cancelled is None:
        return None, zone, backoff
    return Defaults(
        timezone=zone, backoff=backoff, max_attempts=max_attempts, give_up_after=give_up_after,
        on_exhausted=on_exhausted, max_delay=max_delay, fallback=fallback, unknown=unknown,
        unknown_permanent=unknown_permanent, source=origin.get("timezone", base).source,
        layers=tuple(dict.fromkeys(layer.name for layer in origin.values())) or (base.name,),
        window=window, routes=dict(routes), attempts_ceiling=attempts_ceiling, same_day=same_day,
        key_layers={key: origin[key].name for key in SHAPING_KEYS if key in origin},
        seen=seen, cancelled=cancelled, type_windows=type_windows, resend_check=resend_check,
        provider_resends=provider_resends,
    ), zone, backoff


def _type_windows(raw: object, windows: Mapping[str, Window], broken: frozenset[str],
                  reader: FieldReader) -> tuple[tuple[str, Window], ...]:
    """``type_windows = { "FRIENDTALK_*" = "kakao_friendtalk" }``: message types (globs) -> the window that
    governs their retries."""
    if not isinstance(raw, dict):
        reader.fail("defaults.type_windows", f"{quote(raw)} is not a table",
                    'write type_windows = { "FRIENDTALK_*" = "kakao_friendtalk" }')
        return ()
    found = []
    for pattern, name in raw.items():
        if not _TYPE_PATTERN.fullmatch(pattern):
            reader.fail(f"defaults.type_windows.{pattern}", "not a message type pattern",
                        'write an UPPER_SNAKE message type or glob such as "FRIENDTALK_*"')
        elif not isinstance(name, str) or name not in windows:
            if name not in broken:  # a broken window was reported where it is defined
                reader.fail(f"defaults.type_windows.{pattern}", f"no window named {quote(name)}",
                            f"define [windows.{name}] or use one of: {', '.join(sorted(windows)) or '-'}")
        else:
            found.append((pattern, windows[name]))
    return tuple(found)
