"""Tests for the public constructors Outcome, CodeRef and History: every mistake a caller can make is an
`InvalidOutcomeError` (a `DlrpolicyError`) that says how to fix it; channels and providers are normalised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest

from dlrpolicy import CodeRef, DlrpolicyError, History, InvalidOutcomeError, NaiveDatetimeError, Outcome, Resend

OK = CodeRef(id=5, group_id=3)


def _outcome(**fields: object) -> Outcome:
    """An Infobip SMS outcome with ``fields`` overriding the defaults."""
    values: dict[str, object] = {"provider": "infobip", "channel": "sms", "status": OK, **fields}
    return Outcome(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("written", "expected"), [("SMS", "sms"), (" Kakao ", "kakao"), ("live-chat", "live_chat")])
def test_channel_is_normalised(written: str, expected: str) -> None:
    """Channel names in another letter case (or with a dash) are the same channel."""
    assert expected == _outcome(channel=written).channel


def test_provider_is_normalised() -> None:
    """``Infobip`` is ``infobip``."""
    assert "infobip" == _outcome(provider="Infobip").provider


@pytest.mark.parametrize(
    ("fields", "field", "needle"),
    [
        ({"channel": "carrier-pigeon"}, "Outcome.channel", "sms, mms"),
        ({"channel": 7}, "Outcome.channel", "sms, mms"),
        ({"provider": "nhn"}, "Outcome.provider", "nhn_kakao"),
        ({"provider": None}, "Outcome.provider", "infobip"),
        ({"status": 5}, "Outcome.status", "CodeRef(id=..."),
        ({"error": {"id": 5}}, "Outcome.error", "CodeRef(id=..."),
        ({"message_id": 5}, "Outcome.message_id", "a string"),
        ({"recipient": b"+1555"}, "Outcome.recipient", "a string"),
        ({"product": "bizmessage"}, "Outcome.product", "general"),
        ({"product": ["general"]}, "Outcome.product", "general"),
        ({"sent_at": "2026-11-24T10:00:00Z"}, "Outcome.sent_at", "datetime"),
        ({"retry_after": 30}, "Outcome.retry_after", "timedelta"),
        ({"retry_after": timedelta(seconds=-1)}, "Outcome.retry_after", "negative"),
        ({"retry_after": timedelta(days=999_999_999)}, "Outcome.retry_after", "400 days"),
    ],
)
def test_outcome_mistakes_are_invalid_outcome_errors(fields: dict[str, object], field: str, needle: str) -> None:
    """Wrong vocabulary or types raise InvalidOutcomeError naming the field and the fix (never attrs' errors)."""
    with pytest.raises(InvalidOutcomeError) as info:
        _outcome(**fields)
    assert field == info.value.field
    assert needle in str(info.value)


@pytest.mark.parametrize(
    "fields",
    [{"id": True}, {"id": "5"}, {"id": 5.0}, {"id": 5, "group_id": "3"}, {"id": 5, "group_id": False},
     {"id": 5, "name": 5}, {"id": 5, "permanent": "yes"}, {"id": 5, "group_name": 1}],
)
def test_code_ref_types(fields: dict[str, object]) -> None:
    """CodeRef(id=True) and other wrong types are refused: True is not code 1."""
    with pytest.raises(InvalidOutcomeError, match=r"CodeRef\."):
        CodeRef(**fields)  # type: ignore[arg-type]


def test_history_channels_are_normalised() -> None:
    """History(channels=["SMS"]) means sms, so the fallback check matches it."""
    assert ("sms", "kakao") == History(channels=["SMS", "Kakao"]).channels


@pytest.mark.parametrize(("channels", "needle"), [(["fax"], "sms, mms"), ("sms", "a list"), ([7], "sms, mms"),
                                                 (5, "a list")])
def test_history_bad_channels(channels: object, needle: str) -> None:
    """Unknown channels, or a bare string where a list belongs, are refused."""
    with pytest.raises(InvalidOutcomeError, match=r"History\.channels") as info:
        History(channels=channels)  # type: ignore[arg-type]
    assert needle in str(info.value)


@pytest.mark.parametrize("attempts", [0, -1, True, 2.0, 10**7])
def test_history_attempts_bounded(attempts: object) -> None:
    """attempts is a whole number from 1 to 1,000,000."""
    with pytest.raises(InvalidOutcomeError, match=r"History\.attempts"):
        History(attempts=attempts)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "moment",
    [datetime(9999, 12, 31, 23, 0, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC),
     datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))), datetime(1969, 12, 31, 23, 59, tzinfo=UTC),
     datetime(9000, 1, 1, tzinfo=UTC)],
)
def test_datetimes_out_of_range_are_refused(moment: datetime) -> None:
    """Instants near year 1 or 9999 would overflow date arithmetic: refused with the supported range."""
    for build in (lambda: _outcome(sent_at=moment), lambda: _outcome(done_at=moment),
                  lambda: History(first_attempt_at=moment)):
        with pytest.raises(InvalidOutcomeError, match="1970-01-01T00:00:00Z") as info:
            build()
        assert isinstance(info.value, DlrpolicyError)


def test_naive_datetimes_still_name_the_fix() -> None:
    """A naive datetime is a NaiveDatetimeError (a DlrpolicyError) saying to add a zone."""
    with pytest.raises(NaiveDatetimeError, match="timezone-aware"):
        _outcome(sent_at=datetime(2026, 11, 24, 10, 0))


def test_edges_of_the_range_are_accepted() -> None:
    """The first and the last supported instants are fine."""
    assert _outcome(sent_at=datetime(1970, 1, 1, tzinfo=UTC)).sent_at is not None
    assert History(first_attempt_at=datetime(8999, 12, 31, 23, 59, tzinfo=UTC)).first_attempt_at is not None


def test_outcome_dict_holds_every_field_in_order() -> None:
    """An Outcome's instance dict holds each field once, in declaration order, with the value given or its default."""
    outcome = _outcome(message_id="m-1", recipient="+821012345678")
    expected = {field.name: getattr(outcome, field.name) for field in attrs.fields(Outcome)}
    assert list(expected) == list(vars(outcome))
    assert expected == vars(outcome)
    assert ("m-1", None) == (vars(outcome)["message_id"], vars(outcome)["sender"])


@pytest.mark.parametrize("name", [field.name for field in attrs.fields(Outcome) if field.name != "provider"])
@pytest.mark.parametrize("value", [["x"], {"a": 1}, b"x", 1.5])
def test_every_field_refuses_a_foreign_value(name: str, value: object) -> None:
    """A list, dict, bytes or float in any field is an InvalidOutcomeError naming it (an unhashable label once
    escaped as a bare TypeError)."""
    with pytest.raises(InvalidOutcomeError) as info:
        _outcome(**{name: value})
    assert f"Outcome.{name}" == info.value.field


@pytest.mark.parametrize("value", [["http"], {"a": 1}, b"http", 1.5, "carrier"])
def test_code_ref_kind_and_resend_state_refuse_foreign_values(value: object) -> None:
    """CodeRef.kind and Resend.state outside their vocabularies are InvalidOutcomeErrors naming the field (they
    once escaped as a TypeError and as attrs' ValueError)."""
    with pytest.raises(InvalidOutcomeError) as kind:
        CodeRef(id=5, kind=value)  # type: ignore[arg-type]
    with pytest.raises(InvalidOutcomeError) as state:
        Resend(state=value)  # type: ignore[arg-type]
    assert ("CodeRef.kind", "Resend.state") == (kind.value.field, state.value.field)
    assert "none, pending, delivered, failed" in str(state.value)
