"""What a provider said about one message (Outcome, with its codes as CodeRef) and what already happened to the
message (History).  Frozen; all datetimes timezone-aware."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

import attrs

from .._errors import InvalidOutcomeError
from ._datetimes import iso_z, require_aware
from ._vocabulary import CHANNELS, PROVIDERS


def _aware(instance: object, attribute: attrs.Attribute[datetime | None], value: datetime | None) -> None:
    require_aware(f"{type(instance).__name__}.{attribute.name}", value)


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

    def to_json(self) -> dict[str, object]:
        """``{attempts, first_attempt_at, channels}`` with the time as ISO 8601 UTC."""
        return {"attempts": self.attempts, "first_attempt_at": iso_z(self.first_attempt_at),
                "channels": list(self.channels)}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> History:
        """The `History` that `to_json` wrote; `InvalidOutcomeError` names a field that is wrong."""
        if not isinstance(data, Mapping):
            raise InvalidOutcomeError("History", f"expected an object, got {type(data).__name__}")
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
