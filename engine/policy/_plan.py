"""A rule body resolved against the defaults (`Plan`): everything `evaluate` needs for one code, nothing left to
look up; and `make_plan`, which does the resolving."""

from __future__ import annotations

from datetime import timedelta
from typing import Final
from zoneinfo import ZoneInfo

import attrs

from ..model._decision import CodeIdentity, EscalateEffect
from ..model._duration import format_duration as fmt
from ..model._time_rules import Backoff, CalendarTime, Window
from ._rules import Body, Defaults, Match, SuppressSpec

_SUPPORT: Final = EscalateEffect("support", "warning")


@attrs.frozen(cache_hash=True)
class Plan:
    """A rule body resolved against the defaults: everything `evaluate` needs, nothing left to look up."""

    rule: str
    source: str
    layers: tuple[str, ...]
    verdict: str
    reason: str
    after: timedelta | None
    every: timedelta | None
    backoff: Backoff | None
    at: CalendarTime | None
    window: Window | None
    give_up_after: timedelta | None
    max_attempts: int | None
    on_exhausted: str
    channel: str | None
    suppress: SuppressSpec | None
    escalate: EscalateEffect | None
    max_delay: timedelta
    #: Escalation used when the verdict (or the exhausted verdict) is escalate and the rule names no route.
    default_escalation: EscalateEffect = _SUPPORT
    #: When set, retries may not land after the end of the first attempt's calendar day in this zone.
    same_day_zone: ZoneInfo | None = None
    channels: frozenset[str] | None = None
    #: How many attempts the rule's interval and deadline allow (581: every 24h for 7 days is 8 attempts), applied
    #: when the history cannot prove when the first attempt was, so a deadline counted from each resend's own
    #: ``sentAt`` cannot slide for ever.  None for rules without both an interval and a deadline.
    implied_attempts: int | None = None

    def decision_fields(self, code: CodeIdentity, prefix: str) -> dict[str, object]:
        """The fields of the `Decision` this plan makes for ``code`` when nothing about the report changes it:
        its verdict, reason, channel and escalation, with no times, no suppression and no attempt yet.
        `evaluate` builds each decision from these (one dict copy rather than fourteen keyword arguments) and
        overwrites what the report changes; tests hold the result to the plain construction."""
        verdict = self.verdict
        return {
            "verdict": verdict, "attempt": 0, "rule": self.rule, "rule_source": self.source, "layers": self.layers,
            "code": code, "reason": prefix + self.reason, "retry_at": None, "give_up_at": None, "check_at": None,
            "channel": self.channel if verdict == "retry" else None, "suppress": None,
            "escalate": self.escalate or (self.default_escalation if verdict == "escalate" else None),
            "policy_version": "",
        }

    def describe_timing(self) -> str:
        """One line: ``every 24h, give up after 7d`` / ``next_day 00:05 America/New_York`` / ``-``."""
        parts = []
        if self.verdict in ("retry", "wait"):
            if self.at is not None:
                parts.append(self.at.describe())
            if self.after is not None:
                parts.append(f"after {fmt(self.after)}")
            if self.every is not None:
                parts.append(f"every {fmt(self.every)}")
            if self.backoff is not None and self.verdict == "retry":
                parts.append(self.backoff.describe())
            if self.window is not None:
                parts.append(f"within {self.window.describe()}")
            if self.channel is not None:
                parts.append(f"on {self.channel}")
            if self.max_attempts is not None:
                parts.append(f"at most {self.max_attempts} attempts")
            if self.give_up_after is not None:
                same_day = " or at the end of the first attempt's day" if self.same_day_zone is not None else ""
                parts.append(f"give up after {fmt(self.give_up_after)}{same_day} then {self.on_exhausted}")
        if self.suppress is not None:
            span = f" for {fmt(self.suppress.duration)}" if self.suppress.duration else " until lifted"
            parts.append(f"suppress {self.suppress.scope}{span}")
        if self.escalate is not None:
            parts.append(f"escalate to {self.escalate.route} ({self.escalate.severity})")
        return ", ".join(parts) or "-"


