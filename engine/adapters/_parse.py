"""`parse`: any supported provider payload to Outcomes, detecting the provider from the payload's shape; and the
envelope that carries a payload together with what the payload itself does not say (tenant, attempt, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final, NamedTuple

import attrs

from .._errors import InvalidOutcomeError, PayloadError, TenantError
from ..model._outcome import Outcome
from ..model._vocabulary import CHANNELS, PROVIDERS, validate_tenant
from ._infobip import infobip_items, is_send_response
from ._infobip_api import parse_infobip_bare_status
from ._nhn import nhn_items
from ._timestamps import parse_timestamp
from ._values import Skipped, kind_of, outcome_of, outcome_with_texts, payload_error

Item = Outcome | PayloadError | Skipped

_INFOBIP_KEYS: Final = ("results", "requestError", "errorCode", "notificationType")
_NHN_KEYS: Final = ("header", "messageSearchResultResponse", "hooks", "messages", "resultCode", "resendStatus")
#: Where an envelope's report is, for the paths errors name.
ENVELOPE_ROOT: Final = "$.report"
ENVELOPE_KEYS: Final = frozenset(
    {"report", "provider", "channel", "tenant", "attempt", "first_attempt_at", "http_status", "headers", "sender",
     "template", "key"}
)


def detect_provider(payload: object) -> str | None:
    """``infobip`` or ``nhn_kakao`` judging by the payload's top-level keys, or None when neither fits."""
    if type(payload) is not dict:
        return None
    for key in _INFOBIP_KEYS:
        if key in payload:
            return "infobip"
    if is_send_response(payload):  # both providers answer with "messages"; Infobip's rows carry status objects
        return "infobip"
    for key in _NHN_KEYS:
        if key in payload:
            return "nhn_kakao"
    if "status" in payload or "seenAt" in payload:  # a single Infobip report, e.g. one `results` element per line
        return "infobip"
    return None


def adapt(payload: object, *, provider: str | None = None, channel: str | None = None,
          http_status: int | None = None, headers: Mapping[str, object] | None = None,
          tenant: str | None = None, root: str = "$") -> list[Item]:
    """Every outcome in ``payload``, with a `PayloadError` (its ``path`` under ``root``) for each part that
    cannot be read and a `Skipped` for each part with nothing to decide (an empty pull, an inbound message).
    Never raises for bad payload data: the streaming evaluator relies on that."""
    if http_status is not None and type(http_status) is not int:
        return [PayloadError("http_status", f"expected the HTTP status as a whole number, got {kind_of(http_status)}")]
    if http_status is not None and http_status >= 400 and (payload is None or type(payload) is str or payload == {}):
        return [_bare_status(http_status, provider=provider, channel=channel, headers=headers, tenant=tenant,
                             root=root)]
    if type(payload) is not dict:
        hint = (": a JSON array where an object belongs is not a payload (write one payload per line)"
                if type(payload) is list else "")
        return [PayloadError(root, f"expected a payload object, got {kind_of(payload)}{hint}")]
    found = provider or detect_provider(payload)
    if found == "infobip":
        return infobip_items(payload, channel=channel, http_status=http_status, headers=headers, tenant=tenant,
                             root=root)
    if found == "nhn_kakao":
        return nhn_items(payload, channel=channel, http_status=http_status, headers=headers, tenant=tenant,
                         root=root)
    if found is not None:
        return [PayloadError("provider", f"unknown provider {found!r}: use one of {', '.join(PROVIDERS)}")]
    keys = ", ".join(sorted(str(k) for k in payload)[:8]) or "none"
    return [PayloadError(root, f"unknown payload shape (top-level keys: {keys}): expected an Infobip report "
                               "(results, status) or API error (requestError), or an NHN KakaoTalk payload "
                               "(header, messageSearchResultResponse, messages, hooks); force one with provider")]


def _bare_status(http_status: int, *, provider: str | None, channel: str | None,
                 headers: Mapping[str, object] | None, tenant: str | None, root: str) -> Item:
    """A failed API call whose response had no error body to read (empty, or a gateway's HTML page): its HTTP
    status decides, for the provider the caller names (only Infobip documents its HTTP statuses)."""
    if provider != "infobip":
        why = "NHN Cloud answers errors in its JSON header, and documents no HTTP statuses" \
            if provider == "nhn_kakao" else "the body does not say whose API answered"
        return PayloadError(root, f"an HTTP {http_status} response without an error body: {why}; give "
                                  "provider \"infobip\" in the envelope to decide it from Infobip's HTTP table")
    try:
        return parse_infobip_bare_status(http_status, channel=channel, headers=headers, tenant=tenant)
    except (PayloadError, InvalidOutcomeError) as exc:
        return payload_error(exc, root)


def parse(payload: object, *, provider: str | None = None, channel: str | None = None,
          http_status: int | None = None, headers: Mapping[str, object] | None = None) -> list[Outcome]:
    """The outcomes a provider payload reports: one per message (a payload with N results gives N outcomes).

    ``provider`` (``infobip`` or ``nhn_kakao``) is detected from the shape unless given; ``channel`` is the
    channel the caller knows the payload is about (a report that names its own channel keeps it); ``http_status``
    and ``headers`` come from the HTTP response that carried an API error (429 honours ``Retry-After``).  Raises
    `PayloadError` naming the path of the first problem; parts with nothing to decide give no outcome.

    >>> parse({"results": [{"messageId": "m1", "status": {"groupId": 3, "id": 5}}]})[0].status.id
    5
    """
    if channel is not None and channel not in CHANNELS:
        raise PayloadError("channel", f"unknown channel {channel!r}: use one of {', '.join(CHANNELS)}")
    items = adapt(payload, provider=provider, channel=channel, http_status=http_status, headers=headers)
    outcomes: list[Outcome] = []
    for item in items:
        if isinstance(item, PayloadError):
            raise item
        if isinstance(item, Outcome):
            outcomes.append(item)
    return outcomes


