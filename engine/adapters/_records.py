"""One input record (a raw provider payload, or an envelope around one) as the items it reports, the history its
envelope gives and the tenant it belongs to.  `dlrpolicy evaluate`, `policy test` and `replay` all read records
through `read_record`, so an envelope means the same everywhere."""

from __future__ import annotations

from typing import Final, NamedTuple

from .._errors import DlrpolicyError, PayloadError
from ..model._outcome import History
from ._parse import ENVELOPE_ROOT, Item, adapt, envelope_fields, with_sender
from ._values import Skipped


class RecordInput(NamedTuple):
    """What one record says: its items (outcomes, `Skipped` parts, and the errors of parts that cannot be read),
    the history its envelope gives (None: the envelope says nothing about earlier attempts), and its tenant (the
    envelope's, else the one given).  (A NamedTuple: one is made per input record, at a fifth of the cost of a
    frozen attrs class.)"""

    items: tuple[Item, ...]
    history: History | None
    tenant: str | None
    #: The pipeline's own key for the message (envelope ``key``), which the ledger files every attempt under.
    key: str | None = None


_new: Final = tuple.__new__


def read_record(value: object, *, provider: str | None = None, channel: str | None = None,
                tenant: str | None = None) -> RecordInput:
    """Read ``value``: an envelope ``{"report": ..., "tenant", "attempt", "first_attempt_at", "channel",
    "provider", "http_status", "headers", "sender", "template", "key"}`` or a bare payload.

    Raises `PayloadError` when the envelope itself is wrong; parts of the payload that cannot be read come back
    as `PayloadError` items, so one bad result does not hide the others.  The envelope's sender and template win
    over the report's.
    """
    if type(value) is not dict or "report" not in value:
        # tuple.__new__: the NamedTuple's own __new__ is a Python function around this call (one per record).
        return _new(RecordInput, (tuple(adapt(value, provider=provider, channel=channel, tenant=tenant)), None,
                                  tenant, None))
    # The envelope's fields, not an `Envelope` (read_envelope's attrs class costs a microsecond to build).
    envelope = envelope_fields(value)
    record_tenant = envelope.tenant or tenant
    history = None
    if envelope.attempt is not None or envelope.first_attempt_at is not None:
        history = History(attempts=envelope.attempt or 1, first_attempt_at=envelope.first_attempt_at)
    items = with_sender(adapt(envelope.report, provider=envelope.provider or provider,
                              channel=envelope.channel or channel, http_status=envelope.http_status,
                              headers=envelope.headers, tenant=record_tenant, root=ENVELOPE_ROOT),
                        envelope.sender, envelope.template)
    return _new(RecordInput, (tuple(items), history, record_tenant, envelope.key))


def error_fields(exc: Exception) -> dict[str, str]:
    """The ``{"type", "message", "path"}`` of the error record for a record (or part of one) not decided.

    A `PayloadError` names the path into the record; another `DlrpolicyError` says what is wrong; anything else is
    a bug of ours, still reported as one record (``InternalError``) so the run goes on.
    """
    if isinstance(exc, PayloadError):
        return {"type": type(exc).__name__, "message": exc.message, "path": exc.path}
    if isinstance(exc, DlrpolicyError):
        return {"type": type(exc).__name__, "message": str(exc), "path": "$"}
    return {"type": "InternalError", "message": f"{type(exc).__name__}: {exc}", "path": "$"}


def skipped_fields(skipped: Skipped) -> dict[str, str]:
    """The ``{"reason", "path"}`` of the line for a part of a record with nothing to decide."""
    return {"reason": skipped.reason, "path": skipped.path}
