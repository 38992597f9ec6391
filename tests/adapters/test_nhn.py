"""NHN KakaoTalk Bizmessage adapters: send responses, result queries, polling, webhooks, bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dlrpolicy import Engine, PayloadError, parse, parse_nhn, parse_nhn_result
from dlrpolicy.adapters._parse import adapt

PAYLOADS = Path(__file__).resolve().parents[2] / "examples" / "payloads"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
OK = {"resultCode": 0, "isSuccessful": True}


def load(name: str) -> Any:
    """An example payload by file name."""
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def identities(payload: object) -> list[tuple[str, int, str | None]]:
    """(kind, id, message id) of the catalog entry each outcome's decision resolved to."""
    engine = Engine.default()
    return [(d.code.kind, d.code.id, o.message_id)
            for o in parse(payload) for d in [engine.evaluate(o, now=NOW)]]


def test_send_response_gives_one_outcome_per_recipient() -> None:
    """Two sendResults, two outcomes; resultCode is an API code, so -3018 is the API entry."""
    assert [("api", 0, "20261124100630ReZQ6KZzAH0:1"), ("api", -3018, "20261124100630ReZQ6KZzAH0:2")] \
        == identities(load("nhn_send_response.json"))


def test_send_response_recipient() -> None:
    """The recipient number is kept for recipient-scoped effects."""
    assert ["01012345678", "01087654321"] == [o.recipient for o in parse(load("nhn_send_response.json"))]


def test_failed_send_request_is_one_api_outcome() -> None:
    """A header with a negative resultCode and no sendResults is one outcome with that API code."""
    payload = {"header": {"resultCode": -1000, "resultMessage": "invalid appkey", "isSuccessful": False},
               "message": None}
    outcomes = parse_nhn(payload)
    assert [(-1000, None)] == [(o.error.id if o.error else None, o.status) for o in outcomes]


def test_search_results_use_delivery_codes() -> None:
    """String resultCode "3018" is the delivery entry 3018, not API -3018."""
    assert [("delivery", 3018, "20261124093015aBcDeFgHiJ0:1"), ("delivery", 1000, "20261124093015aBcDeFgHiJ0:2")] \
        == identities(load("nhn_message_search.json"))


def test_search_row_fields() -> None:
    """Template, sender key and KST times are read."""
    outcome = parse(load("nhn_message_search.json"))[0]
    assert ("ORDER_SHIPPED", "5a1f0c9e8d7b6a5f4e3d2c1b0a9f8e7d6c5b4a39") == (outcome.template, outcome.sender)
    assert datetime(2026, 11, 24, 9, 30, 15, tzinfo=UTC) == outcome.sent_at


def test_polling_results_and_resend_status() -> None:
    """RSC01 keeps the Kakao result, RSC04 is delivered by SMS, RSC03 is still in progress."""
    outcomes = parse(load("nhn_message_results.json"))
    assert [(3022, "kakao"), (1000, "sms"), (4161, "kakao")] == [
        (o.status.id if o.status else None, o.channel) for o in outcomes
    ]


def test_webhook_hooks() -> None:
    """MESSAGE_RESULT_UPDATE gives one outcome per hook."""
    assert [("delivery", 1000, "20261124103000xYzAbCdEfG2:1"), ("delivery", 3019, "20261124103000xYzAbCdEfG2:2")] \
        == identities(load("nhn_webhook_result_update.json"))


def test_pending_row_without_result_is_in_progress() -> None:
    """A row still READY has no resultCode yet: it reports 4161 MESSAGE_IN_PROGRESS."""
    outcome = parse_nhn_result({"requestId": "r", "recipientSeq": 1, "messageStatus": "READY", "resultCode": None})
    assert outcome.status is not None
    assert 4161 == outcome.status.id


def test_single_row() -> None:
    """A bare result row (one per JSON line) parses on its own."""
    assert [("delivery", 3018, "r:3")] == identities({"requestId": "r", "recipientSeq": 3, "resultCode": "3018"})


def test_failed_query_header_is_an_api_outcome() -> None:
    """A query whose header failed reports that API code."""
    payload = {"header": {"resultCode": -1001, "isSuccessful": False}, "messageSearchResultResponse": None}
    assert [("api", -1001, None)] == identities(payload)


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"header": OK, "messages": [{"requestId": "r", "resultCode": "abc"}]}, "$.messages[0].resultCode"),
        ({"header": OK, "messages": [{"requestId": "r", "resultCode": "30.18"}]}, "$.messages[0].resultCode"),
        ({"header": OK, "messages": [{"requestId": "r", "resultCode": True}]}, "$.messages[0].resultCode"),
        ({"header": {"resultCode": 0}, "messages": []}, "$.messages"),
        ({"header": {"resultCode": 0}, "messages": {"a": 1}}, "$.messages"),
        ({"header": {"resultCode": 0}, "messages": [[1]]}, "$.messages[0]"),
        ({"header": {"resultCode": 0}, "messages": [{"resultCode": "1000", "resendStatus": "RSC09"}]},
         "$.messages[0].resendStatus"),
        ({"header": {"resultCode": 0}, "messages": [{"messageStatus": "FAILED"}]}, "$.messages[0].resultCode"),
        ({"header": "ok", "messages": []}, "$.header"),
        ({"header": {"resultCode": 0}, "message": {"requestId": "r", "sendResults": []}}, "$.message.sendResults"),
        ({"header": {"resultCode": 0}, "message": {"requestId": "r", "sendResults": [{"resultCode": "x"}]}},
         "$.message.sendResults[0].resultCode"),
        ({"event": "TEMPLATE_UPDATE", "hooks": []}, "$.event"),
        ({"hooks": [{"resultCode": "1000", "requestDate": 5}]}, "$.hooks[0].requestDate"),
    ],
)
def test_bad_nhn_payloads_name_the_path(payload: object, path: str) -> None:
    """Garbage codes, empty arrays, arrays where objects belong, unknown resend statuses: each names a path."""
    with pytest.raises(PayloadError) as info:
        parse(payload)
    assert path == info.value.path


def test_one_bad_row_does_not_hide_the_others() -> None:
    """A bad row is an error item; the good rows around it still parse."""
    rows = [{"requestId": "r", "resultCode": "1000"}, {"resultCode": []}]
    items = adapt({"header": OK, "messages": rows})
    assert [False, True] == [isinstance(i, PayloadError) for i in items]


def test_forced_provider() -> None:
    """provider= forces the adapter even when the shape would say otherwise."""
    with pytest.raises(PayloadError):
        parse({"results": []}, provider="nhn_kakao")
