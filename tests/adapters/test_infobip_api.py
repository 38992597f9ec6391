"""Infobip API errors: the HTTP table for the call that failed, People API names only for People API calls,
Retry-After in both forms, and what the default policy decides for each status."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dlrpolicy import Catalog, Engine, Outcome, PayloadError, parse, parse_infobip_api_error
from dlrpolicy.adapters._infobip_api import PEOPLE_ERROR_CODES
from dlrpolicy.adapters._records import read_record

SAMPLES = Path(__file__).resolve().parent / "samples"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def sample(name: str) -> dict[str, Any]:
    """A published sample (tests/adapters/samples/) with its HTTP status and headers."""
    data: dict[str, Any] = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return data


def decide(name: str, **kwargs: Any) -> tuple[str, str, int | None, str | None, str | None]:
    """(verdict, rule, code id, escalation route, suppress scope) of a sample API error on ``kwargs``' channel."""
    data = sample(name)
    outcome = parse(data["payload"], http_status=data["http_status"], headers=data["headers"], **kwargs)[0]
    decision = Engine.default().evaluate(outcome, now=NOW)
    return (decision.verdict, decision.rule, decision.code.id,
            None if decision.escalate is None else decision.escalate.route,
            None if decision.suppress is None else decision.suppress.scope)


def test_sms_send_error_is_the_sms_sends_http_status() -> None:
    """An API error on an SMS send is that send's HTTP status (kind http), not a People API code."""
    data = sample("infobip_error_legacy_400.json")
    outcome = parse(data["payload"], http_status=400, channel="sms")[0]
    assert outcome.error is not None
    assert (400, "http", "sms", "caller") == (outcome.error.id, outcome.error.kind, outcome.channel,
                                              outcome.channel_source)
    assert "http" == Engine.default().evaluate(outcome, now=NOW).code.kind


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("infobip_error_legacy_400.json", ("escalate", "http.bad-request", 400, "support", None)),
        ("infobip_error_legacy_401.json", ("escalate", "http.credentials", 401, "credentials", "account")),
        ("infobip_error_legacy_403.json", ("escalate", "http.credentials", 403, "credentials", "account")),
        ("infobip_error_legacy_404.json", ("escalate", "http.not-found", 404, "support", None)),
        ("infobip_error_legacy_429.json", ("retry", "http.rate-limited", 429, None, None)),
        ("infobip_error_legacy_500.json", ("retry", "http.server-error", 500, None, None)),
        ("infobip_error_legacy_503.json", ("retry", "http.server-error", 503, None, None)),
        ("infobip_error_e400.json", ("escalate", "http.bad-request", 400, "support", None)),
        ("infobip_error_e500.json", ("retry", "http.server-error", 500, None, None)),
    ],
)
def test_default_policy_decides_each_http_status(name: str, expected: tuple[object, ...]) -> None:
    """401/403 page credentials and hold the account; 404 and 400 go to support; 429 and 5xx retry."""
    assert expected == decide(name, channel="sms")


def test_credentials_failure_is_critical() -> None:
    """HTTP 401 is critical, not a support warning."""
    data = sample("infobip_error_legacy_401.json")
    decision = Engine.default().evaluate(parse(data["payload"], http_status=401)[0], now=NOW)
    assert decision.escalate is not None
    assert "critical" == decision.escalate.severity


def test_http_status_wins_over_the_error_name() -> None:
    """A published 403 carries messageId UNAUTHORIZED: the response's status is the code."""
    data = sample("infobip_error_legacy_403.json")
    outcome = parse(data["payload"], http_status=403)[0]
    assert outcome.error is not None
    assert 403 == outcome.error.id


def test_error_code_and_name_place_a_body_without_status() -> None:
    """E429, and a name such as TOO_MANY_REQUESTS, say their status when the response's is not given."""
    assert 429 == parse_infobip_api_error({"errorCode": "E429"}).error.id  # type: ignore[union-attr]
    body = {"requestError": {"serviceException": {"messageId": "UNAUTHORIZED", "text": "Invalid login details"}}}
    assert 401 == parse_infobip_api_error(body).error.id  # type: ignore[union-attr]


def test_people_api_call_uses_the_people_table() -> None:
    """On a People API call (channel api) a People error name is that table's code."""
    body = {"requestError": {"serviceException": {"messageId": "IMPORT_ALREADY_IN_PROGRESS", "text": "busy"}}}
    outcome = parse_infobip_api_error(body, http_status=409, channel="api")
    assert outcome.error is not None
    assert (40901, "people") == (outcome.error.id, outcome.product)
    too_many = parse_infobip_api_error({"errorCode": "E429"}, channel="api")
    assert too_many.error is not None
    assert ("http", 429) == (too_many.error.kind, too_many.error.id)


def test_api_error_that_cannot_be_placed_is_an_error() -> None:
    """An unknown error name without an HTTP status cannot be decided: the message asks for the status."""
    with pytest.raises(PayloadError) as info:
        parse({"requestError": {"serviceException": {"messageId": "SOMETHING_ODD", "text": "?"}}})
    assert "$.requestError.serviceException.messageId" == info.value.path
    assert "http_status" in info.value.message


