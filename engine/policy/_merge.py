"""Policy files: TOML in, validated rule specs out.  Every problem in a file is collected and reported at once,
each naming the file, line, rule id, field and the fix.  Layers (the shipped default, then a tenant file) are
merged here, before validation, so that a file that fails is never partly applied."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from .._errors import PolicyError, quote
from ._defaults import TOP_KEYS, read_defaults, read_windows, unknown_key
from ._limits import DEFAULT_LIMITS, PolicyLimits
from ._read import BODY_KEYS, FieldReader, Layer, Problems, read_match
from ._rules import Body, PolicySpec, Rule
from ._settings import RULE_KEYS
from ._settings_read import read_settings

_RULE_KEYS: Final = BODY_KEYS | {"id", "match", "override"} | RULE_KEYS
_PATCH_KEYS: Final = _RULE_KEYS - {"id", "override"}
_RULE_ID = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,79}")
_RULES_LIMIT_FIX: Final = ("split the policy, or raise the limit: PolicyLimits(max_rules=...) in the library, "
                           "--max-rules on the command line")

__all__ = ["Layer", "build_spec"]

# Rule id -> (raw rule, the layer that last wrote it, the layers that shaped it, its override rank).
_Merged = dict[str, tuple[dict[str, Any], Layer, tuple[str, ...], int]]


def _rules_of(layer: Layer, problems: Problems, key: str) -> list[dict[str, Any]]:
    raw = layer.data.get(key, [])
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        problems.add(layer, f"{key} must be an array of tables", f"write each one as [[{key}]]", field=key,
                     line=layer.header_line(key))
        return []
    return raw


def _override(layer: Layer, index: int, raw: dict[str, Any], rule_id: str, problems: Problems) -> int:
    value = raw.get("override", False)
    if type(value) is not bool:
        problems.add(layer, f"override = {quote(value)} is not true or false", "write override = true",
                     rule=rule_id, field="override")
        return 0
    if value and index == 0:
        problems.add(layer, "override = true in the base policy: there is no layer below it to outrank",
                     "drop it (rules of one file are ranked by specificity)", rule=rule_id, field="override")
        return 0
    return index if value else 0


def _patch(layer: Layer, raw: dict[str, Any], rules: _Merged, problems: Problems) -> None:
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or rule_id not in rules:
        problems.add(layer, f"patch names unknown rule {quote(rule_id)}",
                     "use the id of a rule from an earlier layer (`dlrpolicy policy coverage` lists them)",
                     rule=rule_id if isinstance(rule_id, str) else None, field="id",
                     line=layer.rule_line(rule_id) if isinstance(rule_id, str) else layer.header_line("patch"))
        return
    fields = {k: v for k, v in raw.items() if k != "id"}
    for field in sorted(set(fields) - _PATCH_KEYS):
        if field == "override":
            message, fix = ("override cannot be patched onto a rule of a lower layer",
                            "write the rule as a [[rule]] with the same id and override = true")
        else:
            message, fix = unknown_key(field, "this [[patch]]", sorted(_PATCH_KEYS))
        problems.add(layer, message, fix, rule=rule_id, field=field, line=layer.entry_key_line(rule_id, field))
        del fields[field]  # reported here; merged, the rule would report it again
    base, _, shaped, override = rules[rule_id]
    merged = {**base, **fields}
    if isinstance(fields.get("match"), dict) and isinstance(base.get("match"), dict):
        merged["match"] = {**base["match"], **fields["match"]}
    rules[rule_id] = (merged, layer, (*shaped, layer.name) if layer.name not in shaped else shaped, override)


def _merge_rules(layers: Sequence[Layer], problems: Problems, limits: PolicyLimits) -> _Merged:
    """Rule id -> (raw rule, layer that last wrote it, layers that shaped it, override rank), applying
    replace/patch/disable layer by layer."""
    rules: _Merged = {}
    for index, layer in enumerate(layers):
        for key in sorted(set(layer.data) - TOP_KEYS):
            problems.add(layer, f"unknown top-level key {quote(key)}", f"use only: {', '.join(sorted(TOP_KEYS))}",
                         field=key, line=layer.line_of(rf"^\s*\[*{re.escape(key)}\b"))
        if index == 0 and ("patch" in layer.data or "disable" in layer.data):
            problems.add(layer, "the base policy cannot patch or disable rules", "edit the rules directly",
                         field="patch" if "patch" in layer.data else "disable")
        own, patches = _rules_of(layer, problems, "rule"), _rules_of(layer, problems, "patch")
        if len(own) + len(patches) > limits.max_rules:
            # Checked before anything is compiled: thousands of rules cost minutes and gigabytes.
            problems.add(layer, f"{len(own) + len(patches)} rules and patches, over the limit of "
                                f"{limits.max_rules}", _RULES_LIMIT_FIX, field="rule")
            continue
        seen_here: set[str] = set()
        for raw in own:
            rule_id = raw.get("id")
            if not isinstance(rule_id, str) or not _RULE_ID.fullmatch(rule_id):
                problems.add(layer, f"rule id {quote(rule_id)} is missing or malformed",
                             'give every rule an id like "sms.out-of-credit" (a-z, 0-9, ".", "-", "_")',
                             field="id", line=layer.rule_line(rule_id) or layer.header_line("rule"))
                continue
            if rule_id in seen_here:
                problems.add(layer, f"rule id {quote(rule_id)} is defined twice in this file",
                             "rename one of them or merge them", rule=rule_id, field="id")
                continue
            seen_here.add(rule_id)
            rules[rule_id] = (raw, layer, (layer.name,), _override(layer, index, raw, rule_id, problems))
        for raw in patches:
            _patch(layer, raw, rules, problems)
        disable = layer.data.get("disable", [])
        if not isinstance(disable, list):
            problems.add(layer, "disable must be a list of rule ids", 'write disable = ["rule-id"]', field="disable",
                         line=layer.line_of(r"^\s*disable\s*="))
            disable = []
        for rule_id in disable:
            if not isinstance(rule_id, str) or rule_id not in rules:
                problems.add(layer, f"disable names unknown rule {quote(rule_id)}",
                             "use the id of a rule from an earlier layer", rule=rule_id if isinstance(
                                 rule_id, str) else None, field="disable", line=layer.line_of(r"^\s*disable\s*="))
            else:
                del rules[rule_id]
    if len(rules) > limits.max_rules:
        problems.add(layers[-1], f"the merged policy has {len(rules)} rules, over the limit of {limits.max_rules}",
                     _RULES_LIMIT_FIX, field="rule")
    return rules


def _check_routes(layer: Layer, routes: Mapping[str, str], escalations: set[str], problems: Problems) -> None:
    """``routes`` keys name standard routes the policy escalates to; a key nothing escalates to is a typo."""
    known = ", ".join(sorted(escalations))
    for key in sorted(set(routes) - escalations):
        problems.add(layer, f"routes maps {quote(key)}, a route no rule escalates to", f"use one of: {known}",
                     field=f"defaults.routes.{key}", line=layer.key_line("defaults", "routes"))


def build_spec(layers: Sequence[Layer], *, limits: PolicyLimits = DEFAULT_LIMITS) -> PolicySpec:
    """Merge ``layers`` (base first) and validate the result; raise `PolicyError` listing every problem."""
    if not layers:
        raise ValueError("build_spec needs at least one layer")
    problems = Problems()
    windows, broken = read_windows(layers, problems)
    defaults, zone, backoff = read_defaults(layers, problems, windows, broken)
    rules = []
    merged_rules = _merge_rules(layers, problems, limits)
    settings = read_settings(layers, merged_rules, problems)
    for rule_id, (raw, layer, shaped, override) in merged_rules.items():
        reader = FieldReader(problems, layer, rule_id, windows, zone, backoff, broken_windows=broken)
        for field in sorted(set(raw) - _RULE_KEYS):
            problems.add(layer, *unknown_key(field, "this [[rule]]", sorted(_RULE_KEYS)), rule=rule_id, field=field,
                         line=layer.entry_key_line(rule_id, field))
            reader.ok = False
        match = read_match(reader, raw.get("match"))
        body = reader.body({k: v for k, v in raw.items() if k in BODY_KEYS})
        if match is not None and body is not None and reader.ok:
            rules.append(Rule(rule_id, match, body, layer.source, shaped, layer.rule_line(rule_id), override))
    if defaults is not None and defaults.routes:
        bodies: list[Body] = [rule.body for rule in rules]
        bodies += [defaults.fallback, defaults.unknown, defaults.unknown_permanent]
        escalations = {"support"} | {body.escalate.route for body in bodies if body.escalate is not None}
        layer = next((lay for lay in layers if lay.name == defaults.key_layers.get("routes")), layers[-1])
        _check_routes(layer, defaults.routes, escalations, problems)
    if problems.items:
        raise PolicyError(problems.items)
    assert defaults is not None  # None only when a problem was recorded above
    disabled = tuple(d for layer in layers[1:] for d in (layer.data.get("disable") or [])
                     if isinstance(layer.data.get("disable"), list) and isinstance(d, str))
    return PolicySpec(defaults, windows, tuple(rules), tuple(layer.name for layer in layers), disabled,
                      settings=settings)
