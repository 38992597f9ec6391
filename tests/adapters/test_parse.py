"""Tests for adapters/_parse.py: envelopes."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given

from dlrpolicy import Envelope, History, PayloadError, read_envelope
from dlrpolicy.adapters._parse import adapt
from dlrpolicy.adapters._records import read_record
from tests.strategies import envelopes


def _comparable(value: object) -> object:
    """Errors as (path, message): exceptions compare by identity."""
    if isinstance(value, PayloadError):
        return ("error", value.path, value.message)
    if isinstance(value, tuple):
        return tuple(_comparable(part) for part in value)
    return value


def _read(read: object, record: dict[str, object]) -> object:
    try:
        return _comparable(read(record))  # type: ignore[operator]
    except PayloadError as exc:
        return _comparable(exc)


def _as_read_record_reads_it(record: dict[str, object]) -> object:
    """What read_envelope says of ``record``, put the way read_record says it."""
    envelope = read_envelope(record)
    history = None
    if envelope.attempt is not None or envelope.first_attempt_at is not None:
        history = History(attempts=envelope.attempt or 1, first_attempt_at=envelope.first_attempt_at)
    items = envelope.apply(adapt(envelope.report, provider=envelope.provider, channel=envelope.channel,
                                 http_status=envelope.http_status, headers=envelope.headers, tenant=envelope.tenant,
                                 root=envelope.root))
    return (tuple(items), history, envelope.tenant, envelope.key)


@given(envelopes())
def test_read_record_reads_an_envelope_as_read_envelope_does(record: dict[str, object]) -> None:
    """read_record (which skips building the Envelope) gives what read_envelope's fields give, and refuses a
    wrong envelope with the same error, the first wrong field first."""
    expected = _read(_as_read_record_reads_it, record)
    actual = _read(lambda r: tuple(read_record(r)), record)
    assert expected == actual


def test_a_misspelt_field_is_named_first() -> None:
    """An unknown envelope field is the error even when a known field is wrong too."""
    with pytest.raises(PayloadError) as raised:
        read_record({"report": {}, "provider": 5, "attempts": 2})
    assert ("$.attempts", True) == (raised.value.path,
                                     raised.value.message.startswith("unknown envelope field; allowed: attempt,"))


def test_an_envelope_holds_every_field_it_read() -> None:
    """read_envelope fills every Envelope field from the record."""
    record = {"report": {"results": []}, "provider": "infobip", "channel": "sms", "tenant": "acme", "attempt": 2,
              "first_attempt_at": "2026-11-24T09:55:00Z", "http_status": 429, "headers": {"Retry-After": "30"},
              "sender": "InfoSMS", "template": "T-1", "key": "order-1"}
    envelope = read_envelope(record)
    expected = {"report": {"results": []}, "root": "$.report", "provider": "infobip", "channel": "sms",
                "tenant": "acme", "attempt": 2, "http_status": 429, "headers": {"Retry-After": "30"},
                "sender": "InfoSMS", "template": "T-1", "key": "order-1",
                "first_attempt_at": "2026-11-24T09:55:00+00:00"}
    actual = attrs.asdict(envelope)
    actual["first_attempt_at"] = envelope.first_attempt_at.isoformat() if envelope.first_attempt_at else None
    assert expected == actual
    assert isinstance(envelope, Envelope)
