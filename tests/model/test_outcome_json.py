"""Tests for Outcome.to_json / Outcome.from_json: the outcome's form in decision logs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given

from dlrpolicy import CodeRef, InvalidOutcomeError, Outcome
from tests.strategies import catalog_outcomes, complete_outcomes, unknown_outcomes


@given(complete_outcomes())
def test_round_trip_over_every_field(outcome: Outcome) -> None:
    """from_json(to_json(o)) == o for outcomes with every field drawn, through real JSON text."""
    assert outcome == Outcome.from_json(json.loads(json.dumps(outcome.to_json())))


@given(catalog_outcomes())
def test_round_trip_catalog_outcomes(outcome: Outcome) -> None:
    """Outcomes over the whole catalog survive the round trip."""
    assert outcome == Outcome.from_json(outcome.to_json())


@given(unknown_outcomes())
def test_round_trip_unknown_codes(outcome: Outcome) -> None:
    """Codes the catalog does not know survive the round trip."""
    assert outcome == Outcome.from_json(outcome.to_json())


def test_every_attrs_field_is_written() -> None:
    """to_json has one key per attrs field of Outcome (so a new field is serialised without new code)."""
    outcome = Outcome(provider="infobip", channel="sms", error=CodeRef(id=581))
    assert [field.name for field in attrs.fields(Outcome)] == list(outcome.to_json())


def test_json_form() -> None:
    """Datetimes are ISO 8601 UTC with Z, retry_after is seconds, codes are objects."""
    outcome = Outcome(provider="infobip", channel="sms", error=CodeRef(id=581, group_id=1),
                      sent_at=datetime(2026, 11, 24, 10, 0, tzinfo=UTC), retry_after=timedelta(seconds=90))
    data = outcome.to_json()
    assert ("2026-11-24T10:00:00Z", 90.0) == (data["sent_at"], data["retry_after"])
    assert {"id": 581, "group_id": 1, "name": None, "permanent": None, "group_name": None, "kind": None} \
        == data["error"]


@pytest.mark.parametrize(("change", "words"), [
    ({"provider": "acme"}, "Outcome.provider: 'acme' is not known"),
    ({"sent_at": "2026-11-24T10:00:00"}, "naive datetime"),
    ({"error": {"id": "x"}}, "outcome.error.id"),
    ({"attempts": 2}, "extra fields found (attempts)"),
    ({"error": None}, "needs a status code"),
    ({"retry_after": "30s"}, "number of seconds"),
])
def test_from_json_names_what_is_wrong(change: dict[str, object], words: str) -> None:
    """A wrong field becomes an InvalidOutcomeError that names it and says what to write."""
    data = {**Outcome(provider="infobip", channel="sms", error=CodeRef(id=581)).to_json(), **change}
    with pytest.raises(InvalidOutcomeError) as caught:
        Outcome.from_json(data)
    assert words in str(caught.value)
    assert "Outcome.to_json()" in str(caught.value)


def test_from_json_rejects_a_non_object() -> None:
    """A list where the outcome object belongs is an error, not a crash."""
    with pytest.raises(InvalidOutcomeError, match="expected an object"):
        Outcome.from_json([1, 2])  # type: ignore[arg-type]
