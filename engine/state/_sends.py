"""What a send loop asks of the state layer (`dlrpolicy.tenacity` given a recorder): whether the suppression list
blocks the send, and the record of an attempt that went out (so the reports that name only its provider id land
on the message's key)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from datetime import datetime
from typing import Final

from ..model._outcome import Outcome
from ._recorder import Recorder
from ._records import Suppression

#: A loop's description of its send: recipient, channel, sender, template, tenant, and advertising=True.
Send = Mapping[str, str | bool]


def blocking(recorder: Recorder, send: Send, *, now: datetime) -> Suppression | None:
    """The entry (or account hold) that blocks ``send``, or None."""
    fields = dict(send)
    tenant = fields.pop("tenant", None)
    advertising = fields.pop("advertising", False) is True
    return recorder.check(None if tenant is None else str(tenant), now=now, advertising=advertising,
                          **{name: str(value) for name, value in fields.items()})


def record_send(recorder: Recorder, *, key: str, send: Send | None, outcome: Outcome | None,
                message_id: str | None, provider: str | None, at: datetime) -> None:
    """Record an attempt that returned as `Recorder.sent` under ``key``: its provider id from ``outcome`` (what
    the result said), else ``message_id`` sent through ``provider`` on ``send``'s channel; nothing when the id, the
    provider or the channel is unknown."""
    fields = send or {}
    channel = fields.get("channel")
    if outcome is not None and outcome.message_id is not None:
        message_id, provider, channel = outcome.message_id, outcome.provider, outcome.channel or channel
    if message_id is None or provider is None or not channel:
        return
    tenant = fields.get("tenant") if outcome is None else outcome.tenant
    recorder.sent(key=key, provider=provider, message_id=message_id, channel=str(channel), at=at,
                  tenant=None if tenant is None else str(tenant))


#: What ``check=`` may name: `Recorder.check`'s arguments but ``now`` (the loop's clock), read off its signature so
#: that an argument added there is accepted here.
CHECK_KEYS: Final = tuple(name for name in inspect.signature(Recorder.check).parameters if name not in ("self", "now"))


def check_problem(send: object) -> tuple[str, str] | None:
    """(argument, what is wrong) when a loop's ``check=`` cannot be asked of the suppression list, else None."""
    if send is None:
        return None
    if not isinstance(send, Mapping):
        return "check", ('expected a mapping such as {"recipient": "+821012345678", "channel": "sms"}, got '
                         f"{send!r}")
    unknown = sorted(str(name) for name in send if name not in CHECK_KEYS)
    if unknown:
        return "check", f"unknown key {unknown[0]!r}: use {', '.join(CHECK_KEYS)}"
    return None


def send_options_problem(recorder: Recorder | None, key: str | None, provider: str | None,
                         send: Send | None) -> tuple[str, str] | None:
    """(argument, what is wrong) when a loop's ``sent_id_from_result`` cannot be recorded, else None."""
    if recorder is None or key is None:
        return "sent_id_from_result", "records sends in the ledger: pass recorder= and key="
    if provider is None:
        return "provider", 'sent_id_from_result needs the provider the loop sends through, e.g. provider="infobip"'
    if not (send or {}).get("channel"):
        return "check", ('sent_id_from_result needs the channel the loop sends on: name it in '
                         'check={"channel": ..., "recipient": ...}')
    return None