def test_retry_after_seconds_is_honoured_not_capped() -> None:
    """Retry-After: 7200 on a 429 waits the full two hours (the rule allows waits up to 24h)."""
    data = sample("infobip_error_legacy_429.json")
    outcome = parse(data["payload"], http_status=429, headers={"Retry-After": "7200"})[0]
    decision = Engine.default().evaluate(outcome, now=NOW)
    assert ("retry", NOW + timedelta(hours=2)) == (decision.verdict, decision.retry_at)
    assert "Retry-After" in decision.reason


def test_retry_after_http_date_is_read_against_now() -> None:
    """The HTTP-date form is an instant: the retry waits until it, whatever the clock at evaluation."""
    data = sample("infobip_error_legacy_429.json")
    outcome = parse(data["payload"], http_status=429, headers={"retry-after": "Tue, 24 Nov 2026 13:30:00 GMT"})[0]
    assert datetime(2026, 11, 24, 13, 30, tzinfo=UTC) == outcome.retry_not_before
    decision = Engine.default().evaluate(outcome, now=NOW)
    assert datetime(2026, 11, 24, 13, 30, tzinfo=UTC) == decision.retry_at


def test_retry_after_beyond_the_ceiling_goes_to_a_person() -> None:
    """A wait longer than the rule's max_delay is not retried early: the message is escalated, with the reason."""
    data = sample("infobip_error_legacy_429.json")
    outcome = parse(data["payload"], http_status=429, headers={"Retry-After": str(3 * 86400)})[0]
    decision = Engine.default().evaluate(outcome, now=NOW)
    assert ("escalate", None) == (decision.verdict, decision.retry_at)
    assert decision.escalate is not None
    assert "later than the rule allows waiting" in decision.reason


def test_people_error_names_match_the_catalog() -> None:
    """The adapter's People API name -> id table is exactly the catalog's People API table."""
    expected = {e.name: e.id for e in Catalog.load().filter(provider="infobip", kind="error", product="people")}
    assert expected == dict(PEOPLE_ERROR_CODES)


@pytest.mark.parametrize("body", [{}, None, "<html><body><h1>502 Bad Gateway</h1></body></html>"],
                         ids=["empty object", "null", "a gateway's HTML page"])
def test_a_failed_call_without_an_error_body_is_decided_by_its_status(body: object) -> None:
    """Gateways answer 5xx with an empty or HTML body: the HTTP status alone decides (retry with backoff), not an
    error record."""
    (item,) = read_record({"report": body, "http_status": 503, "provider": "infobip", "channel": "sms"}).items
    assert isinstance(item, Outcome)
    decision = Engine.default().evaluate(item, now=NOW)
    assert ("http", 503, "http.server-error", "retry") == (decision.code.kind, decision.code.id, decision.rule,
                                                          decision.verdict)


def test_a_bare_status_without_the_provider_says_what_to_add() -> None:
    """Without the provider nobody can tell whose HTTP table applies: one error that says to name it."""
    (item,) = read_record({"report": {}, "http_status": 503}).items
    assert isinstance(item, PayloadError)
    assert 'give provider "infobip" in the envelope' in item.message


def test_an_http_status_that_is_not_a_number_is_a_payload_error() -> None:
    """parse(..., http_status="429") says what is wrong instead of raising TypeError."""
    with pytest.raises(PayloadError, match="HTTP status as a whole number"):
        parse({"requestError": {"serviceException": {"messageId": "TOO_MANY_REQUESTS"}}}, http_status="429")  # type: ignore[arg-type]


def test_api_error_codes_are_shared_and_exact() -> None:
    """One CodeRef per HTTP status (and per People API name and permanence) serves every report of it: the same
    object each time, equal to the one built afresh, and a different status or permanence gets its own."""
    from dlrpolicy import CodeRef
    from dlrpolicy.adapters._infobip_api import parse_infobip_bare_status

    body = {"requestError": {"serviceException": {"messageId": "TOO_MANY_REQUESTS", "text": "slow down"}}}
    first = parse_infobip_api_error(body, http_status=429, channel="sms", headers={"Retry-After": "30"})
    again = parse_infobip_api_error(body, http_status=429, tenant="acme")
    assert first.error is again.error
    assert first.error == CodeRef(id=429, kind="http", permanent=False)
    assert first == Outcome(provider="infobip", channel="sms", channel_source="caller", error=first.error,
                            retry_after=timedelta(seconds=30))
    assert again == Outcome(provider="infobip", error=first.error, tenant="acme")
    assert parse_infobip_bare_status(429).error is first.error
    assert parse_infobip_api_error(body, http_status=400).error == CodeRef(id=400, kind="http", permanent=True)
    people = parse_infobip_api_error(body, channel="api")  # the name's own status: 429, not permanent
    assert people.error is parse_infobip_api_error(body, channel="api", http_status=429).error
    assert people == Outcome(provider="infobip", channel="api", channel_source="caller", product="people",
                             error=CodeRef(id=42901, name="TOO_MANY_REQUESTS", permanent=False))
    assert parse_infobip_api_error(body, channel="api", http_status=400).error == CodeRef(
        id=42901, name="TOO_MANY_REQUESTS", permanent=True)
