"""The plain reference evaluation the differential tests hold the engine's fast `evaluate` to.

This is `evaluate` as it was written before it was made fast (issue 17): it builds each `Decision` with its
keyword arguments, resolves every code with `deciding_code`, and works window openings and calendar times out
from the zone rules on every call (`next_opening_computed`, `after_computed`), with no memo.  Keep it plain: it is
the specification the fast path is checked against, not a second implementation to optimise."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Final

from dlrpolicy.decide._effects import effects
from dlrpolicy.decide._resolve import deciding_code, shared_identity, unknown_identity, unknown_prefix
from dlrpolicy.model._datetimes import EARLIEST, LATEST, iso_z, require_instant
from dlrpolicy.model._decision import CodeIdentity, Decision
from dlrpolicy.model._outcome import History, Outcome, Resend
from dlrpolicy.model._time_rules import Window
from dlrpolicy.model._vocabulary import DEFAULT_CHANNEL
from dlrpolicy.policy._compile import CompiledPolicy
from dlrpolicy.policy._plan import Plan

#: What the reason adds when the provider's own fallback (NHN's SMS resend) shaped the decision.
_RESEND_NOTES: Final = {
    "delivered": " The provider's {channel} fallback delivered the message (resendStatus {reported}): nothing more "
                 "to send; the effects above still apply to the recipient.",
    "pending": " The provider resends the message by {channel} itself (resendStatus {reported}): wait for that "
               "result instead of sending again.",
    "failed": " The provider's {channel} fallback failed too (resendStatus {reported}{code}): {channel} counts as "
              "already tried.",
}


def _provider_asked(outcome: Outcome, now: datetime) -> datetime | None:
    """The earliest instant the provider allows a retry (Retry-After as a delay or as a date), or None."""
    asked = None if outcome.retry_after is None else now + outcome.retry_after
    not_before = outcome.retry_not_before
    if not_before is not None and (asked is None or not_before > asked):
        asked = not_before
    return asked


def _next_time(plan: Plan, outcome: Outcome, now: datetime, failures: int,
              window: Window | None = None) -> tuple[datetime, str, bool]:
    """When the plan's next attempt (or check) is due, a note on what moved it, and whether the provider asked for
    a wait beyond the rule's ``max_delay`` (then the message is not retried early but handed to a person)."""
    note = ""
    if plan.at is not None:
        due = plan.at.after_computed(now)
    else:
        if plan.after is not None and (failures <= 1 or plan.every is None):
            delay = plan.after
        elif plan.every is not None:
            delay = plan.every
        elif plan.backoff is not None:
            delay = plan.backoff.delay(failures, outcome.message_id)
        else:
            delay = timedelta(0)
        due = now + delay
    asked = _provider_asked(outcome, now)
    if asked is not None and asked > due:
        if asked - now > plan.max_delay:
            return asked, (f" The provider asked not to send again before {iso_z(asked)} (Retry-After), later than "
                           f"the rule allows waiting ({_span(plan.max_delay)}): a person decides instead of an "
                           "early retry."), True
        due = asked
        note = f" The provider asked not to send again before {iso_z(asked)} (Retry-After); that is honoured."
    window = window or plan.window
    if window is not None:
        opening = window.next_opening_computed(due)
        if opening != due:
            due = opening
            note += f" Moved to the next opening of window {window.name} ({window.describe()})."
    return due, note, False


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 3600}h" if seconds % 3600 == 0 else f"{seconds}s"


def _end_of_day(first: datetime, plan: Plan) -> datetime:
    assert plan.same_day_zone is not None
    local_date = first.astimezone(plan.same_day_zone).date() + timedelta(days=1)
    return datetime.combine(local_date, time(0), tzinfo=plan.same_day_zone).astimezone(UTC)