@attrs.frozen(kw_only=True)
class Envelope:
    """A payload with what it does not say itself: provider, channel, tenant, the attempt it answers, when the
    first attempt was, and the HTTP status and headers of the response that carried it."""

    report: object
    root: str = "$"
    provider: str | None = None
    channel: str | None = None
    tenant: str | None = None
    attempt: int | None = None
    first_attempt_at: datetime | None = None
    http_status: int | None = None
    headers: Mapping[str, object] | None = None
    #: The sending address or id.  It wins over what the report says: the pipeline knows its own From address
    #: (``Shop <news@shop.example>``), while reports omit it (Infobip e-mail) or carry a display id (``InfoSMS``),
    #: and sender and sender-domain suppressions need it as their key.
    sender: str | None = None
    #: The pipeline's own id for the message; with state, every attempt's reports land on this key's history.
    key: str | None = None
    #: The template the message used (template suppressions need it; Infobip reports do not carry it).
    template: str | None = None

    def apply(self, items: list[Item]) -> list[Item]:
        """``items`` with the envelope's sender and template on every outcome (they win over the report's)."""
        return with_sender(items, self.sender, self.template)


def with_sender(items: list[Item], sender: str | None, template: str | None) -> list[Item]:
    """`Envelope.apply`: ``items`` with ``sender`` and ``template`` (when given) on every outcome."""
    if sender is None and template is None:
        return items
    checked = (sender is None or type(sender) is str) and (template is None or type(template) is str)
    applied: list[Item] = []
    for item in items:
        if isinstance(item, Outcome):
            new_sender, new_template = sender or item.sender, template or item.template
            if checked and type(item) is Outcome:
                item = outcome_with_texts(item, new_sender, new_template)
            else:  # attrs.evolve's result: Outcome's checks run again, and refuse a text that is not text as it does
                item = outcome_of({**item.__dict__, "sender": new_sender, "template": new_template})
        applied.append(item)
    return applied


def _opt_str(record: Mapping[str, object], key: str) -> str | None:
    value = record.get(key)
    if value is not None and type(value) is not str:
        raise PayloadError(f"$.{key}", f"expected a string, got {kind_of(value)}")
    return value


def _opt_int(record: Mapping[str, object], key: str, low: int, high: int) -> int | None:
    value = record.get(key)
    if value is None:
        return None
    if type(value) is not int or not low <= value <= high:
        raise PayloadError(f"$.{key}", f"expected an integer from {low} to {high}, got {kind_of(value)}")
    return value


class EnvelopeFields(NamedTuple):
    """An envelope's fields as `envelope_fields` read them: what `Envelope` holds, without building one (a
    NamedTuple costs a fifth of the frozen attrs class, and `read_record` reads one per enveloped record)."""

    report: object
    provider: str | None
    channel: str | None
    tenant: str | None
    headers: dict[str, object] | None
    attempt: int | None
    http_status: int | None
    first_attempt_at: datetime | None
    sender: str | None
    template: str | None
    key: str | None


def envelope_fields(record: Mapping[str, object]) -> EnvelopeFields:
    """The fields of an envelope record ``{"report": ..., ...}``, each checked (unknown fields are errors, so a
    misspelt ``attempts`` is not silently ignored); raises `PayloadError` for the first one that is wrong."""
    if not ENVELOPE_KEYS.issuperset(record):  # one C call for the usual envelope, whose fields are all known
        unknown = sorted(str(k) for k in record if k not in ENVELOPE_KEYS)
        raise PayloadError(f"$.{unknown[0]}", f"unknown envelope field; allowed: {', '.join(sorted(ENVELOPE_KEYS))}")
    provider = _opt_str(record, "provider")
    if provider is not None and provider not in PROVIDERS:
        raise PayloadError("$.provider", f"unknown provider {provider!r}: use one of {', '.join(PROVIDERS)}")
    channel = _opt_str(record, "channel")
    if channel is not None and channel not in CHANNELS:
        raise PayloadError("$.channel", f"unknown channel {channel!r}: use one of {', '.join(CHANNELS)}")
    tenant = record.get("tenant")
    if tenant is not None:
        try:
            validate_tenant(tenant)
        except TenantError as exc:
            raise PayloadError("$.tenant", str(exc)) from None
    headers = record.get("headers")
    if headers is not None and type(headers) is not dict:
        raise PayloadError("$.headers", f"expected an object of HTTP headers, got {kind_of(headers)}")
    attempt = _opt_int(record, "attempt", 1, 10**6)
    http_status = _opt_int(record, "http_status", 100, 599)
    first = record.get("first_attempt_at")
    return _new_fields(EnvelopeFields, (
        record["report"], provider, channel, tenant, headers, attempt, http_status,
        None if first is None else parse_timestamp(first, "$.first_attempt_at"),
        _opt_str(record, "sender"), _opt_str(record, "template"), _opt_str(record, "key") or None,
    ))


#: ``EnvelopeFields(...)`` without the NamedTuple's own ``__new__``, a Python function around this call.
_new_fields: Final = tuple.__new__


def read_envelope(record: object) -> Envelope:
    """The envelope of a record: ``{"report": {...}, ...}`` is read field by field (`envelope_fields`); anything
    else is a bare payload."""
    if type(record) is not dict or "report" not in record:
        return Envelope(report=record)
    return Envelope(root=ENVELOPE_ROOT, **envelope_fields(record)._asdict())
