"""A decision's effects on future sends and on people: what a suppression blocks (its key, read from the outcome)
and who is told.  A key the report does not carry is never a silent null: the decision says what is missing and
asks a person to apply the block."""

from __future__ import annotations

import functools
from datetime import datetime
from email.utils import parseaddr
from typing import Final

from ..model._decision import EscalateEffect, SuppressEffect
from ..model._outcome import Outcome
from ..policy._plan import Plan

#: Where each scope's key comes from, for the reason when the report does not carry it.
_MISSING: Final = {
    "message": "the report carries no message id",
    "recipient": "the report carries no recipient",
    "recipient_channel": "the report carries no recipient",
    "recipient_channel_advertising": "the report carries no recipient",
    "recipient_sender": "the report lacks the recipient or the sender; give the sender in the envelope (sender)",
    "recipient_sender_advertising": "the report lacks the recipient or the sender; give the sender in the envelope "
                                    "(sender)",
    "sender": "the report carries no sender; give it in the envelope (sender)",
    "sender_domain": "the report carries no e-mail sender address; give it in the envelope (sender)",
    "template": "the report carries no template; give it in the envelope (template)",
    "account": "the report names no tenant or provider account; give it in the envelope (tenant)",
}


#: The note of a decision whose block's key the report does not carry, per scope.
_UNKNOWN_KEY: Final = {scope: f" The {scope.replace('_', ' ')} to block is not known ({why}); a person is asked to "
                              "apply the block." for scope, why in _MISSING.items()}


@functools.lru_cache(maxsize=4096)  # a tenant sends from a few addresses; parsing one costs ~10 us
def sender_domain(sender: str | None) -> str | None:
    """The domain of an e-mail sender (``"Shop <news@Shop.Example>"`` -> ``shop.example``); None when ``sender``
    is not an e-mail address (an SMS sender id such as ``InfoSMS``)."""
    if not sender:
        return None
    _, address = parseaddr(sender)
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return None
    return domain.strip().rstrip(".").lower() or None


def suppression_key(scope: str, outcome: Outcome, channel: str) -> str | None:
    """The key a suppression of ``scope`` blocks for ``outcome`` decided on ``channel``; None when not known."""
    if scope == "message":
        return outcome.message_id
    if scope == "recipient":
        return outcome.recipient
    if scope == "recipient_channel" or scope == "recipient_channel_advertising":
        return None if outcome.recipient is None else f"{channel}:{outcome.recipient}"
    if scope == "recipient_sender" or scope == "recipient_sender_advertising":
        if outcome.recipient is None or outcome.sender is None:
            return None
        key = f"{outcome.sender}:{outcome.recipient}"
        return key if scope == "recipient_sender" else f"{channel}:{key}"
    if scope == "sender":
        return outcome.sender
    if scope == "sender_domain":
        return sender_domain(outcome.sender)
    if scope == "template":
        return outcome.template
    return outcome.tenant or outcome.account


def effects(plan: Plan, outcome: Outcome, now: datetime, verdict: str,
            channel: str) -> tuple[SuppressEffect | None, EscalateEffect | None, str]:
    """The suppress and escalate effects of ``plan`` for ``outcome``, and a note for the reason (empty unless a
    suppression's key is missing, in which case a person is asked to apply it)."""
    suppress = None
    note = ""
    escalate = plan.escalate
    spec = plan.suppress
    if spec is not None:
        scope = spec.scope
        # The two scopes most rules block, read directly; the rest through suppression_key.
        key = outcome.recipient if scope == "recipient" else outcome.message_id if scope == "message" else \
            suppression_key(scope, outcome, channel)
        suppress = _effect(scope, key, None if spec.duration is None else now + spec.duration)
        if key is None:
            note = _UNKNOWN_KEY[scope]
            escalate = escalate or plan.default_escalation
    elif verdict == "suppress":
        suppress = _effect("message", outcome.message_id, None)
        if outcome.message_id is None:  # an API error names no message: a person applies the block
            note = (" The message to block is not known (the report carries no message id; give the message key in "
                    "the envelope (key)); a person is asked to apply the block.")
            escalate = escalate or plan.default_escalation
    if escalate is None and verdict == "escalate":
        escalate = plan.default_escalation
    return suppress, escalate, note


_new = object.__new__


def _effect(scope: str, key: str | None, until: datetime | None) -> SuppressEffect:
    """``SuppressEffect(scope, key, until)``, built without parsing arguments (one per suppressing decision)."""
    effect = _new(SuppressEffect)
    effect.__dict__.update(scope=scope, key=key, until=until)
    return effect
