"""What a provider said about one message (Outcome, with its codes as CodeRef) and what already happened to the
message (History).  Frozen; all datetimes timezone-aware and within the supported range.

Every mistake a caller can make here raises `InvalidOutcomeError` naming the field and the fix: the streaming
evaluator turns it into one error line for that outcome, and a library caller gets a message instead of an attrs
``TypeError``.  Channel and provider names are normalised (``"SMS"`` is ``sms``) or refused."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Final

import attrs

from .._errors import InvalidOutcomeError, quote
from ._datetimes import EARLIEST, LATEST, require_instant
from ._vocabulary import CHANNELS, PROVIDERS, VOCABULARY

_CHANNELS: Final = frozenset(CHANNELS)
_PROVIDERS: Final = frozenset(PROVIDERS)
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


def _name(value: object, field: str, known: frozenset[str], listed: tuple[str, ...]) -> str:
    # Fast path first: the adapters pass the canonical names millions of times.
    if type(value) is str:
        if value in known:
            return value
        folded = value.strip().lower().replace("-", "_")
        if folded in known:
            return folded
    raise InvalidOutcomeError(field, f"{quote(value)} is not known: use one of {', '.join(listed)}")


def _channel(value: object) -> str:
    if type(value) is str and value in _CHANNELS:
        return value
    return _name(value, "Outcome.channel", _CHANNELS, CHANNELS)


def _provider(value: object) -> str:
    if type(value) is str and value in _PROVIDERS:
        return value
    return _name(value, "Outcome.provider", _PROVIDERS, PROVIDERS)


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
    """A status or error code as the provider reported it: the id, and whatever else the report carried."""

    id: int
    group_id: int | None = None
    name: str | None = None
    permanent: bool | None = None
    group_name: str | None = None

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


_TEXT_FIELDS: Final = ("message_id", "recipient", "sender", "tenant", "template")


@attrs.frozen(kw_only=True)
class Outcome:
    """What a provider said about one message.

    ``provider`` and ``channel`` locate the code tables; ``status`` and ``error`` are the reported codes (for
    NHN KakaoTalk, ``status`` is the send-result code and ``error`` the API ``resultCode``).  ``product``
    overrides the table the channel implies.  ``retry_after`` is a provider-requested delay (Retry-After).
    ``provider`` and ``channel`` are normalised (``"SMS"`` -> ``"sms"``); unknown ones are refused.
    """

    provider: str = attrs.field(converter=_provider)
    channel: str = attrs.field(converter=_channel)
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

    def __attrs_post_init__(self) -> None:
        # Written as plain comparisons with the slow, explaining checks behind them: one Outcome is built per
        # reported message, millions of times a day.
        status, error = self.status, self.error
        if status is None and error is None:
            raise InvalidOutcomeError("status", "an outcome needs a status code, an error code, or both")
        if (status is not None and type(status) is not CodeRef) or (error is not None and type(error) is not CodeRef):
            for field, ref in (("Outcome.status", status), ("Outcome.error", error)):
                if ref is not None and not isinstance(ref, CodeRef):
                    raise InvalidOutcomeError(field, f"expected a CodeRef, got {type(ref).__name__} {quote(ref)}: "
                                                     "write CodeRef(id=..., group_id=..., name=...)")
        m, r, s, t, p = self.message_id, self.recipient, self.sender, self.tenant, self.template
        if not ((m is None or type(m) is str) and (r is None or type(r) is str) and (s is None or type(s) is str)
                and (t is None or type(t) is str) and (p is None or type(p) is str)):
            for name in _TEXT_FIELDS:
                _optional_text(f"Outcome.{name}", getattr(self, name))
        product = self.product
        if product is not None and (type(product) is not str or product not in _PRODUCTS[self.provider]):
            raise InvalidOutcomeError("Outcome.product", f"{quote(product)} is not a {self.provider} product: use "
                                                         f"one of {', '.join(_PRODUCTS[self.provider])} or None")
        sent, done = self.sent_at, self.done_at
        if sent is not None and not _plain_instant(sent):
            require_instant("Outcome.sent_at", sent)
        if done is not None and not _plain_instant(done):
            require_instant("Outcome.done_at", done)
        retry_after = self.retry_after
        if retry_after is not None:
            if not isinstance(retry_after, timedelta):
                raise InvalidOutcomeError("Outcome.retry_after", f"expected a timedelta, got "
                                                                 f"{type(retry_after).__name__} {quote(retry_after)}")
            if retry_after < timedelta(0):
                raise InvalidOutcomeError("Outcome.retry_after", "a provider retry delay cannot be negative")


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
    return tuple(_name(c, "History.channels", _CHANNELS, CHANNELS) for c in value)


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
