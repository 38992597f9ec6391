"""What a provider said about one message (Outcome, with its codes as CodeRef and the provider's own fallback as
Resend) and what already happened to the message (History).  Frozen; all datetimes timezone-aware."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs

if TYPE_CHECKING:
    import cattrs

from .._errors import InvalidOutcomeError
from ._datetimes import iso_z, require_aware
from ._vocabulary import CHANNELS, KINDS, PROVIDERS


def _aware(instance: object, attribute: attrs.Attribute[datetime | None], value: datetime | None) -> None:
    require_aware(f"{type(instance).__name__}.{attribute.name}", value)


@attrs.frozen(kw_only=True)
class CodeRef:
    """A status or error code as the provider reported it: the id, and whatever else the report carried.

    ``kind`` names the code table when the slot's own kind does not apply: ``"http"`` for the HTTP status of
    an API error response, which sits in the error slot.
    """

    id: int = attrs.field(validator=attrs.validators.instance_of(int))
    group_id: int | None = None
    name: str | None = None
    permanent: bool | None = None
    group_name: str | None = None
    kind: str | None = attrs.field(default=None, validator=attrs.validators.optional(attrs.validators.in_(KINDS)))


#: Where an outcome's channel came from: the report said it, the caller said it (envelope, ``--channel``, an
#: adapter argument), or the report's shape admits only one channel (voice and e-mail fields, SMS counts).
ChannelSource = Literal["report", "caller", "shape"]
CHANNEL_SOURCES: Final[tuple[str, ...]] = ("report", "caller", "shape")

#: What the provider's own fallback did (NHN KakaoTalk resends by SMS when configured): ``none`` the message is
#: not a fallback target, ``pending`` the provider will resend (or is resending) it, ``delivered`` the fallback
#: delivered it, ``failed`` the fallback failed too.
ResendState = Literal["none", "pending", "delivered", "failed"]
RESEND_STATES: Final[tuple[str, ...]] = ("none", "pending", "delivered", "failed")

#: Reports that are not about delivery: the recipient read the message, or the sender cancelled it.
Event = Literal["seen", "cancelled"]
EVENTS: Final[tuple[str, ...]] = ("seen", "cancelled")


@attrs.frozen(kw_only=True)
class Resend:
    """The provider's own fallback for a message (NHN's ``resendStatus``): its state, the channel it resends on,
    the fallback's own result code as reported (``resendResultCode``, not a catalog code) and request id."""

    state: str = attrs.field(validator=attrs.validators.in_(RESEND_STATES))
    channel: str = attrs.field(default="sms", validator=attrs.validators.in_(CHANNELS))
    result_code: str | None = None
    request_id: str | None = None
    #: The provider's own word for the state (``RSC04``), kept for the reason and the logs.
    reported: str | None = None


