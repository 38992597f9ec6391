"""What the policy report shows, as data: the verdict mix of each product, the attempt timeline of each retry rule
(simulated from a start time: when each retry goes out, the send window's closed hours, the deadline and what
happens then), the suppressions and the escalations.  No plotting here; `_policy_html` draws it."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import attrs

from ..decide._explain import explain
from ..model._duration import format_duration
from ..model._outcome import CodeRef, History, Outcome
from ..model._time_rules import Window
from ..model._vocabulary import DEFAULT_CHANNEL, SLOT_KINDS
from ..policy._compile import CompiledPolicy
from ..policy._entries import CodeEntry
from ..policy._plan import Plan
from ..policy._reports import coverage


@attrs.frozen
class Attempt:
    """One retry on a timeline: its attempt number, when it goes out, and how long after the first attempt."""

    number: int
    at: datetime
    after: timedelta
    channel: str | None


@attrs.frozen
class Timeline:
    """The attempts a retry rule makes for one code it decides, if the same result keeps coming back."""

    rule: str
    provider: str
    code: str
    channel: str
    codes: int
    timing: str
    attempts: tuple[Attempt, ...]
    deadline: timedelta | None
    #: What the rule does when it stops retrying, and when (after the first attempt); None when it does not stop
    #: within the simulation (a channel fallback hands over to the other channel).
    final: str | None
    final_after: timedelta | None
    window: str | None
    #: Closed hours of the rule's window between the first attempt and the end of the timeline.
    closed: tuple[tuple[timedelta, timedelta], ...]


@attrs.frozen
class EffectRow:
    """A rule that suppresses or escalates: what, how long or to whom, and how many codes it decides."""

    rule: str
    verdict: str
    kind: str
    detail: str
    codes: int


@attrs.frozen
class PolicyReport:
    """Everything the policy report shows."""

    version: str
    layers: tuple[str, ...]
    tenant: str | None
    start: datetime
    zone: str
    rules: int
    codes: int
    #: "provider kind product" -> verdict -> codes.
    verdict_mix: dict[str, Counter[str]]
    timelines: tuple[Timeline, ...]
    suppressions: tuple[EffectRow, ...]
    escalations: tuple[EffectRow, ...]


def _outcome(entry: CodeEntry, channel: str) -> Outcome:
    status_kind, _ = SLOT_KINDS[entry.provider]
    ref = CodeRef(id=entry.id, group_id=entry.group_id, name=entry.name, permanent=entry.permanent)
    slot = {"status": ref} if entry.kind == status_kind else {"error": ref}
    return Outcome(provider=entry.provider, channel=channel, product=entry.product, message_id="report-timeline",
                   recipient="+10000000000", sender="report@example.com", tenant="report", **slot)  # type: ignore[arg-type]


def closed_hours(window: Window, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The spans between ``start`` and ``end`` when ``window`` is closed."""
    local = start.astimezone(window.zone)
    open_spans: list[tuple[datetime, datetime]] = []
    day = local.date() - timedelta(days=1)
    while datetime.combine(day, datetime.min.time(), tzinfo=window.zone) <= end:
        for first, last in window.ranges[day.weekday()]:
            opening = datetime.combine(day, datetime.min.time(), tzinfo=window.zone) + timedelta(minutes=first)
            length = last - first if last > first else 1440 - first + last
            open_spans.append((opening, opening + timedelta(minutes=length)))
        day += timedelta(days=1)
    closed = []
    cursor = start
    for begin, finish in sorted(open_spans):
        if finish <= cursor:
            continue
        if begin > cursor:
            closed.append((cursor, min(begin, end)))
        cursor = max(cursor, finish)
        if cursor >= end:
            break
    if cursor < end:
        closed.append((cursor, end))
    return [(a, b) for a, b in closed if b > a]


