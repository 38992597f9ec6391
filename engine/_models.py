"""The data that crosses the engine's boundary: what a provider said (Outcome), what happened before (History)
and what to do next (Decision).  All frozen; all datetimes timezone-aware."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

import attrs

from ._errors import InvalidOutcomeError, NaiveDatetimeError

Verdict = Literal["retry", "suppress", "escalate", "wait", "done"]
VERDICTS: Final[tuple[str, ...]] = ("retry", "suppress", "escalate", "wait", "done")
SCOPES: Final[tuple[str, ...]] = (
    "message", "recipient", "recipient_channel", "sender", "sender_domain", "template", "account",
)
SEVERITIES: Final[tuple[str, ...]] = ("info", "warning", "error", "critical")
CHANNELS: Final[tuple[str, ...]] = (
    "sms", "mms", "voice", "webrtc", "email", "push", "whatsapp", "viber", "rcs", "line", "messenger", "zalo",
    "kakao", "apple_mfb", "mobile_identity", "live_chat", "flow", "api",
)
CHAT_CHANNELS: Final = frozenset({"whatsapp", "viber", "rcs", "line", "messenger", "zalo", "kakao", "apple_mfb"})
PROVIDERS: Final[tuple[str, ...]] = ("infobip", "nhn_kakao")

# provider -> (kind of the `status` slot, kind of the `error` slot)
SLOT_KINDS: Final = {"infobip": ("status", "error"), "nhn_kakao": ("delivery", "api")}

# Infobip channel -> (status product, error product).
_INFOBIP_PRODUCTS: Final = {
    "sms": ("general", "general"),
    "mms": ("mms", "mms"),
    "voice": ("voice", "voice"),
    "webrtc": ("voice", "voice"),
    "email": ("email", "email"),
    "push": ("push", "push"),
    "mobile_identity": ("general", "mobile_identity"),
    "live_chat": ("general", "live_chat"),
    "flow": ("moments", "moments"),
    "api": ("general", "people"),
    **dict.fromkeys(CHAT_CHANNELS, ("general", "chat")),
}

#: The channel a product's messages travel on when nothing else says (used by `explain` and the adapters).
DEFAULT_CHANNEL: Final = {
    "general": "sms", "voice": "voice", "voice_legacy": "voice", "mms": "mms", "email": "email", "push": "push",
    "moments": "flow", "chat": "whatsapp", "mobile_identity": "mobile_identity", "dlt": "sms",
    "live_chat": "live_chat", "people": "api", "bizmessage": "kakao",
}


def product_for(provider: str, channel: str, kind: str) -> str:
    """The catalog product whose table a ``kind`` code reported on ``channel`` belongs to."""
    if provider == "nhn_kakao":
        return "bizmessage"
    status_product, error_product = _INFOBIP_PRODUCTS.get(channel, ("general", "general"))
    return status_product if kind == "status" else error_product


def require_aware(field: str, value: datetime | None) -> None:
    """Raise `NaiveDatetimeError` when ``value`` is a datetime without a UTC offset."""
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise NaiveDatetimeError(field, value)


def _aware(instance: object, attribute: attrs.Attribute[datetime | None], value: datetime | None) -> None:
    require_aware(f"{type(instance).__name__}.{attribute.name}", value)


def iso_z(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z`` suffix (``2026-11-24T10:00:00Z``), or None."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@attrs.frozen(kw_only=True)
class CodeRef:
    """A status or error code as the provider reported it: the id, and whatever else the report carried."""

    id: int = attrs.field(validator=attrs.validators.instance_of(int))
    group_id: int | None = None
    name: str | None = None
    permanent: bool | None = None
    group_name: str | None = None


@attrs.frozen(kw_only=True)
class Outcome:
    """What a provider said about one message.

    ``provider`` and ``channel`` locate the code tables; ``status`` and ``error`` are the reported codes (for
    NHN KakaoTalk, ``status`` is the send-result code and ``error`` the API ``resultCode``).  ``product``
    overrides the table the channel implies.  ``retry_after`` is a provider-requested delay (Retry-After).
    """

    provider: str = attrs.field(validator=attrs.validators.in_(PROVIDERS))
    channel: str = attrs.field(validator=attrs.validators.in_(CHANNELS))
    status: CodeRef | None = None
    error: CodeRef | None = None
    product: str | None = None
    message_id: str | None = None
    recipient: str | None = None
    sender: str | None = None
    tenant: str | None = None
    template: str | None = None
    sent_at: datetime | None = attrs.field(default=None, validator=_aware)
    done_at: datetime | None = attrs.field(default=None, validator=_aware)
    retry_after: timedelta | None = None

    def __attrs_post_init__(self) -> None:
        if self.status is None and self.error is None:
            raise InvalidOutcomeError("status", "an outcome needs a status code, an error code, or both")
        if self.retry_after is not None and self.retry_after < timedelta(0):
            raise InvalidOutcomeError("retry_after", "a provider retry delay cannot be negative")


def _positive(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or value < 1:
        raise InvalidOutcomeError(f"History.{attribute.name}", f"must be an integer >= 1, got {value!r}")


def _as_channels(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class History:
    """What already happened to the message: attempts made (>= 1), when the first one was, channels tried.

    ``first_attempt_at`` defaults to the outcome's ``sent_at`` (else ``now``) when evaluated.
    """

    attempts: int = attrs.field(default=1, validator=_positive)
    first_attempt_at: datetime | None = attrs.field(default=None, validator=_aware)
    channels: tuple[str, ...] = attrs.field(default=(), converter=_as_channels)


@attrs.frozen(slots=False)
class SuppressEffect:
    """Block future sends: to ``key`` within ``scope`` until ``until`` (None: until someone lifts it)."""

    scope: str
    key: str | None
    until: datetime | None = None

    def to_json(self) -> dict[str, object]:
        """``{scope, key, until}`` with ``until`` as ISO 8601 UTC."""
        return {"scope": self.scope, "key": self.key, "until": iso_z(self.until)}


@attrs.frozen
class EscalateEffect:
    """A person must look: ``route`` names the team or queue, ``severity`` how urgent."""

    route: str
    severity: str = "warning"

    def to_json(self) -> dict[str, object]:
        """``{route, severity}``."""
        return {"route": self.route, "severity": self.severity}


@attrs.frozen
class CodeIdentity:
    """Which catalog entry the decision resolved to, or what was reported when the catalog has no entry."""

    provider: str
    kind: str
    product: str | None
    id: int
    name: str | None = None
    group_id: int | None = None
    unknown: bool = False

    def to_json(self) -> dict[str, object]:
        """``{provider, kind, product, group_id, id, name, unknown}``."""
        return {
            "provider": self.provider,
            "kind": self.kind,
            "product": self.product,
            "group_id": self.group_id,
            "id": self.id,
            "name": self.name,
            "unknown": self.unknown,
        }


DECISION_KEYS: Final[tuple[str, ...]] = (
    "verdict", "retry_at", "give_up_at", "check_at", "attempt", "channel", "suppress", "escalate",
    "rule", "rule_source", "layers", "code", "reason",
)


# Not slotted: a frozen attrs class with a __dict__ builds about twice as fast as a slotted one, and a Decision is
# built on every evaluation (the hot path) while few live long.
@attrs.frozen(kw_only=True, slots=False)
class Decision:
    """What to do about a message after a report: one verdict plus optional effects, and why.

    ``attempt`` is the number the next attempt would have.  ``rule``/``rule_source``/``layers`` say which
    policy rule decided and where it came from; ``reason`` says why in plain English.
    """

    verdict: str
    attempt: int
    rule: str
    rule_source: str
    layers: tuple[str, ...]
    code: CodeIdentity
    reason: str
    retry_at: datetime | None = None
    give_up_at: datetime | None = None
    check_at: datetime | None = None
    channel: str | None = None
    suppress: SuppressEffect | None = None
    escalate: EscalateEffect | None = None

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict with exactly `DECISION_KEYS`, datetimes as ISO 8601 UTC, nulls where absent."""
        return {
            "verdict": self.verdict,
            "retry_at": iso_z(self.retry_at),
            "give_up_at": iso_z(self.give_up_at),
            "check_at": iso_z(self.check_at),
            "attempt": self.attempt,
            "channel": self.channel,
            "suppress": None if self.suppress is None else self.suppress.to_json(),
            "escalate": None if self.escalate is None else self.escalate.to_json(),
            "rule": self.rule,
            "rule_source": self.rule_source,
            "layers": list(self.layers),
            "code": self.code.to_json(),
            "reason": self.reason,
        }