@attrs.frozen(kw_only=True)
class Outcome:
    """What a provider said about one message.

    ``provider`` and ``channel`` locate the code tables; ``status`` and ``error`` are the reported codes (for
    NHN KakaoTalk, ``status`` is the send-result code and ``error`` the API ``resultCode``).  ``channel`` is None
    when neither the report nor the caller says it: the code is then looked up by its id across the provider's
    tables, and ``channel_source`` says where a known channel came from.  ``product`` overrides the table the
    channel implies.  ``retry_after`` (a delay) and ``retry_not_before`` (an instant) are the provider's
    Retry-After.  ``event`` marks reports that are not about delivery (``seen``, ``cancelled``); they need no code.
    ``resend`` is the provider's own fallback, ``message_type`` the provider's message type (``FRIENDTALK_NORMAL``)
    and ``account`` the provider account the report belongs to (NHN's appKey).
    """

    provider: str = attrs.field(validator=attrs.validators.in_(PROVIDERS))
    channel: str | None = attrs.field(default=None, validator=attrs.validators.optional(attrs.validators.in_(CHANNELS)))
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
    retry_not_before: datetime | None = attrs.field(default=None, validator=_aware)
    channel_source: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.in_(CHANNEL_SOURCES)))
    event: str | None = attrs.field(default=None, validator=attrs.validators.optional(attrs.validators.in_(EVENTS)))
    resend: Resend | None = None
    message_type: str | None = None
    account: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.status is None and self.error is None and self.event is None:
            raise InvalidOutcomeError("status", "an outcome needs a status code, an error code, or both "
                                      "(or an event such as seen or cancelled)")
        if self.retry_after is not None and self.retry_after < timedelta(0):
            raise InvalidOutcomeError("retry_after", "a provider retry delay cannot be negative")
        if self.channel_source is not None and self.channel is None:
            raise InvalidOutcomeError("channel_source", "a channel source needs a channel: drop it or set channel")

    def to_json(self) -> dict[str, Any]:
        """Every field as JSON-ready data: datetimes as ISO 8601 UTC, ``retry_after`` in seconds, codes as
        objects.  Built from the attrs fields, so a field added to `Outcome` is serialised without change here."""
        data: dict[str, Any] = _converter().unstructure(self)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Outcome:
        """The outcome `to_json` wrote; raise `InvalidOutcomeError` naming every wrong field (unknown keys
        included, so a misspelt field is not silently dropped)."""
        if not isinstance(data, Mapping):
            raise InvalidOutcomeError("outcome", f"expected an object, got {type(data).__name__}")
        # deferred: cattrs costs ~16 ms to import and only decision logs need it, not every `import dlrpolicy`.
        import cattrs

        try:
            return _converter().structure(dict(data), cls)
        except cattrs.BaseValidationError as exc:
            problems = "; ".join(cattrs.transform_error(exc, path="outcome", format_exception=_describe))
            raise InvalidOutcomeError("outcome", f"{problems}: write the object Outcome.to_json() writes") from None


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

    def to_json(self) -> dict[str, object]:
        """``{attempts, first_attempt_at, channels}`` with the time as ISO 8601 UTC."""
        return {"attempts": self.attempts, "first_attempt_at": iso_z(self.first_attempt_at),
                "channels": list(self.channels)}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> History:
        """The `History` that `to_json` wrote; `InvalidOutcomeError` names a field that is wrong."""
        if not isinstance(data, Mapping):
            raise InvalidOutcomeError("History", f"expected an object {{attempts, first_attempt_at, channels}}, got "
                                      f"{type(data).__name__}")
        unknown = sorted(str(k) for k in data if k not in ("attempts", "first_attempt_at", "channels"))
        if unknown:
            raise InvalidOutcomeError(f"History.{unknown[0]}", "unknown history field; allowed: attempts, "
                                      "first_attempt_at, channels")
        first = data.get("first_attempt_at")
        when = None
        if first is not None:
            try:
                when = datetime.fromisoformat(str(first).replace("Z", "+00:00"))
            except ValueError:
                raise InvalidOutcomeError("History.first_attempt_at",
                                          f"{first!r} is not an ISO 8601 time with an offset") from None
        channels = data.get("channels", ())
        if not isinstance(channels, list | tuple) or not all(isinstance(c, str) for c in channels):
            raise InvalidOutcomeError("History.channels", "expected a list of channel names")
        attempts = data.get("attempts", 1)
        return cls(attempts=attempts, first_attempt_at=when, channels=channels)  # type: ignore[arg-type]


def _describe(exc: BaseException, type_: object) -> str:
    """How a field failed, in the words of the check that failed (cattrs' generic "invalid value" says less)."""
    # deferred: see Outcome.from_json.
    import cattrs
    from cattrs.v import format_exception

    if isinstance(exc, KeyError | cattrs.ForbiddenExtraKeysError):
        return format_exception(exc, type_)  # type: ignore[arg-type]
    # attrs validators raise ValueError(message, attribute, ...): the message is the first argument.
    return exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)


def _datetime_from_json(value: object, _: object) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 string, got {type(value).__name__}")
    moment = datetime.fromisoformat(value)
    require_aware("datetime", moment)
    return moment


def _timedelta_from_json(value: object, _: object) -> timedelta:
    if type(value) not in (int, float):
        raise TypeError(f"expected a number of seconds, got {type(value).__name__}")
    return timedelta(seconds=value)  # type: ignore[arg-type]


@functools.cache
def _converter() -> cattrs.Converter:
    """The model's JSON form: datetimes as ISO 8601 UTC, durations as seconds, nested attrs classes as objects.
    Generic over attrs fields, so new Outcome (and CodeRef) fields need no code here."""
    # deferred: see Outcome.from_json.
    import cattrs

    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_unstructure_hook(datetime, iso_z)
    converter.register_unstructure_hook(timedelta, timedelta.total_seconds)
    converter.register_structure_hook(datetime, _datetime_from_json)
    converter.register_structure_hook(timedelta, _timedelta_from_json)
    return converter
