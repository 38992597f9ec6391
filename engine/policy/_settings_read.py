"""Reading the state settings (`StateSettings`) from merged policy layers, recording problems like every other
policy reader does."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Final

import phonenumbers

from ..model._duration import parse_duration
from ._read import Layer, Problems
from ._settings import RULE_KEYS, Breaker, Budget, IncidentSettings, StateSettings

_BUDGET_KEYS: Final = frozenset({"enabled", "ratio", "window", "floor"})
_BREAKER_KEYS: Final = frozenset({"enabled", "failure_ratio", "min_reports", "window", "break", "max_break"})
_INCIDENT_KEYS: Final = frozenset({"max_hold", "release_rate"})
_SUPPRESSION_KEYS: Final = frozenset({"region"})


class _TableReader:
    def __init__(self, problems: Problems, layers: Sequence[Layer], name: str, allowed: frozenset[str]) -> None:
        self.problems = problems
        self.name = name
        self.values: dict[str, Any] = {}
        self.origin: dict[str, Layer] = {}
        for layer in layers:
            raw = layer.data.get(name)
            if raw is None:
                continue
            if not isinstance(raw, dict):
                problems.add(layer, f"[{name}] is not a table", f"write [{name}] as a table", field=name)
                continue
            for key, value in raw.items():
                if key not in allowed:
                    problems.add(layer, f"unknown key {name}.{key}", f"use only: {', '.join(sorted(allowed))}",
                                 field=f"{name}.{key}", line=layer.line_of(rf"^\s*\[{name}\]"))
                    continue
                self.values[key] = value
                self.origin[key] = layer

    def _fail(self, key: str, message: str, fix: str) -> None:
        layer = self.origin[key]
        self.problems.add(layer, message, fix, field=f"{self.name}.{key}", line=layer.line_of(rf"^\s*{key}\s*="))

    def flag(self, key: str, default: bool) -> bool:
        value = self.values.get(key, default)
        if type(value) is not bool:
            self._fail(key, f"{value!r} is not true or false", f"write {key} = true")
            return default
        return value

    def fraction(self, key: str, default: float) -> float:
        value = self.values.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
            self._fail(key, f"{value!r} is not a fraction in (0, 1]", f"write e.g. {key} = 0.2")
            return default
        return float(value)

    def count(self, key: str, default: int, *, low: int = 0) -> int:
        value = self.values.get(key, default)
        if type(value) is not int or value < low:
            self._fail(key, f"{value!r} is not a whole number >= {low}", f"write e.g. {key} = 10")
            return default
        return value

    def rate(self, key: str, default: float) -> float:
        value = self.values.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
            self._fail(key, f"{value!r} is not a positive, finite number of messages per second", f"write {key} = 10")
            return default
        return float(value)

    def duration(self, key: str, default: timedelta) -> timedelta:
        value = self.values.get(key)
        if value is None:
            return default
        try:
            parsed = parse_duration(value)
        except ValueError:
            parsed = timedelta(0)
        if parsed <= timedelta(0):
            self._fail(key, f"{value!r} is not a positive duration", 'write a number and a unit: "60s", "7d"')
            return default
        return parsed


def _rule_flags(rules: Mapping[str, tuple[Any, ...]],
                problems: Problems) -> dict[str, set[str]]:
    flags: dict[str, set[str]] = {"liftable": set(), "hold": set(), "flood": set()}
    for rule_id, (raw, layer, *_) in rules.items():
        for key in RULE_KEYS:
            if key not in raw:
                continue
            value = raw[key]
            if type(value) is not bool:
                problems.add(layer, f"{value!r} is not true or false", f"write {key} = true", rule=rule_id, field=key)
            elif key == "hold" and value and raw.get("verdict") != "escalate" and "escalate" not in raw:
                problems.add(layer, "hold applies only to escalations", "remove hold, or make the rule escalate",
                             rule=rule_id, field=key)
            elif key == "liftable" and not value and "suppress" not in raw and raw.get("verdict") != "suppress":
                problems.add(layer, "liftable = false needs a suppression to protect",
                             "remove liftable, or give the rule a suppress effect", rule=rule_id, field=key)
            elif value != (key == "liftable"):  # liftable = false, hold = true, flood = true: off the default
                flags[key].add(rule_id)
    return flags


def read_settings(layers: Sequence[Layer], rules: Mapping[str, tuple[Any, ...]],
                  problems: Problems) -> StateSettings:
    """The state settings of merged ``layers`` and ``rules`` (rule id -> (raw rule, its layer, ...)); problems
    are recorded in ``problems`` like every other policy problem."""
    budgets = _TableReader(problems, layers, "budgets", _BUDGET_KEYS)
    base_budget = Budget()
    budget = Budget(
        enabled=budgets.flag("enabled", base_budget.enabled), ratio=budgets.fraction("ratio", base_budget.ratio),
        window=budgets.duration("window", base_budget.window), floor=budgets.count("floor", base_budget.floor),
    )
    breakers = _TableReader(problems, layers, "breakers", _BREAKER_KEYS)
    base_breaker = Breaker()
    breaker = Breaker(
        enabled=breakers.flag("enabled", base_breaker.enabled),
        failure_ratio=breakers.fraction("failure_ratio", base_breaker.failure_ratio),
        min_reports=breakers.count("min_reports", base_breaker.min_reports, low=1),
        window=breakers.duration("window", base_breaker.window),
        break_for=breakers.duration("break", base_breaker.break_for),
        max_break=breakers.duration("max_break", base_breaker.max_break),
    )
    if breaker.max_break < breaker.break_for:
        breakers.problems.add(layers[-1], "max_break is shorter than break", "make max_break at least break",
                              field="breakers.max_break")
    incidents = _TableReader(problems, layers, "incidents", _INCIDENT_KEYS)
    base_incidents = IncidentSettings()
    incident_settings = IncidentSettings(
        max_hold=incidents.duration("max_hold", base_incidents.max_hold),
        release_rate=incidents.rate("release_rate", base_incidents.release_rate),
    )
    suppressions = _TableReader(problems, layers, "suppressions", _SUPPRESSION_KEYS)
    region = suppressions.values.get("region")
    if region is not None and region not in phonenumbers.SUPPORTED_REGIONS:
        suppressions._fail("region", f"{region!r} is not a region phonenumbers knows",
                           'use an ISO 3166 code in capitals, e.g. region = "KR"')
        region = None
    flags = _rule_flags(rules, problems)
    return StateSettings(budget=budget, breaker=breaker, incidents=incident_settings, region=region,
                         unliftable=frozenset(flags["liftable"]), holds=frozenset(flags["hold"]),
                         flood=frozenset(flags["flood"]))