def make_plan(rule: str, source: str, layers: tuple[str, ...], body: Body, defaults: Defaults,
              match: Match | None = None) -> Plan:
    """Resolve ``body`` against ``defaults``.

    A rule that sets its own ``give_up_after`` is bounded by that deadline alone unless it also sets
    ``max_attempts``; a rule that sets neither inherits both limits from the defaults.
    """
    # A channel fallback with no timing of its own goes out at once: the other channel is not the one that failed.
    timed = body.after is not None or body.every is not None or body.at is not None or body.channel is not None
    backoff = body.backoff if body.backoff is not None else (None if timed else defaults.backoff)
    give_up_after: timedelta | None
    window = body.window
    if body.verdict == "retry":
        give_up_after = body.give_up_after or defaults.give_up_after
        max_attempts = body.max_attempts or (None if body.give_up_after is not None else defaults.max_attempts)
        window = window or defaults.window
        if defaults.attempts_ceiling is not None:
            max_attempts = min(max_attempts or defaults.attempts_ceiling, defaults.attempts_ceiling)
    else:
        give_up_after = body.give_up_after
        max_attempts = body.max_attempts
        backoff = body.backoff
    routes = defaults.routes
    escalate = body.escalate
    if escalate is not None and escalate.route in routes:
        escalate = EscalateEffect(routes[escalate.route], escalate.severity)
    implied = _implied_attempts(body, give_up_after, backoff) if body.verdict == "retry" else None
    layers = _shaped_by(layers, body, defaults, window, max_attempts, escalate)
    return Plan(
        rule=rule, source=source, layers=layers, verdict=body.verdict, reason=body.reason, after=body.after,
        every=body.every, backoff=backoff, at=body.at, window=window, give_up_after=give_up_after,
        max_attempts=max_attempts, on_exhausted=body.on_exhausted or defaults.on_exhausted, channel=body.channel,
        suppress=body.suppress, escalate=escalate, max_delay=body.max_delay or defaults.max_delay,
        default_escalation=EscalateEffect(routes.get("support", "support"), "warning"),
        same_day_zone=defaults.timezone if defaults.same_day and body.verdict == "retry" else None,
        channels=match.channels if match is not None else None, implied_attempts=implied,
    )


# The shortest gap between two "next_day HH:MM" instants: 23 hours, on the day clocks go forward.
_NEXT_DAY_GAP: Final = timedelta(hours=23)
# A bound on the attempts any rule can imply, so the count below always ends (policies cap attempts far lower).
_IMPLIED_CEILING: Final = 10_000


def _implied_attempts(body: Body, give_up_after: timedelta | None, backoff: Backoff | None) -> int | None:
    """The attempts a retry rule's timing fits inside its deadline: the first attempt plus every retry whose
    shortest possible delay still lands by the deadline."""
    if give_up_after is None:
        return None
    gap = body.every or (body.after if body.at is None else None)
    if gap is None and body.at is not None and body.at.mode == "next_day":
        gap = _NEXT_DAY_GAP
    if gap is not None:
        return min(int(give_up_after / gap) + 1, _IMPLIED_CEILING) if gap > timedelta(0) else None
    if backoff is None or backoff.initial <= timedelta(0):
        return None
    elapsed = timedelta(0)
    attempts = 1
    while attempts < _IMPLIED_CEILING:
        elapsed += backoff.shortest_delay(attempts)
        if elapsed > give_up_after:
            return attempts
        attempts += 1
    return _IMPLIED_CEILING


def _shaped_by(layers: tuple[str, ...], body: Body, defaults: Defaults, window: Window | None,
               max_attempts: int | None, escalate: EscalateEffect | None) -> tuple[str, ...]:
    """``layers`` plus the layers whose policy-wide ``[defaults]`` (window, attempts_ceiling, same_day, routes)
    changed what this rule decides: a decision shaped by a tenant's ``[defaults]`` says so."""
    named = defaults.key_layers
    extra = []
    if body.verdict == "retry":
        if body.window is None and window is not None:
            extra.append(named.get("window"))
        if defaults.attempts_ceiling is not None and max_attempts != body.max_attempts:
            extra.append(named.get("attempts_ceiling"))
        if defaults.same_day:
            extra.append(named.get("same_day"))
    escalates = body.verdict == "escalate" or body.on_exhausted == "escalate" or (
        body.on_exhausted is None and defaults.on_exhausted == "escalate")
    if escalate is not body.escalate or (escalates and body.escalate is None and "support" in defaults.routes):
        extra.append(named.get("routes"))
    found = [name for name in extra if name is not None and name not in layers]
    return (*layers, *dict.fromkeys(found)) if found else layers
