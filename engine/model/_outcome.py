"""What a provider said about one message (Outcome, with its codes as CodeRef and the provider's own fallback as
Resend) and what already happened to the message (History).  Frozen; all datetimes timezone-aware and within the
supported range.

Every mistake a caller can make here raises `InvalidOutcomeError` naming the field and the fix: the streaming
evaluator turns it into one error line for that outcome, and a library caller gets a message instead of an attrs
``TypeError``.  Channel and provider names are normalised (``"SMS"`` is ``sms``) or refused."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs

if TYPE_CHECKING:
    import cattrs

from .._errors import InvalidOutcomeError, quote
from ._datetimes import EARLIEST, LATEST, iso_z, require_instant
from ._duration import MAX_DURATION
from ._names import known_name
from ._vocabulary import CHANNELS, KINDS, PROVIDERS, VOCABULARY

_CHANNELS: Final = frozenset(CHANNELS)
_PROVIDERS: Final = frozenset(PROVIDERS)
_KINDS: Final = frozenset(KINDS)
_PRODUCTS: Final = {
    provider: tuple(dict.fromkeys(p for products in kinds.values() for p in products))
    for provider, kinds in VOCABULARY.items()
}
#: Code ids and group ids are 64-bit integers: larger ones are no provider's codes (and would not even print).
_ID_LIMIT: Final = 2**63
_FIRST_YEAR: Final = EARLIEST.year
_LAST_YEAR: Final = LATEST.year - 1
#: The most attempts a history may record (the same bound the evaluate command's envelopes use).
MAX_ATTEMPTS: Final = 1_000_000


def _channel(value: object) -> str:
    if type(value) is str and value in _CHANNELS:
        return value
    return known_name(value, "Outcome.channel", _CHANNELS, CHANNELS)


def _plain_instant(value: object) -> bool:
    """The fast check for what the adapters build: a fixed UTC offset (never None) and a year well inside the
    range (an offset moves an instant by less than a day).  Anything else takes `require_instant`, which checks
    exactly and explains what is wrong."""
    return type(value) is datetime and type(value.tzinfo) is timezone and _FIRST_YEAR < value.year < _LAST_YEAR


def _code_id(field: str, value: object, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, int) or isinstance(value, bool) or not -_ID_LIMIT < value < _ID_LIMIT:
        shown = "a number too large to be a code" if isinstance(value, int) and not isinstance(value, bool) \
            else f"{type(value).__name__} {quote(value)}"
        raise InvalidOutcomeError(field, f"expected an integer code (JSON integer), got {shown}: "
                                         "pass the id as the provider reports it, e.g. CodeRef(id=5, group_id=3)")


def _optional_text(field: str, value: object) -> None:
    if value is not None and type(value) is not str:
        raise InvalidOutcomeError(field, f"expected a string or None, got {type(value).__name__} {quote(value)}")


@attrs.frozen(kw_only=True)
class CodeRef:
    """A status or error code as the provider reported it: the id, and whatever else the report carried.

    ``kind`` names the code table when the slot's own kind does not apply: ``"http"`` for the HTTP status of
    an API error response, which sits in the error slot.
    """

    id: int
    group_id: int | None = None
    name: str | None = None
    permanent: bool | None = None
    group_name: str | None = None
    kind: str | None = None

    def __attrs_post_init__(self) -> None:
        # Plain comparisons first: a report can carry thousands of codes, and the adapters build one per code.
        code, group = self.id, self.group_id
        if type(code) is not int or not -_ID_LIMIT < code < _ID_LIMIT:
            _code_id("CodeRef.id", code, optional=False)
        if group is not None and (type(group) is not int or not -_ID_LIMIT < group < _ID_LIMIT):
            _code_id("CodeRef.group_id", group, optional=True)
        _optional_text("CodeRef.name", self.name)
        _optional_text("CodeRef.group_name", self.group_name)
        if self.permanent is not None and type(self.permanent) is not bool:
            raise InvalidOutcomeError("CodeRef.permanent", f"expected True, False or None, got "
                                                           f"{quote(self.permanent)}")
        if self.kind is not None and (not isinstance(self.kind, str) or self.kind not in _KINDS):
            raise InvalidOutcomeError("CodeRef.kind", f"{quote(self.kind)} is not a code kind: use one of "
                                                      f"{', '.join(KINDS)} or None")


#: Where an outcome's channel came from: the report said it, the caller said it (envelope, ``--channel``, an
#: adapter argument), or the report's shape admits only one channel (voice and e-mail fields, SMS counts).
ChannelSource = Literal["report", "caller", "shape"]
#: Where an outcome's channel came from: the report's own field, the caller, a field only one channel's reports carry,
#: or a channel field naming something no provider document lists (``unrecognised``: the channel stays unknown).
CHANNEL_SOURCES: Final[tuple[str, ...]] = ("report", "caller", "shape", "unrecognised")

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

    state: str
    channel: str = attrs.field(default="sms", converter=_channel)
    result_code: str | None = None
    request_id: str | None = None
    #: The provider's own word for the state (``RSC04``), kept for the reason and the logs.
    reported: str | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.state, str) or self.state not in RESEND_STATES:
            raise InvalidOutcomeError("Resend.state", f"{quote(self.state)} is not a resend state: use one of "
                                                      f"{', '.join(RESEND_STATES)}")
        for name in ("result_code", "request_id", "reported"):
            _optional_text(f"Resend.{name}", getattr(self, name))


_TEXT_FIELDS: Final = ("message_id", "recipient", "sender", "tenant", "template", "message_type", "account")
_EVENTS: Final = frozenset(EVENTS)
_SOURCES: Final = frozenset(CHANNEL_SOURCES)


# Not slotted: a frozen attrs class with a __dict__ builds about twice as fast as a slotted one (its __init__
# stores into the dict instead of calling object.__setattr__ per field), and one Outcome is built per report.
@attrs.frozen(kw_only=True, slots=False)
class Outcome:
    """What a provider said about one message.

    ``provider`` and ``channel`` locate the code tables; ``status`` and ``error`` are the reported codes (for
    NHN KakaoTalk, ``status`` is the send-result code and ``error`` the API ``resultCode``).  ``channel`` is None
    when neither the report nor the caller says it: the code is then looked up by its id across the provider's
    tables, and ``channel_source`` says where a known channel came from.  ``product`` overrides the table the
    channel implies.  ``retry_after`` (a delay) and ``retry_not_before`` (an instant) are the provider's
    Retry-After.  ``event`` marks reports that are not about delivery (``seen``, ``cancelled``); they need no code.
    ``resend`` is the provider's own fallback, ``message_type`` the provider's message type (``FRIENDTALK_NORMAL``)
    and ``account`` the provider account the report belongs to (NHN's appKey).  ``provider`` and ``channel`` are
    normalised (``"SMS"`` -> ``"sms"``); unknown ones are refused.
    """

    # Normalised in __attrs_post_init__ (a converter would cost a call per field on every Outcome).
    provider: str
    channel: str | None = None
    status: CodeRef | None = None
    error: CodeRef | None = None
    product: str | None = None
    message_id: str | None = None
    recipient: str | None = None
    sender: str | None = None
    tenant: str | None = None
    template: str | None = None
    sent_at: datetime | None = None
    done_at: datetime | None = None
    retry_after: timedelta | None = None
    retry_not_before: datetime | None = None
    channel_source: str | None = None
    event: str | None = None
    resend: Resend | None = None
    message_type: str | None = None
    account: str | None = None

    def __attrs_pre_init__(self) -> None:
        """Give the instance a dict of its own before attrs fills it in, so that reading fields stays fast."""
        # CPython 3.11 materialises the attrs-built ``__dict__`` as a *split* dict, on which specialised attribute
        # loads always miss (every ``outcome.status`` in `evaluate` took the generic lookup).  Copying a plain dict
        # in first makes it a combined dict, also cheaper to fill: 14% fewer instructions to build an Outcome and
        # 9% fewer per decision catalog-wide (callgrind).
        self.__dict__.update(_LAYOUT)

    def __attrs_post_init__(self) -> None:
        # Written as plain comparisons with the slow, explaining checks behind them: one Outcome is built per
        # reported message, millions of times a day.
        provider, channel = self.provider, self.channel
        if type(provider) is not str or provider not in _PROVIDERS:
            object.__setattr__(self, "provider", known_name(provider, "Outcome.provider", _PROVIDERS, PROVIDERS))
        if channel is not None and (type(channel) is not str or channel not in _CHANNELS):
            object.__setattr__(self, "channel", known_name(channel, "Outcome.channel", _CHANNELS, CHANNELS))
        status, error, event = self.status, self.error, self.event
        if status is None and error is None and event is None:
            raise InvalidOutcomeError("status", "an outcome needs a status code, an error code, or both "
                                      "(or an event such as seen or cancelled)")
        if (status is not None and type(status) is not CodeRef) or (error is not None and type(error) is not CodeRef):
            for field, ref in (("Outcome.status", status), ("Outcome.error", error)):
                if ref is not None and not isinstance(ref, CodeRef):
                    raise InvalidOutcomeError(field, f"expected a CodeRef, got {type(ref).__name__} {quote(ref)}: "
                                                     "write CodeRef(id=..., group_id=..., name=...)")
        m, r, s, t, p = self.message_id, self.recipient, self.sender, self.tenant, self.template
        y, a = self.message_type, self.account
        if not ((m is None or type(m) is str) and (r is None or type(r) is str) and (s is None or type(s) is str)
                and (t is None or type(t) is str) and (p is None or type(p) is str)
                and (y is None or type(y) is str) and (a is None or type(a) is str)):
            for name in _TEXT_FIELDS:
                _optional_text(f"Outcome.{name}", getattr(self, name))
        product = self.product
        if product is not None and (type(product) is not str or product not in _PRODUCTS[self.provider]):
            raise InvalidOutcomeError("Outcome.product", f"{quote(product)} is not a {self.provider} product: use "
                                                         f"one of {', '.join(_PRODUCTS[self.provider])} or None")
        sent, done, not_before = self.sent_at, self.done_at, self.retry_not_before
        # `_plain_instant` written out for the two times most reports carry (a call costs more than the test).
        if sent is not None and not (type(sent) is datetime and type(sent.tzinfo) is timezone
                                     and _FIRST_YEAR < sent.year < _LAST_YEAR):
            require_instant("Outcome.sent_at", sent)
        if done is not None and not (type(done) is datetime and type(done.tzinfo) is timezone
                                     and _FIRST_YEAR < done.year < _LAST_YEAR):
            require_instant("Outcome.done_at", done)
        if not_before is not None and not _plain_instant(not_before):
            require_instant("Outcome.retry_not_before", not_before)
        retry_after = self.retry_after
        if retry_after is not None:
            if not isinstance(retry_after, timedelta):
                raise InvalidOutcomeError("Outcome.retry_after", f"expected a timedelta, got "
                                                                 f"{type(retry_after).__name__} {quote(retry_after)}")
            if retry_after < timedelta(0):
                raise InvalidOutcomeError("Outcome.retry_after", "a provider retry delay cannot be negative")
            if retry_after > MAX_DURATION:  # the adapters refuse such headers too; now + it must stay a date
                raise InvalidOutcomeError("Outcome.retry_after", f"{retry_after} is longer than the 400 days any "
                                                                 "wait may be: check the Retry-After it came from")
        source = self.channel_source
        if (source is not None and (type(source) is not str or source not in _SOURCES
                                    or (channel is None) != (source == "unrecognised"))) \
                or event is not None or self.resend is not None:
            self._check_labels()

    def _check_labels(self) -> None:
        source, event, resend = self.channel_source, self.event, self.resend
        if source is not None:
            if not isinstance(source, str) or source not in _SOURCES:  # a list or dict is unhashable: test first
                raise InvalidOutcomeError("Outcome.channel_source", f"{quote(source)} is not known: use one of "
                                                                    f"{', '.join(CHANNEL_SOURCES)} or None")
            if (self.channel is None) != (source == "unrecognised"):
                raise InvalidOutcomeError("Outcome.channel_source", "a channel source needs a channel (and "
                                          "'unrecognised' none): drop it or set channel")
        if event is not None and (not isinstance(event, str) or event not in _EVENTS):
            raise InvalidOutcomeError("Outcome.event", f"{quote(event)} is not an event: use one of "
                                                       f"{', '.join(EVENTS)} or None")
        if resend is not None and type(resend) is not Resend:
            raise InvalidOutcomeError("Outcome.resend", f"expected a Resend, got {type(resend).__name__}: write "
                                                        "Resend(state='failed', channel='sms')")

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


#: Every field of `Outcome`, in order, set to None: what each instance's dict starts as (see __attrs_pre_init__).
_LAYOUT: Final = dict.fromkeys(field.name for field in attrs.fields(Outcome))


def _positive(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 1 <= value <= MAX_ATTEMPTS:
        raise InvalidOutcomeError(f"History.{attribute.name}",
                                  f"must be a whole number from 1 to {MAX_ATTEMPTS:,}, got {quote(value)}")


def _as_channels(value: Iterable[str]) -> tuple[str, ...]:
    if value == ():
        return ()
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidOutcomeError("History.channels", f"expected a list of channel names, got {quote(value)}: "
                                                      "write channels=['sms']")
    return tuple(known_name(c, "History.channels", _CHANNELS, CHANNELS) for c in value)


def _first_attempt(instance: object, attribute: attrs.Attribute[datetime | None], value: datetime | None) -> None:
    if value is not None and not _plain_instant(value):
        require_instant("History.first_attempt_at", value)


@attrs.frozen(kw_only=True)
class History:
    """What already happened to the message: attempts made (1 to 1,000,000), when the first one was, channels
    tried (normalised like `Outcome.channel`).

    ``first_attempt_at`` defaults to the outcome's ``sent_at`` (else ``now``) when evaluated.
    """

    attempts: int = attrs.field(default=1, validator=_positive)
    first_attempt_at: datetime | None = attrs.field(default=None, validator=_first_attempt)
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
    require_instant("datetime", moment)
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
