"""How a report becomes an `Item` for the store: whether it can be stored at all, its identity, message key and
flood-control route."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Final

from .._errors import ArgumentError, DlrpolicyError, InvalidOutcomeError
from ..decide._resolve import channel_for
from ..model._outcome import Outcome
from ..policy._compile import CompiledPolicy
from ._apply import provider_key, route_of
from ._codec import storable
from ._keys import NO_TENANT, report_identity
from ._store import Item, Report

#: The text a report brings into the store (as keys, ids and JSON): the outcome's fields and the message key.
#: (`unstorable` tests the same fields at once first.)
_STORED_TEXT: Final = ("message_id", "recipient", "sender", "tenant", "template", "account", "key")


def unstorable(report: Report) -> InvalidOutcomeError | None:
    """Why ``report`` cannot be stored, or None: a text with a lone surrogate (a JSON escape such as ``\\ud800``)
    has no UTF-8 form, and both stores keep text as UTF-8.  Checked per report so one cannot fail its batch."""
    outcome = report.outcome
    # Nearly every report is all ASCII: one test over the texts joined (None joins as "None", ASCII too).
    if (f"{outcome.message_id}{outcome.recipient}{outcome.sender}{outcome.tenant}{outcome.template}"
            f"{outcome.account}{report.key}").isascii():
        return None
    fields = outcome.__dict__
    for name in _STORED_TEXT:
        value = fields.get(name) if name != "key" else report.key
        # isascii inline: this runs for every text of every recorded report, and ASCII always encodes.
        if value is not None and not value.isascii() and not storable(value):
            return InvalidOutcomeError(name if name == "key" else f"Outcome.{name}",
                                       f"{value!r} holds a lone surrogate (a broken \\u escape in the payload) and "
                                       "cannot be stored; fix the sender of the payload, or decide it without --state")
    return None


def require_storable(**texts: str | Sequence[str] | None) -> None:
    """Raise `ArgumentError` for the first text argument with no UTF-8 form.  Python reads a command-line argument
    holding bytes that are not UTF-8 as lone surrogates (``\\udcff``), and a broken ``\\u`` escape in JSON gives
    one; both stores keep text as UTF-8, so such a text could neither be looked up nor stored."""
    for argument, value in texts.items():
        for text in (value,) if value is None or isinstance(value, str) else value:
            if text is not None and not storable(text):
                raise ArgumentError(argument, text, "holds a lone surrogate (bytes that are not UTF-8 in a "
                                    "command-line argument, or a broken \\u escape): the store keeps UTF-8 text; "
                                    "pass the value as UTF-8")


def _implied_channel(policy: CompiledPolicy, outcome: Outcome) -> str:
    """`channel_for` of a report that names no channel ("sms" when the policy cannot decide it: its own error is
    reported when the report is decided)."""
    try:
        return channel_for(policy, outcome)
    except DlrpolicyError:
        return "sms"


def item_of(report: Report, now: datetime, policy_for: Callable[[str | None], CompiledPolicy]) -> Item:
    """What the store needs to find ``report``'s message and route (``policy_for``: a tenant's policy, for a report
    that brings none)."""
    outcome = report.outcome
    identity = report_identity(outcome, now)
    pid = provider_key(outcome.provider, outcome.message_id) if outcome.message_id is not None else None
    channel = outcome.channel
    if channel is None:  # a report that names no channel is routed on the one its code's table implies
        channel = _implied_channel(report.policy or policy_for(outcome.tenant), outcome)
    return Item(outcome=outcome, tenant=outcome.tenant or NO_TENANT, key=report.key, pid=pid,
                default_key=outcome.message_id or f"report:{identity}", identity=identity,
                route=route_of(outcome, channel), hint=report.history, replay=report.replay)
