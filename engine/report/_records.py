"""One input record (a raw provider payload or an envelope around one) as the outcomes it reports, the history
its envelope gives and the tenant it belongs to: what `policy test` cases and `replay` read."""

from __future__ import annotations

import attrs

from .._errors import PayloadError
from ..adapters._parse import Item, adapt, read_envelope
from ..model._outcome import History


@attrs.frozen
class RecordInput:
    """What one record says: its outcomes (or the errors of the parts that cannot be read), the history its
    envelope gives (None: first attempt), and its tenant (the envelope's, else the one given)."""

    items: tuple[Item, ...]
    history: History | None
    tenant: str | None


def read_report(value: object, *, provider: str | None = None, channel: str | None = None,
                tenant: str | None = None) -> RecordInput:
    """Read ``value`` the way ``dlrpolicy evaluate`` does: an envelope ``{"report": ..., "tenant", "attempt",
    "first_attempt_at", "channel", "provider", "http_status", "headers", "sender"}`` or a bare payload.

    Raises `PayloadError` when the envelope itself is wrong; parts of the payload that cannot be read come back
    as `PayloadError` items, so one bad result does not hide the others.
    """
    if type(value) is not dict or "report" not in value:
        return RecordInput(tuple(adapt(value, provider=provider, channel=channel, tenant=tenant)), None, tenant)
    envelope = read_envelope(value)
    record_tenant = envelope.tenant or tenant
    history = None
    if envelope.attempt is not None or envelope.first_attempt_at is not None:
        history = History(attempts=envelope.attempt or 1, first_attempt_at=envelope.first_attempt_at)
    items = adapt(envelope.report, provider=envelope.provider or provider, channel=envelope.channel or channel,
                  http_status=envelope.http_status, headers=envelope.headers, tenant=record_tenant,
                  root=envelope.root)
    if envelope.sender is not None:
        items = [item if isinstance(item, PayloadError) or item.sender is not None
                 else attrs.evolve(item, sender=envelope.sender) for item in items]
    return RecordInput(tuple(items), history, record_tenant)
