"""Policy reports over the whole catalog: coverage rows, lint findings, what each tenant rule decides, and
tenant-vs-default differences."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping

import attrs

from ..model._vocabulary import CHANNELS, DEFAULT_CHANNEL
from ._compile import CompiledPolicy
from ._entries import CodeEntry
from ._plan import Plan
from ._rules import Rule


@attrs.frozen
class CoverageRow:
    """How one catalog code is decided on its product's default channel."""

    entry: CodeEntry
    channel: str
    plan: Plan

    def to_json(self) -> dict[str, object]:
        """``provider, kind, product, id, group_id, name, rule, verdict, summary`` (+ reason, layers, channel)."""
        e = self.entry
        return {
            "provider": e.provider, "kind": e.kind, "product": e.product, "id": e.id, "group_id": e.group_id,
            "name": e.name, "rule": self.plan.rule, "verdict": self.plan.verdict,
            "summary": self.plan.describe_timing(), "reason": self.plan.reason, "layers": list(self.plan.layers),
            "channel": self.channel,
        }


def coverage(policy: CompiledPolicy) -> Iterator[CoverageRow]:
    """One row per catalog entry, in catalog order."""
    for entry in policy.catalog:
        channel = DEFAULT_CHANNEL.get(entry.product, "sms")
        yield CoverageRow(entry, channel, policy.candidate(entry).plan_for(channel))


@attrs.frozen
class LintReport:
    """Warnings that do not stop a policy from loading."""

    shadowed: tuple[str, ...]
    fallback_codes: tuple[CodeEntry, ...]
    #: For each shadowed rule, the rules that decide the codes it matches (most codes first).
    beaten_by: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)


def lint(policy: CompiledPolicy) -> LintReport:
    """Rules that match codes but can never decide any of them (with the rules that decide those codes instead),
    and codes decided by ``[defaults]``."""
    winners: set[str] = set()
    beaten: dict[str, Counter[str]] = {}
    fallback = []
    for entry in policy.catalog:
        cand = policy.candidate(entry)
        deciding = [plan.rule for plan in cand.plans]
        winners.update(deciding)
        for rule in cand.matched:
            beaten.setdefault(rule.id, Counter()).update(deciding)
        if cand.plans[-1] is policy.fallback:
            fallback.append(entry)
    shadowed = tuple(rule.id for rule in policy.rules if rule.id not in winners)
    return LintReport(shadowed, tuple(fallback),
                      {rule: tuple(r for r, _ in beaten.get(rule, Counter()).most_common()) for rule in shadowed})


@attrs.frozen
class Difference:
    """A code (on a channel) whose decision differs between two policies."""

    entry: CodeEntry
    channel: str
    before: Plan
    after: Plan


def _signature(plan: Plan) -> tuple[object, ...]:
    return (plan.rule, plan.verdict, plan.describe_timing(), plan.reason)


def diff(before: CompiledPolicy, after: CompiledPolicy) -> Iterator[Difference]:
    """Codes whose winning plan differs, checked on the product's default channel and on every channel that a
    channel-specific rule of either policy names for that code."""
    for entry in after.catalog:
        old, new = before.candidate(entry), after.candidate(entry)
        if old is new:
            continue
        channels = {DEFAULT_CHANNEL.get(entry.product, "sms")}
        for plan in (*old.plans, *new.plans):
            if plan.channels is not None:
                channels.update(plan.channels)
        for channel in sorted(channels, key=CHANNELS.index):
            a, b = old.plan_for(channel), new.plan_for(channel)
            if _signature(a) != _signature(b):
                yield Difference(entry, channel, a, b)


@attrs.frozen
class RuleReport:
    """What one rule of the top layer (a tenant's own or patched rule) does over the catalog.

    ``decides``: the codes it decides (on their product's channel, or on the channels it names).
    ``displaced``: (rule id, codes) of the rules that would decide those codes without it (``[defaults]`` when no
    rule would).  ``lost_to``: (rule id, codes) of the rules that decide codes it matches instead of it.
    """

    rule: Rule
    decides: int
    displaced: tuple[tuple[str, int], ...]
    lost_to: tuple[tuple[str, int], ...]

    def render(self) -> str:
        """One line for ``policy lint`` and ``policy coverage``."""
        def listed(pairs: tuple[tuple[str, int], ...]) -> str:
            shown = ", ".join(f"{rule} ({count})" for rule, count in pairs[:8])
            return shown + (f" and {len(pairs) - 8} more" if len(pairs) > 8 else "")

        written = len(self.rule.layers) == 1  # defined (or replaced) by the tenant, not patched
        flag = " (override)" if self.rule.override else "" if written else " (patched)"
        text = f"rule {self.rule.id}{flag}: decides {self.decides} code{'s' if self.decides != 1 else ''}"
        if self.displaced and written:
            text += f"; displaces {listed(self.displaced)}"
        if self.lost_to:
            lost = sum(count for _, count in self.lost_to)
            text += f"; loses {lost} code{'s' if lost != 1 else ''} to {listed(self.lost_to)}"
            if not self.rule.override:
                how = "add override = true" if written else "write it as a [[rule]] with override = true"
                text += f" (more specific rules win; {how} to outrank the layers below)"
        return text


def _applies(rule: Rule, channel: str) -> bool:
    return rule.match.channels is None or channel in rule.match.channels


def rule_reports(policy: CompiledPolicy) -> list[RuleReport]:
    """A `RuleReport` for every rule the top layer wrote or patched (none for a single-layer policy)."""
    if len(policy.spec.layers) < 2:
        return []
    top = policy.spec.layers[-1]
    mine = [rule for rule in policy.rules if rule.layers[-1] == top]
    decides = dict.fromkeys((rule.id for rule in mine), 0)
    displaced: dict[str, Counter[str]] = {rule.id: Counter() for rule in mine}
    lost: dict[str, Counter[str]] = {rule.id: Counter() for rule in mine}
    for entry in policy.catalog:
        matched = policy.candidate(entry).matched
        default_channel = DEFAULT_CHANNEL.get(entry.product, "sms")
        for rule in matched:
            if rule.id not in decides:
                continue
            won = False
            for channel in sorted(rule.match.channels or {default_channel}):
                winner = next((r for r in matched if _applies(r, channel)), None)
                if winner is rule:
                    won = True
                    after = next((r.id for r in matched if r is not rule and _applies(r, channel)), "[defaults]")
                    displaced[rule.id][after] += 1
                elif winner is not None:
                    lost[rule.id][winner.id] += 1
            decides[rule.id] += won
    return [RuleReport(rule, decides[rule.id], tuple(displaced[rule.id].most_common()),
                       tuple(lost[rule.id].most_common())) for rule in mine]
