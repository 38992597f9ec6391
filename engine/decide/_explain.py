"""`Engine.explain`: the decision, every rule that matched and why the winner won, and the attempts the policy
would make until it gives up."""

from __future__ import annotations

import json
from datetime import datetime

import attrs

from ..model._datetimes import iso_z
from ..model._decision import Decision
from ..model._duration import format_duration
from ..model._outcome import History, Outcome
from ..model._vocabulary import DEFAULT_CHANNEL
from ..policy._compile import CompiledPolicy
from ..policy._entries import CodeEntry
from ..policy._rules import TIERS
from ..policy._settings import StateSettings
from ._evaluate import evaluate

_TIMELINE_LIMIT = 60


@attrs.frozen
class RuleMatch:
    """A rule that matched the code, with its specificity and whether it decided."""

    rule: str
    source: str
    match: str
    tier: str
    refinements: int
    won: bool
    note: str

    def to_json(self) -> dict[str, object]:
        """Plain dict."""
        return attrs.asdict(self)


@attrs.frozen
class Explanation:
    """Why a decision came out the way it did."""

    decision: Decision
    entry: CodeEntry | None
    matches: tuple[RuleMatch, ...]
    timeline: tuple[Decision, ...]
    timing: str
    #: Flood control of the policy (issue 15): the retry budget and circuit breaker that apply with state.
    settings: StateSettings | None = None

    def to_json(self) -> dict[str, object]:
        """Plain, JSON-ready dict."""
        return {
            "decision": self.decision.to_json(),
            "entry": None if self.entry is None else self.entry.to_json(),
            "matches": [m.to_json() for m in self.matches],
            "timing": self.timing,
            "flood_control": None if self.settings is None else {
                **self.settings.to_json(), "flood_code": self.decision.rule in self.settings.flood,
                "holds": self.decision.rule in self.settings.holds},
            "timeline": [
                {"attempt": d.attempt, "verdict": d.verdict, "retry_at": iso_z(d.retry_at), "rule": d.rule}
                for d in self.timeline
            ],
        }

    def render(self) -> str:
        """A human-readable report for the terminal."""
        d = self.decision
        lines = []
        if self.entry is not None:
            e = self.entry
            lines.append(f"code      {e.label}")
            lines.append(f"          permanent={_flag(e.permanent)} success={_flag(e.success)}")
            lines.append(f"summary   {e.summary}")
            hints = e.hints.to_json()
            if hints:
                lines.append("hints     " + json.dumps(hints))
        else:
            c = d.code
            lines.append(f"code      {c.provider} {c.kind} {c.product} {c.id} (unknown to the catalog)")
        lines.append(f"verdict   {d.verdict}")
        lines.append(f"rule      {d.rule}  ({d.rule_source}; layers: {', '.join(d.layers)})")
        lines.append(f"timing    {self.timing}")
        if self.settings is not None:
            counts = " (this code counts as a flood failure)" if d.rule in self.settings.flood else ""
            lines.append(f"flood     {self.settings.describe()}{counts}")
        lines.append(f"reason    {d.reason}")
        for label, value in (("retry_at", d.retry_at), ("check_at", d.check_at), ("give_up_at", d.give_up_at)):
            if value is not None:
                lines.append(f"{label:<9} {iso_z(value)}")
        if d.channel:
            lines.append(f"channel   {d.channel}")
        if d.suppress is not None:
            until = iso_z(d.suppress.until) if d.suppress.until else "lifted"
            lines.append(f"suppress  {d.suppress.scope} {d.suppress.key or '-'} until {until}")
        if d.escalate is not None:
            lines.append(f"escalate  {d.escalate.route} ({d.escalate.severity})")
        lines.append("")
        lines.append("rules that matched (most specific first):")
        if not self.matches:
            lines.append("  (none: the defaults decided)")
        for m in self.matches:
            mark = "*" if m.won else " "
            lines.append(f"  {mark} {m.rule:<40} {m.tier}+{m.refinements}  {m.match}  [{m.source}]  {m.note}")
        lines.append("")
        lines.append("timeline if the same result keeps coming back:")
        start = None
        for step in self.timeline:
            if step.verdict == "retry" and step.retry_at is not None:
                start = start or step.retry_at
                lines.append(f"  attempt {step.attempt:>3}  at {iso_z(step.retry_at)}  ({step.rule})")
            else:
                lines.append(f"  then      {step.verdict}  ({step.reason.split('Gave up: ')[-1].rstrip('.')})"
                             if "Gave up" in step.reason else f"  then      {step.verdict}")
        if d.give_up_at is not None:
            lines.append(f"  deadline  {iso_z(d.give_up_at)}")
        return "\n".join(lines)