def reference_evaluate(policy: CompiledPolicy, outcome: Outcome, *, now: datetime,
                       history: History | None = None) -> Decision:
    """Decide what to do about ``outcome`` at ``now`` given ``history``.

    Of the outcome's codes, a delivered or pending status decides; otherwise a non-OK error decides, and else
    the status.  Codes the catalog does not know get the policy's ``[defaults.unknown]`` decision with
    ``code.unknown = true``; reports that are events (seen, cancelled) get the policy's event decision.
    """
    # Arithmetic runs in UTC: adding 48h to a zone-local datetime adds wall-clock hours (49 elapsed across a
    # fall-back change).  The range check keeps every sum below inside what datetime can represent.
    if type(now) is not datetime or now.tzinfo is not UTC or not EARLIEST <= now < LATEST:
        require_instant("now", now)
        now = now.astimezone(UTC)
    note = ""
    channel = outcome.channel
    if outcome.event is not None:
        plan = policy.events[outcome.event]
        identity = CodeIdentity(outcome.provider, "event", None, None, outcome.event.upper())
        prefix = f"{outcome.event.upper()}: "
    else:
        resolved, note = deciding_code(policy, outcome)
        cand = resolved.candidate
        if cand is not None:
            # The channel the code's table implies when the report did not say (channel_for gives the same).
            channel = channel or DEFAULT_CHANNEL.get(cand.entry.product, "sms")
            plan = cand.plan_for(channel)
            identity = cand.identity
            prefix = cand.reason_prefix
        elif resolved.shared is not None:
            plan = resolved.shared
            identity = shared_identity(resolved, outcome)
            prefix = f"{identity.name or identity.id}: "
        else:
            plan = policy.unknown_permanent if resolved.ref.permanent else policy.unknown
            identity = unknown_identity(resolved, outcome)
            prefix = unknown_prefix(resolved, outcome)
    channel = channel or "sms"

    if history is None:
        attempts, first, proven = 1, outcome.sent_at or now, False
        tried: tuple[str, ...] = ()
    else:
        attempts = history.attempts
        first = history.first_attempt_at or outcome.sent_at or now
        proven = history.first_attempt_at is not None
        tried = history.channels
    resend = outcome.resend
    if resend is None and plan.channel == "sms" and outcome.provider == "nhn_kakao" and \
            policy.spec.defaults.provider_resends:
        resend = Resend(state="pending", channel="sms", reported="assumed: [defaults] provider_resends")
    if resend is not None and resend.state == "failed":
        tried = (*tried, resend.channel)
    if first.tzinfo is not UTC:
        first = first.astimezone(UTC)
    verdict = plan.verdict
    retry_at = check_at = give_up_at = None
    exhausted = timing_note = ""
    escalate_early = False
    if verdict == "retry" or verdict == "wait":
        if plan.give_up_after is not None:
            give_up_at = first + plan.give_up_after
        if plan.same_day_zone is not None:
            end_of_day = _end_of_day(first, plan)
            if give_up_at is None or end_of_day < give_up_at:
                give_up_at = end_of_day
        if plan.max_attempts is not None and attempts >= plan.max_attempts and verdict == "retry":
            exhausted = f"the attempt limit ({plan.max_attempts}) is reached"
        elif not proven and plan.implied_attempts is not None and attempts >= plan.implied_attempts:
            exhausted = (f"the rule's interval and deadline allow {plan.implied_attempts} attempts, and without the "
                         "first attempt's time the deadline cannot be checked")
        elif plan.channel is not None and (plan.channel in tried or plan.channel == outcome.channel):
            exhausted = f"the fallback channel {plan.channel} was already tried"
        else:
            type_window = None
            if verdict == "retry" and plan.window is None and outcome.message_type is not None:
                type_window = policy.window_for_type(outcome.message_type)
            due, timing, escalate_early = _next_time(plan, outcome, now, attempts, type_window)
            timing_note += timing
            if escalate_early:
                verdict = "escalate"
            elif give_up_at is not None and due > give_up_at:
                exhausted = "the next attempt would land after the deadline" if verdict == "retry" else \
                    "the deadline for a final result has passed"
            elif verdict == "retry":
                retry_at = due
            elif plan.at is not None or plan.after is not None or plan.every is not None or plan.backoff is not None:
                check_at = due
        if exhausted:
            verdict = plan.on_exhausted
            timing_note += f" Gave up: {exhausted}."
    if resend is None or resend.state not in ("delivered", "pending"):
        note += timing_note  # the provider's own fallback replaces the retry: its timing describes no send
    if resend is not None and resend.state in ("delivered", "pending") and verdict != "done":
        verdict = "done" if resend.state == "delivered" else "wait"
        retry_at = None
        check_at = now + policy.spec.defaults.resend_check if verdict == "wait" else None
    if resend is not None and resend.state != "none" and plan.verdict != "done":
        code = f", its result {resend.result_code}" if resend.result_code else ""
        if resend.state in _RESEND_NOTES:
            note += _RESEND_NOTES[resend.state].format(channel=resend.channel, reported=resend.reported or
                                                       resend.state, code=code)
    suppress, escalate, key_note = effects(plan, outcome, now, verdict, channel)
    if escalate_early and escalate is None:
        escalate = plan.default_escalation
    return Decision(
        verdict=verdict,
        attempt=attempts + 1,
        rule=plan.rule,
        rule_source=plan.source,
        layers=plan.layers,
        code=identity,
        reason=prefix + plan.reason + note + key_note,
        retry_at=retry_at,
        give_up_at=give_up_at,
        check_at=check_at,
        channel=plan.channel if verdict == "retry" else None,
        suppress=suppress,
        escalate=escalate,
        policy_version=policy.version,
    )
