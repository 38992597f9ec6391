"""Policy reports over the whole catalog: coverage rows, lint findings, and tenant-vs-default differences."""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from ..model._vocabulary import CHANNELS, DEFAULT_CHANNEL
from ._compile import CompiledPolicy
from ._entries import CodeEntry
from ._plan import Plan


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


def lint(policy: CompiledPolicy) -> LintReport:
    """Rules that match codes but can never decide any of them, and codes decided by ``[defaults]``."""
    winners: set[str] = set()
    fallback = []
    for entry in policy.catalog:
        cand = policy.candidate(entry)
        winners.update(plan.rule for plan in cand.plans)
        if cand.plans[-1] is policy.fallback:
            fallback.append(entry)
    shadowed = tuple(rule.id for rule in policy.rules if rule.id not in winners)
    return LintReport(shadowed, tuple(fallback))


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
