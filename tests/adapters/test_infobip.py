"""Infobip adapters: every report shape maps to the right catalog table; API errors; bad input with paths."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dlrpolicy import Engine, PayloadError, parse, parse_infobip_api_error, parse_infobip_report
from dlrpolicy.adapters._parse import adapt, detect_provider

PAYLOADS = Path(__file__).resolve().parents[2] / "examples" / "payloads"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def load(name: str) -> Any:
    """An example payload by file name."""
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def report(**fields: object) -> dict[str, object]:
    """A minimal delivery report with ``fields`` merged in."""
    status = {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET"}
    base: dict[str, object] = {"messageId": "m1", "to": "41793026727", "status": status}
    base.update(fields)
    return base


def codes(payload: object, **kwargs: Any) -> list[tuple[str, str, str, int]]:
    """(channel, kind, product, id) of the entry each outcome's decision resolved to."""
    engine = Engine.default()
    result = []
    for outcome in parse(payload, **kwargs):
        code = engine.evaluate(outcome, now=NOW).code
        result.append((outcome.channel, code.kind, str(code.product), code.id))
    return result


def test_sms_v1_reports_give_one_outcome_per_result() -> None:
    """Three results, three outcomes, on SMS, with the general tables."""
    assert [("sms", "status", "general", 5), ("sms", "error", "general", 581), ("sms", "status", "general", 7)] \
        == codes(load("infobip_sms_v1_reports.json"))


def test_sms_v1_fields() -> None:
    """Sender, recipient, message id and both timestamps are read."""
    outcome = parse(load("infobip_sms_v1_reports.json"))[0]
    assert ("sms-v1-0001", "41793026727", "ACME") == (outcome.message_id, outcome.recipient, outcome.sender)
    assert datetime(2026, 11, 24, 8, 58, 20, 323000, tzinfo=UTC) == outcome.sent_at
    assert outcome.error is not None
    assert (0, 0, False) == (outcome.error.id, outcome.error.group_id, outcome.error.permanent)


def test_sms_v3_shape() -> None:
    """The v3 shape (sender, messageCount, platform) is SMS; +05:30 and +0000 timestamps parse."""
    outcomes = parse(load("infobip_sms_v3_reports.json"))
    assert ["sms", "sms"] == [o.channel for o in outcomes]
    assert "ACMEIN" == outcomes[0].sender
    assert datetime(2026, 11, 24, 9, 51, 10, tzinfo=UTC) == outcomes[1].sent_at


def test_email_error_uses_the_email_table() -> None:
    """An email report's 6016 is the email table's 6016; the channel comes from the report."""
    assert ("email", "error", "email", 6016) == codes(load("infobip_email_reports.json"))[0]


def test_email_inferred_from_address() -> None:
    """An email address as recipient makes the channel certain."""
    assert "email" == parse(report(to="a@example.org", messageCount=1))[0].channel


def test_chat_apps_shape_is_whatsapp_by_default() -> None:
    """messageCount without SMS v3 fields is the chat apps shape; its errors use the chat table."""
    assert ("whatsapp", "error", "chat", 7017) == codes(load("infobip_whatsapp_reports.json"))[0]


def test_voice_report_uses_the_voice_tables() -> None:
    """A voice report (nested voiceCall) maps its error to the voice table."""
    assert [("voice", "error", "voice", 10201)] == codes(load("infobip_voice_report.json"))


def test_voice_inferred_from_flat_duration() -> None:
    """The older flat voice shape (duration, dtmfCodes) is voice too."""
    assert "voice" == parse(report(duration=12, dtmfCodes="1,2"))[0].channel


def test_channel_field_and_override() -> None:
    """The report's channel field is read; an explicit channel wins over everything."""
    assert "viber" == parse(report(channel="VIBER", messageCount=1))[0].channel
    assert "rcs" == parse(report(channel="VIBER"), channel="rcs")[0].channel


def test_single_result_without_results_array() -> None:
    """A bare result object (one element of results) is one outcome."""
    assert ["m1"] == [o.message_id for o in parse(report())]


def test_many_results_give_many_outcomes() -> None:
    """A payload with 50 results gives 50 outcomes in order."""
    payload = {"results": [report(messageId=f"m{i}") for i in range(50)]}
    assert [f"m{i}" for i in range(50)] == [o.message_id for o in parse(payload)]