def _timeline(policy: CompiledPolicy, plan: Plan, entry: CodeEntry | None, outcome: Outcome, codes: int,
              start: datetime) -> Timeline:
    explanation = explain(policy, outcome, now=start, history=History(attempts=1, first_attempt_at=start))
    attempts = []
    final = final_after = None
    previous = start
    for step in explanation.timeline:
        if step.verdict == "retry" and step.retry_at is not None:
            attempts.append(Attempt(step.attempt, step.retry_at, step.retry_at - start, step.channel))
            previous = step.retry_at
        elif step.verdict != "retry":
            final, final_after = step.verdict, previous - start
    first = explanation.decision
    deadline = first.give_up_at - start if first.give_up_at is not None else None
    closed: tuple[tuple[timedelta, timedelta], ...] = ()
    if plan.window is not None:
        ends = [a.after for a in attempts] + [d for d in (deadline, final_after) if d is not None]
        horizon = start + max([*ends, timedelta(hours=1)]) * 1.1
        closed = tuple((a - start, b - start) for a, b in closed_hours(plan.window, start, horizon))
    label = entry.label if entry is not None else f"{outcome.provider} code not in the catalog"
    return Timeline(plan.rule, outcome.provider, label, outcome.channel or "-", codes, explanation.timing,
                    tuple(attempts), deadline, final, final_after,
                    plan.window.name if plan.window is not None else None, closed)


def build_policy_report(policy: CompiledPolicy, *, tenant: str | None, start: datetime) -> PolicyReport:
    """Gather the report of ``policy`` (timelines start at ``start``)."""
    mix: dict[str, Counter[str]] = {}
    suppress: dict[str, EffectRow] = {}
    escalate: dict[str, EffectRow] = {}
    for row in coverage(policy):
        e, plan = row.entry, row.plan
        mix.setdefault(f"{e.provider} {e.kind} {e.product}", Counter())[plan.verdict] += 1
        if plan.suppress is not None:
            span = format_duration(plan.suppress.duration) if plan.suppress.duration else "until lifted"
            found = suppress.get(plan.rule)
            suppress[plan.rule] = EffectRow(plan.rule, plan.verdict, plan.suppress.scope, span,
                                            (found.codes if found else 0) + 1)
        route = plan.escalate or (plan.default_escalation if plan.verdict == "escalate" else None)
        if route is not None:
            found = escalate.get(plan.rule)
            escalate[plan.rule] = EffectRow(plan.rule, plan.verdict, route.route, route.severity,
                                            (found.codes if found else 0) + 1)
    timelines = []
    chosen: dict[str, tuple[Plan, CodeEntry, str]] = {}
    counts: Counter[str] = Counter()
    for entry in policy.catalog:
        cand = policy.candidate(entry)
        for plan in cand.plans:
            channel = min(plan.channels) if plan.channels else DEFAULT_CHANNEL.get(entry.product, "sms")
            if plan.verdict != "retry" or cand.plan_for(channel) is not plan:
                continue
            counts[plan.rule] += 1
            chosen.setdefault(plan.rule, (plan, entry, channel))
    for rule, (plan, entry, channel) in chosen.items():
        timelines.append(_timeline(policy, plan, entry, _outcome(entry, channel), counts[rule], start))
    if policy.unknown.verdict == "retry":
        unknown = Outcome(provider="infobip", channel="sms", error=CodeRef(id=999_999), message_id="report-timeline")
        timelines.append(_timeline(policy, policy.unknown, None, unknown, 0, start))
    order = {rule.id: n for n, rule in enumerate(policy.rules)}
    timelines.sort(key=lambda t: (t.provider, order.get(t.rule, len(order))))
    defaults = policy.spec.defaults
    return PolicyReport(
        version=policy.version, layers=policy.spec.layers, tenant=tenant, start=start, zone=defaults.timezone.key,
        rules=len(policy.rules), codes=len(policy.catalog), verdict_mix=mix, timelines=tuple(timelines),
        suppressions=tuple(sorted(suppress.values(), key=lambda r: (r.kind, r.rule))),
        escalations=tuple(sorted(escalate.values(), key=lambda r: (r.kind, r.rule))),
    )
