"""`evaluate`: Outcome + History + now -> Decision.  Pure: no clock, no file, no network, no randomness."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Final

from .._errors import InvalidOutcomeError
from ..model._datetimes import EARLIEST, LATEST, iso_z, require_instant
from ..model._decision import CodeIdentity, Decision
from ..model._outcome import History, Outcome, Resend
from ..model._vocabulary import DEFAULT_CHANNEL
from ..policy._compile import ROUTES_MAX, CompiledPolicy
from ..policy._plan import Plan
from ._effects import effects
from ._resolve import deciding_code, quick_candidate, shared_identity, unknown_identity, unknown_prefix

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


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 3600}h" if seconds % 3600 == 0 else f"{seconds}s"


def _end_of_day(first: datetime, plan: Plan) -> datetime:
    assert plan.same_day_zone is not None
    local_date = first.astimezone(plan.same_day_zone).date() + timedelta(days=1)
    return datetime.combine(local_date, time(0), tzinfo=plan.same_day_zone).astimezone(UTC)


def evaluate(policy: CompiledPolicy, outcome: Outcome, *, now: datetime, history: History | None = None) -> Decision:
    """Decide what to do about ``outcome`` at ``now`` given ``history``.

    Of the outcome's codes, a delivered or pending status decides; otherwise a non-OK error decides, and else
    the status.  Codes the catalog does not know get the policy's ``[defaults.unknown]`` decision with
    ``code.unknown = true``; reports that are events (seen, cancelled) get the policy's event decision.
    """
    try:
        # Arithmetic runs in UTC: adding 48h to a zone-local datetime adds wall-clock hours (49 elapsed across a
        # fall-back change).  The range check keeps every sum below inside what datetime can represent.
        if now is not _CHECKED[0]:  # a run decides many reports at one `now`: the last one that passed is kept
            if type(now) is not datetime or now.tzinfo is not UTC or not _FIRST_YEAR <= now.year < _LAST_YEAR:
                require_instant("now", now)
                now = now.astimezone(UTC)
            else:
                _CHECKED[0] = now
        note = ""
        channel = outcome.channel
        route = slow = None
        if outcome.event is None:
            status, error = outcome.status, outcome.error
            memo = policy.routes
            key = id(status) ^ id(error)
            hit = memo.get(key)
            if hit is not None and hit[0] is status and hit[1] is error and hit[2] == outcome.provider and \
                    hit[3] == channel and hit[4] == outcome.product:
                route, channel, slow = hit[5], hit[6], hit[7]
                if route is not None:
                    shared = route.shared
                    if shared is not None and outcome.resend is None:  # the shared path below, without its detours
                        found = shared.get(1 if history is None else history.attempts)
                        if found is not None and found.policy_version == policy.version:
                            return found
            else:
                cand = quick_candidate(policy, outcome)
                if cand is not None:
                    # The channel the code's table implies when the report did not say (channel_for gives the same).
                    channel = channel or DEFAULT_CHANNEL.get(cand.entry.product, "sms")
                    routes = cand.routes
                    route = routes[0] if routes is not None and len(routes) == 1 else cand.route_for(channel)
                else:  # two codes that disagree, an ambiguous or unknown id: resolved in full, once
                    slow = _decided_slowly(policy, outcome)
                if len(memo) >= ROUTES_MAX:
                    memo.clear()
                memo[key] = (status, error, outcome.provider, outcome.channel, outcome.product,
                             route, channel, slow)
        # What the history says (or, without one, this report): the attempt number, when the first attempt was,
        # whether that is known, and the channels tried.
        if history is None:
            attempts, first, proven = 1, outcome.sent_at or now, False
            tried: tuple[str, ...] = ()
        else:
            attempts, known = history.attempts, history.first_attempt_at
            proven = known is not None
            first = known or outcome.sent_at or now
            tried = history.channels
        if route is not None:
            plan, base, shared = route.plan, route.fields, route.shared
            if route.plain and outcome.resend is None and outcome.retry_after is None and \
                    outcome.retry_not_before is None and outcome.message_type is None:
                # The most common retry, fused: `_timing` for a plan with only an interval or a backoff, for a
                # report that brings no timing of its own (no Retry-After, no message type's window, no resend).
                # Exhausted rules (attempt limit, deadline) fall through to the general path, which explains them.
                limit = plan.max_attempts
                implied = plan.implied_attempts
                if (limit is None or attempts < limit) and (proven or implied is None or attempts < implied):
                    after, every = plan.after, plan.every
                    if after is not None and (attempts <= 1 or every is None):
                        due = now + after
                    elif every is not None:
                        due = now + every
                    elif plan.backoff is not None:
                        due = now + plan.backoff.delay(attempts, outcome.message_id)
                    else:
                        due = now
                    span = plan.give_up_after
                    if span is None:
                        give_up_at = None
                    else:
                        if first.tzinfo is not UTC:
                            first = first.astimezone(UTC)
                        give_up_at = first + span
                    if give_up_at is None or due <= give_up_at:
                        decision = _new(Decision)
                        fields = decision.__dict__
                        fields.update(base)
                        fields["attempt"] = attempts + 1
                        fields["policy_version"] = policy.version
                        fields["retry_at"] = due
                        if give_up_at is not None:
                            fields["give_up_at"] = give_up_at
                        return decision
            elif route.effect and outcome.resend is None:
                # A block with no timing: the plan's fields, the attempt and `effects` (the block's key read from
                # the report, or the note and the route to a person when the report lacks it), nothing else.
                suppress, escalate, key_note = effects(plan, outcome, now, plan.verdict, channel or "sms")
                decision = _new(Decision)
                fields = decision.__dict__
                fields.update(base)
                fields["attempt"] = attempts + 1
                fields["policy_version"] = policy.version
                fields["suppress"] = suppress
                fields["escalate"] = escalate
                if key_note:
                    fields["reason"] = base["reason"] + key_note  # type: ignore[operator]
                return decision
        else:
            plan, base, note, channel = slow if slow is not None else _decided_slowly(policy, outcome)
            shared = None
        resend = outcome.resend
        if shared is not None and resend is None and not note:
            # done or escalate with nothing but the attempt number to fill in: one decision per attempt, shared.
            found = shared.get(attempts)
            if found is not None and found.policy_version == policy.version:
                return found
            decision = _new(Decision)
            fields = decision.__dict__
            fields.update(base)
            fields["attempt"] = attempts + 1
            fields["policy_version"] = policy.version
            if attempts < _SHARED_ATTEMPTS:
                shared[attempts] = decision
            return decision
        channel = channel or "sms"
        if resend is None and plan.channel == "sms" and outcome.provider == "nhn_kakao" and \
                policy.spec.defaults.provider_resends:
            resend = _RESEND_SETTING  # NHN sends the SMS itself; the report (a webhook) just does not say so
        if resend is not None and resend.state == "failed":
            tried = (*tried, resend.channel)
        verdict = plan.verdict
        retry_at = check_at = give_up_at = None
        escalate_early = False
        if verdict == "retry" or verdict == "wait":
            if first.tzinfo is not UTC:
                first = first.astimezone(UTC)
            retry_at, check_at, give_up_at, verdict, more, escalate_early = _timing(
                policy, plan, outcome, now, attempts, first, proven, tried)
            if resend is None or resend.state not in ("delivered", "pending"):
                note += more
            # else: the provider's own fallback replaces the retry below, and what the timing said of it (a window it
            # was moved to, a deadline it missed) describes a send that will not happen.
        if resend is not None:
            if resend.state in ("delivered", "pending") and verdict != "done":
                verdict = "done" if resend.state == "delivered" else "wait"
                retry_at = None
                # A provider resending by itself is looked at again (its result may never be reported to us).
                check_at = now + policy.spec.defaults.resend_check if verdict == "wait" else None
            if plan.verdict != "done":  # a delivered message's resend status is moot: nothing to say about it
                note += _resend_note(resend)
        # The decision: the plan's fields for this code, and what this report changed (one dict copy, not fourteen
        # keyword arguments: this runs for every report).
        decision = _new(Decision)
        fields = decision.__dict__
        fields.update(base)
        fields["attempt"] = attempts + 1
        fields["policy_version"] = policy.version
        if verdict != plan.verdict:
            fields["verdict"] = verdict
            fields["channel"] = plan.channel if verdict == "retry" else None
        if plan.suppress is not None or verdict == "suppress" or verdict != plan.verdict or escalate_early:
            suppress, escalate, key_note = effects(plan, outcome, now, verdict, channel)
            if escalate_early and escalate is None:
                escalate = plan.default_escalation
            fields["suppress"] = suppress
            fields["escalate"] = escalate
            note += key_note
        if note:
            fields["reason"] = base["reason"] + note  # type: ignore[operator]
        if retry_at is not None:
            fields["retry_at"] = retry_at
        if give_up_at is not None:
            fields["give_up_at"] = give_up_at
        if check_at is not None:
            fields["check_at"] = check_at
        return decision
    except (AttributeError, TypeError):
        # Zero cost until raised: arguments of the wrong type (a dict for an outcome, None for now) surface as
        # attribute or type errors somewhere in the body; name the argument instead.
        _check_arguments(outcome, now, history)
        raise


def _check_arguments(outcome: object, now: object, history: object) -> None:
    """Raise `InvalidOutcomeError` naming the argument of `evaluate` that has the wrong type, if one has."""
    if not isinstance(outcome, Outcome):
        raise InvalidOutcomeError("outcome", f"expected a dlrpolicy.Outcome, got {type(outcome).__name__}: read "
                                             "payloads with dlrpolicy.parse, or build one with Outcome(...)")
    if not isinstance(now, datetime):
        raise InvalidOutcomeError("now", f"expected a timezone-aware datetime, got {type(now).__name__}: pass "
                                         "now=datetime.now(UTC)")
    if history is not None and not isinstance(history, History):
        raise InvalidOutcomeError("history", f"expected a dlrpolicy.History or None, got {type(history).__name__}")


# evaluate builds its four kinds of Decision inline (new, the plan's fields, attempt and policy version): a helper
# returning the decision and its dict measured 2.7% more instructions catalog-wide and 4-5% on retries and blocks.
_new = object.__new__
#: What a KakaoTalk report without a resendStatus means for a tenant whose NHN SMS resend is on.
_RESEND_SETTING: Final = Resend(state="pending", channel="sms", reported="assumed: [defaults] provider_resends")
# In UTC, EARLIEST <= now < LATEST is a comparison of years (both bounds are midnight on 1 January).
_FIRST_YEAR: Final = EARLIEST.year
_LAST_YEAR: Final = LATEST.year
#: The last `now` that was a UTC datetime in range (datetimes are immutable: the same object passes again).
_CHECKED: Final[list[datetime | None]] = [None]
#: Attempt numbers up to which done and escalate decisions are shared (beyond, each is built).
_SHARED_ATTEMPTS: Final = 32


def _decided_slowly(policy: CompiledPolicy, outcome: Outcome) -> tuple[Plan, dict[str, object], str, str | None]:
    """Plan, decision fields, note and channel of an outcome `quick_candidate` does not take: events, reports with
    two codes that disagree, ambiguous and unknown codes."""
    channel = outcome.channel
    if outcome.event is not None:
        plan = policy.events[outcome.event]
        name = outcome.event.upper()
        return (plan, plan.decision_fields(CodeIdentity(outcome.provider, "event", None, None, name), f"{name}: "),
                "", channel)
    resolved, note = deciding_code(policy, outcome)
    cand = resolved.candidate
    if cand is not None:
        channel = channel or DEFAULT_CHANNEL.get(cand.entry.product, "sms")
        route = cand.route_for(channel)
        return route.plan, route.fields, note, channel
    if resolved.shared is not None:
        plan = resolved.shared
        identity = shared_identity(resolved, outcome)
        return plan, plan.decision_fields(identity, f"{identity.name or identity.id}: "), note, channel
    plan = policy.unknown_permanent if resolved.ref.permanent else policy.unknown
    return (plan, plan.decision_fields(unknown_identity(resolved, outcome), unknown_prefix(resolved, outcome)),
            note, channel)


def _timing(policy: CompiledPolicy, plan: Plan, outcome: Outcome, now: datetime, attempts: int, first: datetime,
            proven: bool, tried: tuple[str, ...]) -> tuple[datetime | None, datetime | None, datetime | None, str,
                                                           str, bool]:
    """Retry and wait plans: (retry_at, check_at, give_up_at, verdict, note, escalate early)."""
    verdict = plan.verdict
    give_up_at = None
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
        # When the next attempt (or check) is due: the rule's own timing, then the provider's Retry-After (never
        # retried early; a wait beyond the rule's max_delay goes to a person), then the send window.
        note = ""
        if plan.at is not None:
            due = plan.at.after(now)
        elif plan.after is not None and (attempts <= 1 or plan.every is None):
            due = now + plan.after
        elif plan.every is not None:
            due = now + plan.every
        elif plan.backoff is not None:
            due = now + plan.backoff.delay(attempts, outcome.message_id)
        else:
            due = now
        if outcome.retry_after is not None or outcome.retry_not_before is not None:
            asked = _provider_asked(outcome, now)
            if asked is not None and asked > due:
                if asked - now > plan.max_delay:
                    return None, None, give_up_at, "escalate", (
                        f" The provider asked not to send again before {iso_z(asked)} (Retry-After), later than the "
                        f"rule allows waiting ({_span(plan.max_delay)}): a person decides instead of an early "
                        "retry."), True
                due = asked
                note = f" The provider asked not to send again before {iso_z(asked)} (Retry-After); that is honoured."
        window = plan.window
        if window is None and verdict == "retry" and outcome.message_type is not None:
            window = policy.window_for_type(outcome.message_type)
        if window is not None:
            opening = window.next_opening(due)
            if opening != due:
                due = opening
                note += window.moved_note
        if give_up_at is None or due <= give_up_at:
            if verdict == "retry":
                return due, None, give_up_at, verdict, note, False
            if plan.at is not None or plan.after is not None or plan.every is not None or plan.backoff is not None:
                return None, due, give_up_at, verdict, note, False
            return None, None, give_up_at, verdict, note, False
        exhausted = "the next attempt would land after the deadline" if verdict == "retry" else \
            "the deadline for a final result has passed"
        return None, None, give_up_at, plan.on_exhausted, f"{note} Gave up: {exhausted}.", False
    return None, None, give_up_at, plan.on_exhausted, f" Gave up: {exhausted}.", False


def _resend_note(resend: Resend) -> str:
    """What the reason says about the provider's own fallback."""
    if resend.state not in _RESEND_NOTES:
        return ""
    code = f", its result {resend.result_code}" if resend.result_code else ""
    return _RESEND_NOTES[resend.state].format(channel=resend.channel, reported=resend.reported or resend.state,
                                              code=code)
