"""The adapters' shared values: `outcome_of` builds exactly what ``Outcome(**fields)`` builds, and refuses alike."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest

from dlrpolicy import CodeRef, DlrpolicyError, Outcome, Resend
from dlrpolicy.adapters._values import FIELDS as OUTCOME_FIELDS
from dlrpolicy.adapters._values import outcome_of

DELIVERED = CodeRef(id=5, group_id=3, name="DELIVERED_TO_HANDSET")
FIELDS = [
    {"provider": "infobip", "status": DELIVERED},
    {"provider": "infobip", "channel": "SMS", "channel_source": "report", "status": DELIVERED,
     "error": CodeRef(id=0, group_id=0), "message_id": "m-1", "recipient": "821012345678", "sender": "InfoSMS",
     "tenant": "acme", "sent_at": datetime(2026, 11, 24, 9, 58, tzinfo=timezone(timedelta(hours=9))),
     "done_at": datetime(2026, 11, 24, 9, 59, tzinfo=UTC), "retry_after": timedelta(seconds=30),
     "message_type": "FRIENDTALK_NORMAL"},
    {"provider": "nhn_kakao", "channel": "kakao", "channel_source": "report", "status": CodeRef(id=3018),
     "resend": Resend(state="failed", channel="sms"), "account": "app-key", "template": "T-1"},
    {"provider": "infobip", "channel": "whatsapp", "event": "seen", "message_id": "wa-1"},
]
BAD = [
    {"provider": "infobip"},  # no code and no event
    {"provider": "carrier-pigeon", "status": DELIVERED},
    {"provider": "infobip", "channel": "fax", "status": DELIVERED},
    {"provider": "infobip", "status": {"id": 5}},
    {"provider": "infobip", "status": DELIVERED, "message_id": 17},
    {"provider": "infobip", "status": DELIVERED, "sent_at": datetime(2026, 11, 24)},
    {"provider": "infobip", "status": DELIVERED, "retry_after": timedelta(days=-1)},
    {"provider": "infobip", "status": DELIVERED, "channel_source": "rumour", "channel": "sms"},
]


def complete(fields: dict[str, object]) -> dict[str, object]:
    """``fields`` with every other field of Outcome at its default: what outcome_of takes."""
    return {**{field.name: field.default for field in attrs.fields(Outcome) if field.default is not attrs.NOTHING},
            **fields}


@pytest.mark.parametrize("fields", FIELDS)
def test_outcome_of_equals_the_constructor(fields: dict[str, object]) -> None:
    """Every field, normalised alike (``SMS`` -> ``sms``): the same Outcome as the attrs constructor."""
    expected = Outcome(**fields)  # type: ignore[arg-type]
    actual = outcome_of(complete(fields))
    assert expected == actual
    assert attrs.asdict(expected, recurse=False) == attrs.asdict(actual, recurse=False)
    assert set(attrs.fields_dict(Outcome)) == set(actual.__dict__)


@pytest.mark.parametrize("fields", BAD)
def test_outcome_of_refuses_what_the_constructor_refuses(fields: dict[str, object]) -> None:
    """The same error (type and message)."""
    with pytest.raises(DlrpolicyError) as expected:
        Outcome(**fields)  # type: ignore[arg-type]
    with pytest.raises(DlrpolicyError) as actual:
        outcome_of(complete(fields))
    assert (type(expected.value), str(expected.value)) == (type(actual.value), str(actual.value))


def test_outcome_checks_live_in_post_init_only() -> None:
    """outcome_of skips attrs' __init__: it is only equal to it while no field has a validator, a converter or a
    default factory (outcome_of copies defaults as they are)."""
    expected: list[str] = []
    actual = [field.name for field in attrs.fields(Outcome)
              if field.validator is not None or field.converter is not None
              or isinstance(field.default, attrs.Factory)]
    assert expected == actual


def test_outcome_of_takes_every_field() -> None:
    """A dict that misses a field fails at once (Outcome's checks read every field), not later at its use."""
    assert tuple(attrs.fields_dict(Outcome)) == OUTCOME_FIELDS
    values = complete({"provider": "infobip", "status": DELIVERED})
    del values["account"]
    with pytest.raises(AttributeError, match="account"):
        outcome_of(values)


def test_the_adapters_outcomes_are_the_constructors() -> None:
    """Every outcome the adapters build from the example payloads (through outcome_of) has exactly Outcome's fields,
    in field order (so attribute caches hit for all of them alike), and equals ``Outcome(**its fields)``."""
    from pathlib import Path

    from dlrpolicy.adapters._records import read_record

    payloads = Path(__file__).resolve().parents[2] / "examples" / "payloads"
    seen = 0
    for path in sorted(payloads.glob("*.json")):
        for item in read_record(json.loads(path.read_text(encoding="utf-8"))).items:
            if isinstance(item, Outcome):
                assert tuple(item.__dict__) == OUTCOME_FIELDS, path.name
                assert item == Outcome(**item.__dict__), path.name
                seen += 1
    assert seen > 20


def test_an_envelope_puts_its_sender_and_template_on_as_evolve_would() -> None:
    """Envelope.apply builds with outcome_of what ``attrs.evolve`` builds, refusing alike."""
    from dlrpolicy.adapters._parse import Envelope

    plain = Outcome(provider="infobip", channel="email", status=DELIVERED, sender="report@x.example", tenant="acme")
    for sender, template in (("news@shop.example", None), (None, "T-1"), ("a@b.example", "T-2")):
        (applied,) = Envelope(report={}, sender=sender, template=template).apply([plain])
        expected = attrs.evolve(plain, sender=sender or plain.sender, template=template or plain.template)
        assert attrs.asdict(expected, recurse=False) == attrs.asdict(applied, recurse=False)
        assert (OUTCOME_FIELDS, expected) == (tuple(applied.__dict__), Outcome(**applied.__dict__))
    with pytest.raises(DlrpolicyError) as expected_error:
        attrs.evolve(plain, sender=5)
    with pytest.raises(DlrpolicyError) as actual:
        Envelope(report={}, sender=5).apply([plain])  # type: ignore[arg-type]
    assert str(expected_error.value) == str(actual.value)
