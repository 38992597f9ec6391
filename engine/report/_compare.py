"""Comparing two decisions about the same outcome, and the replay summary built from many comparisons.

A summary is a set of counters that add up: workers each summarise their share and the parts are merged, so the
whole never needs more memory than its counters (bounded by the policy's size, not the input's)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, Final

import attrs

from ..model._vocabulary import VERDICTS

#: The decision fields a replay compares; ``policy_version``, ``rule_source`` and ``layers`` say where a decision
#: came from, not what it does, and are left out.
COMPARED: Final = ("verdict", "retry_at", "give_up_at", "check_at", "attempt", "channel", "suppress", "escalate",
                   "rule", "code", "reason")
#: Example records kept per kind of change (for the report's "biggest changes").
SAMPLES_PER_GROUP: Final = 3

Json = Mapping[str, Any]


def changed_fields(old: Json, new: Json) -> list[str]:
    """The `COMPARED` fields whose values differ, in `COMPARED` order."""
    return [key for key in COMPARED if old.get(key) != new.get(key)]


def _suppression(decision: Json) -> tuple[str, object] | None:
    effect = decision.get("suppress")
    return (str(effect.get("scope")), effect.get("key")) if isinstance(effect, Mapping) else None


def _route(decision: Json) -> str | None:
    effect = decision.get("escalate")
    return str(effect.get("route")) if isinstance(effect, Mapping) else None


@attrs.define
class Tally:
    """Counts for one slice of the replay (everything, or one tenant, provider or channel)."""

    decisions: int = 0
    changed: int = 0
    retries_added: int = 0
    retries_avoided: int = 0
    suppressions_added: int = 0
    suppressions_removed: int = 0
    #: Decisions that gain an escalation (none before).
    escalations_added: int = 0
    #: Decisions that lose their escalation.
    escalations_removed: int = 0
    #: Decisions escalated before and after, to another route.
    escalations_rerouted: int = 0

    def add(self, other: Tally) -> None:
        """Add ``other``'s counts to this one's."""
        for field in attrs.fields(Tally):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    def to_json(self) -> dict[str, int]:
        """Plain dict of the counts."""
        return attrs.asdict(self)


@attrs.define
class ChangeGroup:
    """One kind of change (old verdict and rule -> new verdict and rule): how often, and a few examples."""

    count: int = 0
    samples: list[dict[str, Any]] = attrs.field(factory=list)


def _bump(counter: dict[str, Tally], key: str, one: Tally) -> None:
    found = counter.get(key)
    if found is None:
        counter[key] = found = Tally()
    found.add(one)


@attrs.define
class ReplaySummary:
    """What a replay found: every count the report shows, mergeable across workers."""

    records: int = 0
    errors: int = 0
    #: Parts of records with nothing to decide (empty pulls, inbound messages).
    skipped: int = 0
    overall: Tally = attrs.field(factory=Tally)
    #: (old verdict, new verdict) -> decisions.
    transitions: Counter[tuple[str, str]] = attrs.field(factory=Counter)
    fields: Counter[str] = attrs.field(factory=Counter)
    retries_earlier: int = 0
    retries_later: int = 0
    suppressed_by_scope: Counter[str] = attrs.field(factory=Counter)
    unsuppressed_by_scope: Counter[str] = attrs.field(factory=Counter)
    escalations_added: Counter[str] = attrs.field(factory=Counter)
    escalations_removed: Counter[str] = attrs.field(factory=Counter)
    #: (old rule, new rule) -> changed decisions.
    rules: Counter[tuple[str, str]] = attrs.field(factory=Counter)
    by_tenant: dict[str, Tally] = attrs.field(factory=dict)
    by_provider: dict[str, Tally] = attrs.field(factory=dict)
    by_channel: dict[str, Tally] = attrs.field(factory=dict)
    #: (old verdict, new verdict, old rule, new rule) -> the group.
    groups: dict[tuple[str, str, str, str], ChangeGroup] = attrs.field(factory=dict)
    old_versions: Counter[str] = attrs.field(factory=Counter)
    new_versions: Counter[str] = attrs.field(factory=Counter)

    def add(self, old: Json, new: Json, *, fields: list[str], tenant: str | None, provider: str, channel: str | None,
            number: int, message_id: str | None) -> None:
        """Count one compared decision (``fields``: what `changed_fields` found)."""
        one = Tally(decisions=1)
        old_verdict, new_verdict = str(old.get("verdict")), str(new.get("verdict"))
        self.transitions[(old_verdict, new_verdict)] += 1
        self.old_versions[str(old.get("policy_version") or "unknown")] += 1
        self.new_versions[str(new.get("policy_version") or "unknown")] += 1
        if fields:
            one.changed = 1
            self.fields.update(fields)
            old_rule, new_rule = str(old.get("rule")), str(new.get("rule"))
            self.rules[(old_rule, new_rule)] += 1
            key = (old_verdict, new_verdict, old_rule, new_rule)
            group = self.groups.get(key)
            if group is None:
                self.groups[key] = group = ChangeGroup()
            group.count += 1
            if len(group.samples) < SAMPLES_PER_GROUP:
                # Only what changed: samples travel from every worker and are all most readers look at.
                group.samples.append({"input": number, "message_id": message_id, "tenant": tenant, "fields": fields,
                                      "old": {f: old.get(f) for f in fields}, "new": {f: new.get(f) for f in fields}})
            if old_verdict == "retry" and new_verdict != "retry":
                one.retries_avoided = 1
            elif new_verdict == "retry" and old_verdict != "retry":
                one.retries_added = 1
            elif new_verdict == "retry" and old.get("retry_at") != new.get("retry_at"):
                earlier = str(new.get("retry_at")) < str(old.get("retry_at"))
                self.retries_earlier += earlier
                self.retries_later += not earlier
            before, after = _suppression(old), _suppression(new)
            if after is not None and after != before:
                one.suppressions_added = 1
                self.suppressed_by_scope[after[0]] += 1
            if before is not None and before != after:
                one.suppressions_removed = 1
                self.unsuppressed_by_scope[before[0]] += 1
            old_route, new_route = _route(old), _route(new)
            if new_route != old_route:
                if old_route is None:
                    one.escalations_added = 1
                elif new_route is None:
                    one.escalations_removed = 1
                else:
                    one.escalations_rerouted = 1
                # By route, a reroute is an escalation the new route gains and the old one loses.
                if new_route is not None:
                    self.escalations_added[new_route] += 1
                if old_route is not None:
                    self.escalations_removed[old_route] += 1
        self.overall.add(one)
        _bump(self.by_tenant, tenant or "(none)", one)
        _bump(self.by_provider, provider, one)
        _bump(self.by_channel, channel or "(not reported)", one)

    def merge(self, other: ReplaySummary, *, offset: int = 0) -> None:
        """Add ``other`` (a later part of the same run, whose record numbers start after ``offset``)."""
        self.records += other.records
        self.errors += other.errors
        self.skipped += other.skipped
        self.overall.add(other.overall)
        self.retries_earlier += other.retries_earlier
        self.retries_later += other.retries_later
        for name in ("transitions", "fields", "suppressed_by_scope", "unsuppressed_by_scope", "escalations_added",
                     "escalations_removed", "rules", "old_versions", "new_versions"):
            getattr(self, name).update(getattr(other, name))
        for name in ("by_tenant", "by_provider", "by_channel"):
            mine = getattr(self, name)
            for key, tally in getattr(other, name).items():
                _bump(mine, key, tally)
        for key, group in other.groups.items():
            found = self.groups.get(key)
            if found is None:
                self.groups[key] = found = ChangeGroup()
            found.count += group.count
            for sample in group.samples[: SAMPLES_PER_GROUP - len(found.samples)]:
                found.samples.append({**sample, "input": sample["input"] + offset})

    def biggest_changes(self) -> list[tuple[tuple[str, str, str, str], ChangeGroup]]:
        """The kinds of change, most frequent first (ties: by verdicts, then rules)."""
        return sorted(self.groups.items(), key=lambda item: (-item[1].count, item[0]))

    def matrix(self) -> list[list[int]]:
        """The verdict transition matrix: ``matrix()[i][j]`` decisions went from `VERDICTS`[i] to [j]."""
        return [[self.transitions.get((old, new), 0) for new in VERDICTS] for old in VERDICTS]

    def to_json(self) -> dict[str, Any]:
        """The whole summary as JSON-ready data (the last line of ``replay --format jsonl``)."""
        return {
            "records": self.records,
            "errors": self.errors,
            **self.overall.to_json(),
            "transitions": [{"old": old, "new": new, "count": count}
                            for (old, new), count in sorted(self.transitions.items())],
            "fields_changed": dict(self.fields.most_common()),
            "retries_earlier": self.retries_earlier,
            "retries_later": self.retries_later,
            "newly_suppressed_by_scope": dict(self.suppressed_by_scope.most_common()),
            "no_longer_suppressed_by_scope": dict(self.unsuppressed_by_scope.most_common()),
            "escalations_added_by_route": dict(self.escalations_added.most_common()),
            "escalations_removed_by_route": dict(self.escalations_removed.most_common()),
            "rules_behind_changes": [{"old_rule": old, "new_rule": new, "count": count}
                                     for (old, new), count in self.rules.most_common()],
            "by_tenant": {key: tally.to_json() for key, tally in sorted(self.by_tenant.items())},
            "by_provider": {key: tally.to_json() for key, tally in sorted(self.by_provider.items())},
            "by_channel": {key: tally.to_json() for key, tally in sorted(self.by_channel.items())},
            "biggest_changes": [
                {"old_verdict": key[0], "new_verdict": key[1], "old_rule": key[2], "new_rule": key[3],
                 "count": group.count, "samples": group.samples}
                for key, group in self.biggest_changes()
            ],
            "old_policy_versions": dict(self.old_versions.most_common()),
            "new_policy_versions": dict(self.new_versions.most_common()),
        }