def test_unknown_status_id_is_not_an_error() -> None:
    """An id no table has still parses; the engine labels the decision unknown."""
    outcome = parse(report(status={"groupId": 9, "id": 987654}))[0]
    assert Engine.default().evaluate(outcome, now=NOW).code.unknown


def test_string_id_is_an_error_with_path() -> None:
    """Infobip ids are integers: a string id is rejected with its path."""
    items = adapt({"results": [report(), report(status={"groupId": 3, "id": "5"})]})
    assert isinstance(items[1], PayloadError)
    assert "$.results[1].status.id" == items[1].path
    assert not isinstance(items[0], PayloadError)


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"results": [{"messageId": "m1"}]}, "$.results[0].status"),
        ({"results": []}, "$.results"),
        ({"results": {"status": {}}}, "$.results"),
        ({"results": [[1, 2]]}, "$.results[0]"),
        ({"results": [report(status=[5])]}, "$.results[0].status"),
        ({"results": [report(status={"id": 5, "groupId": "3"})]}, "$.results[0].status.groupId"),
        ({"results": [report(error={"id": 581, "permanent": "no"})]}, "$.results[0].error.permanent"),
        ({"results": [report(sentAt="2026-11-24T09:58:20.323")]}, "$.results[0].sentAt"),
        ({"results": [report(to=41793026727.5)]}, "$.results[0].to"),
        ([report()], "$"),
        ({"foo": 1}, "$"),
    ],
)
def test_bad_reports_name_the_path(payload: object, path: str) -> None:
    """Missing status, empty results, arrays where objects belong, wrong types, naive times: each names a path."""
    with pytest.raises(PayloadError) as info:
        parse(payload)
    assert path == info.value.path


def test_detect_provider() -> None:
    """Infobip shapes are detected by their keys."""
    assert ["infobip", "infobip", "infobip", None] == [
        detect_provider(p) for p in ({"results": []}, {"requestError": {}}, report(), {"x": 1})
    ]


def test_api_error_429_honours_retry_after() -> None:
    """429 TOO_MANY_REQUESTS maps to the People API's 42901 and keeps the Retry-After delay."""
    payload = load("infobip_api_error_429.json")["report"]
    outcome = parse(payload, http_status=429, headers={"Retry-After": "30"})[0]
    assert outcome.error is not None
    assert (42901, "people", timedelta(seconds=30)) == (outcome.error.id, outcome.product, outcome.retry_after)
    decision = Engine.default().evaluate(outcome, now=NOW)
    assert decision.retry_at is not None
    assert decision.retry_at >= NOW + timedelta(seconds=30)


def test_api_error_e429_code() -> None:
    """The newer errorCode E429 is rate limiting too, without an HTTP status given."""
    outcome = parse_infobip_api_error({"errorCode": "E429", "description": "Too many requests"})
    assert outcome.error is not None
    assert 42901 == outcome.error.id


def test_api_error_without_documented_code_is_an_unknown_permanent_code() -> None:
    """401 is not in the table: the bare status, flagged permanent, is held for a person (unknown, escalate)."""
    outcome = parse_infobip_api_error(load("infobip_api_error_401.json")["report"], http_status=401)
    assert outcome.error is not None
    assert (401, True) == (outcome.error.id, outcome.error.permanent)
    decision = Engine.default().evaluate(outcome, now=NOW)
    assert (True, "escalate") == (decision.code.unknown, decision.verdict)


def test_api_error_that_cannot_be_placed_is_an_error() -> None:
    """An unknown error name without an HTTP status cannot be decided: the message asks for the status."""
    with pytest.raises(PayloadError) as info:
        parse({"requestError": {"serviceException": {"messageId": "SOMETHING_ODD", "text": "?"}}})
    assert "$.requestError.serviceException.messageId" == info.value.path
    assert "http_status" in info.value.message


def test_report_function_is_public() -> None:
    """parse_infobip_report reads one result with an explicit channel."""
    assert "mms" == parse_infobip_report(report(), channel="mms").channel


def test_people_error_names_match_the_catalog() -> None:
    """The adapter's People API name -> id table is exactly the catalog's People API table."""
    from dlrpolicy import Catalog
    from dlrpolicy.adapters._infobip import PEOPLE_ERROR_CODES

    expected = {e.name: e.id for e in Catalog.load().filter(provider="infobip", kind="error", product="people")}
    assert expected == dict(PEOPLE_ERROR_CODES)
