"""`evaluate`: Outcome + History + now -> Decision.  Pure: no clock, no file, no network, no randomness."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from ..model._datetimes import EARLIEST, LATEST, require_instant
from ..model._decision import CodeIdentity, Decision, EscalateEffect, SuppressEffect
from ..model._outcome import CodeRef, History, Outcome
from ..model._vocabulary import SLOT_KINDS, product_for
from ..policy._compile import Candidate, CompiledPolicy, Plan


def _pick(cands: tuple[Candidate, ...], ref: CodeRef) -> Candidate | None:
    if len(cands) == 1:
        return cands[0]
    narrowed = cands
    if ref.group_id is not None:
        narrowed = tuple(c for c in narrowed if c.entry.group_id == ref.group_id) or narrowed
    if len(narrowed) > 1 and ref.name is not None:
        narrowed = tuple(c for c in narrowed if c.entry.name == ref.name) or narrowed
    return narrowed[0] if len(narrowed) == 1 else None


def _resolve(policy: CompiledPolicy, outcome: Outcome, kind: str, ref: CodeRef) -> tuple[str, Candidate | None, int]:
    """(product searched, candidate or None, number of candidates) for one reported code."""
    product = outcome.product or product_for(outcome.provider, outcome.channel, kind)
    cands = policy.resolve(outcome.provider, kind, product, ref.id)
    if len(cands) == 1:
        return product, cands[0], 1
    return product, _pick(cands, ref) if cands else None, len(cands)


def _key(scope: str, outcome: Outcome) -> str | None:
    if scope == "message":
        return outcome.message_id
    if scope == "recipient":
        return outcome.recipient
    if scope == "recipient_channel":
        return None if outcome.recipient is None else f"{outcome.channel}:{outcome.recipient}"
    if scope == "sender":
        return outcome.sender
    if scope == "sender_domain":
        sender = outcome.sender
        return sender.rpartition("@")[2] if sender and "@" in sender else sender
    if scope == "template":
        return outcome.template
    return outcome.tenant


def _effects(
    plan: Plan, outcome: Outcome, now: datetime, verdict: str
) -> tuple[SuppressEffect | None, EscalateEffect | None]:
    suppress = None
    if plan.suppress is not None:
        until = now + plan.suppress.duration if plan.suppress.duration is not None else None
        suppress = SuppressEffect(plan.suppress.scope, _key(plan.suppress.scope, outcome), until)
    elif verdict == "suppress":
        suppress = SuppressEffect("message", outcome.message_id, None)
    escalate = plan.escalate
    if escalate is None and verdict == "escalate":
        escalate = plan.default_escalation
    return suppress, escalate


def next_time(plan: Plan, outcome: Outcome, now: datetime, failures: int) -> tuple[datetime, str]:
    """When the plan's next attempt (or check) is due, and a note on what moved it (empty when nothing did)."""
    note = ""
    if plan.at is not None:
        due = plan.at.after(now)
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
    if outcome.retry_after is not None:
        asked = now + min(outcome.retry_after, plan.max_delay)
        if asked > due:
            due = asked
            note = " The provider asked to wait; its delay is honoured (capped at the rule's maximum)."
    if plan.window is not None:
        opening = plan.window.next_opening(due)
        if opening != due:
            due = opening
            note += f" Moved to the next opening of window {plan.window.name} ({plan.window.describe()})."
    return due, note


def evaluate(policy: CompiledPolicy, outcome: Outcome, *, now: datetime, history: History | None = None) -> Decision:
    """Decide what to do about ``outcome`` at ``now`` given ``history``.

    A non-OK error decides when the outcome carries one; otherwise the status decides.  Codes the catalog does
    not know get the policy's ``[defaults.unknown]`` decision with ``code.unknown = true``.
    """
    # Arithmetic runs in UTC: adding 48h to a zone-local datetime adds wall-clock hours (49 elapsed across a
    # fall-back change).  The range check keeps every sum below inside what datetime can represent.
    if type(now) is not datetime or now.tzinfo is not UTC or not EARLIEST <= now < LATEST:
        require_instant("now", now)
        now = now.astimezone(UTC)
    status_kind, error_kind = SLOT_KINDS[outcome.provider]
    ref = outcome.error
    kind = error_kind
    if ref is not None:
        product, cand, count = _resolve(policy, outcome, kind, ref)
        if outcome.status is not None and (cand.entry.success if cand is not None else ref.id == 0):
            ref, kind = outcome.status, status_kind
            product, cand, count = _resolve(policy, outcome, kind, ref)
    else:
        ref, kind = outcome.status, status_kind
        assert ref is not None  # Outcome guarantees a status or an error
        product, cand, count = _resolve(policy, outcome, kind, ref)

    if cand is not None:
        plan = cand.plan_for(outcome.channel)
        identity = cand.identity
        prefix = cand.reason_prefix
    else:
        plan = policy.unknown_permanent if ref.permanent else policy.unknown
        identity = CodeIdentity(outcome.provider, kind, product, ref.id, ref.name, ref.group_id, unknown=True)
        what = "is ambiguous (the report lacks the group or name that tells its entries apart)" if count else \
            "is not in the catalog"
        prefix = f"{outcome.provider} {kind} {product} code {ref.id} {what}: "

    if history is None:
        attempts, first = 1, outcome.sent_at or now
        tried: tuple[str, ...] = ()
    else:
        attempts = history.attempts
        first = history.first_attempt_at or outcome.sent_at or now
        tried = history.channels
    if first.tzinfo is not UTC:
        first = first.astimezone(UTC)
    verdict = plan.verdict
    retry_at = check_at = give_up_at = None
    note = ""
    exhausted = ""
    if verdict == "retry" or verdict == "wait":
        if plan.give_up_after is not None:
            give_up_at = first + plan.give_up_after
        if plan.same_day_zone is not None:
            end_of_day = datetime.combine(first.astimezone(plan.same_day_zone).date() + timedelta(days=1), time(0),
                                          tzinfo=plan.same_day_zone).astimezone(UTC)
            if give_up_at is None or end_of_day < give_up_at:
                give_up_at = end_of_day
        if plan.max_attempts is not None and attempts >= plan.max_attempts and verdict == "retry":
            exhausted = f"the attempt limit ({plan.max_attempts}) is reached"
        elif plan.channel is not None and (plan.channel in tried or plan.channel == outcome.channel):
            exhausted = f"the fallback channel {plan.channel} was already tried"
        else:
            due, note = next_time(plan, outcome, now, attempts)
            if give_up_at is not None and due > give_up_at:
                exhausted = "the next attempt would land after the deadline" if verdict == "retry" else \
                    "the deadline for a final result has passed"
            elif verdict == "retry":
                retry_at = due
            elif plan.at is not None or plan.after is not None or plan.every is not None:
                check_at = due
        if exhausted:
            verdict = plan.on_exhausted
            note = f" Gave up: {exhausted}."
    suppress, escalate = _effects(plan, outcome, now, verdict)
    return Decision(
        verdict=verdict,
        attempt=attempts + 1,
        rule=plan.rule,
        rule_source=plan.source,
        layers=plan.layers,
        code=identity,
        reason=prefix + plan.reason + note,
        retry_at=retry_at,
        give_up_at=give_up_at,
        check_at=check_at,
        channel=plan.channel if verdict == "retry" else None,
        suppress=suppress,
        escalate=escalate,
    )