def _flag(value: bool | None) -> str:
    return "-" if value is None else str(value).lower()


def explain(policy: CompiledPolicy, outcome: Outcome, *, now: datetime, history: History | None = None) -> Explanation:
    """Evaluate and explain: matching rules in specificity order, and a simulated timeline of attempts."""
    decision = evaluate(policy, outcome, now=now, history=history)
    entry = None
    matches: list[RuleMatch] = []
    timing = "-"
    c = decision.code
    if c.kind == "event" and outcome.event is not None:
        timing = policy.events[outcome.event].describe_timing()
    elif not c.unknown and c.id is not None and c.product is not None:
        # The decided entry; an ambiguous id whose entries share one plan is explained through the first of them.
        entries = [e for e in policy.catalog.candidates(c.provider, c.kind, c.product, c.id)
                   if (c.group_id is None or e.group_id == c.group_id) and (c.name is None or e.name == c.name)]
        entry = entries[0]
        cand = policy.candidate(entry)
        channel = outcome.channel or DEFAULT_CHANNEL.get(entry.product, "sms")
        winner = cand.plan_for(channel)
        timing = winner.describe_timing()
        decided = False
        for rule in cand.matched:
            tier_rank, extras = rule.match.specificity
            channel_ok = rule.match.channels is None or channel in rule.match.channels
            won = rule.id == winner.rule and not decided
            decided = decided or won
            if won:
                note = "decides: override = true outranks the layers below" if rule.override else \
                    "decides: the most specific match"
            elif not channel_ok:
                note = f"skipped: applies only to channel {','.join(sorted(rule.match.channels or ()))}"
            else:
                note = "outranked by a tenant rule with override = true" if decided and any(
                    r.override for r in cand.matched) else "outranked by a more specific rule"
            matches.append(RuleMatch(rule.id, rule.source, rule.match.describe(), TIERS[len(TIERS) - tier_rank],
                                     extras, won, note))
    else:
        plan = policy.unknown_permanent if decision.rule == policy.unknown_permanent.rule else policy.unknown
        timing = plan.describe_timing()
    timeline = [decision]
    step, attempts = decision, (history.attempts if history else 1)
    # The first attempt: this report's own when it is the first, else what the history proves.  Unknown stays
    # unknown (None), so the simulated attempts stop where a stateless caller's would: at the rule's implied bound.
    first = outcome.sent_at or now if history is None or history.attempts <= 1 else history.first_attempt_at
    channels = history.channels if history else ()
    while step.verdict == "retry" and step.retry_at is not None and step.channel is None \
            and len(timeline) < _TIMELINE_LIMIT:
        attempts += 1
        step = evaluate(policy, outcome, now=step.retry_at,
                        history=History(attempts=attempts, first_attempt_at=first, channels=channels))
        timeline.append(step)
    if decision.give_up_at is not None and decision.verdict == "retry" and first is not None:
        timing += f" (deadline {format_duration(decision.give_up_at - first)} after the first attempt)"
    return Explanation(decision, entry, tuple(matches), tuple(timeline), timing, policy.spec.settings)
