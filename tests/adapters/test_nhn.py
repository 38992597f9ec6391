"""NHN KakaoTalk Bizmessage adapters: send responses, result queries, polling, webhooks, bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dlrpolicy import Engine, PayloadError, Skipped, parse, parse_nhn, parse_nhn_result, verify_nhn_signature
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
    """The KakaoTalk result stays the code; resendStatus says what NHN's own SMS fallback did."""
    outcomes = parse(load("nhn_message_results.json"))
    assert [(3022, "kakao", "none"), (3019, "kakao", "delivered"), (3018, "kakao", "pending")] == [
        (o.status.id if o.status else None, o.channel, o.resend.state if o.resend else None) for o in outcomes
    ]


def test_resend_states_decide() -> None:
    """RSC04: done (the SMS went out), KakaoTalk suppression kept; RSC03: wait for NHN's own resend, no SMS of ours."""
    engine = Engine.default()
    decisions = [engine.evaluate(o, now=NOW) for o in parse(load("nhn_message_results.json"))]
    delivered, resending = decisions[1], decisions[2]
    assert ("done", None, "recipient_channel") == (delivered.verdict, delivered.channel,
                                                   delivered.suppress.scope if delivered.suppress else None)
    assert "RSC04" in delivered.reason
    # A resend NHN makes itself is looked at again ([defaults] resend_check, 15m): its result may never come.
    assert ("wait", None, None, NOW + timedelta(minutes=15)) == (resending.verdict, resending.channel,
                                                                resending.retry_at, resending.check_at)
    assert "resends the message by sms itself" in resending.reason


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
        ({"header": {"resultCode": 0}, "messages": {"a": 1}}, "$.messages"),
        ({"header": {"resultCode": 0}, "messages": [[1]]}, "$.messages[0]"),
        ({"header": {"resultCode": 0}, "messages": [{"resultCode": "1000", "resendStatus": "RSC09"}]},
         "$.messages[0].resendStatus"),
        ({"header": {"resultCode": 0}, "messages": [{"messageStatus": "FAILED"}]}, "$.messages[0].resultCode"),
        ({"header": "ok", "messages": []}, "$.header"),
        ({"header": {"resultCode": 0}, "message": {"requestId": "r", "sendResults": []}}, "$.message.sendResults"),
        ({"header": {"resultCode": 0}, "message": {"requestId": "r", "sendResults": [{"resultCode": "x"}]}},
         "$.message.sendResults[0].resultCode"),
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


def _query(**message: object) -> dict[str, object]:
    """A single-message query answer (GET .../messages/{requestId}/{recipientSeq}), shaped after NHN's guide."""
    row: dict[str, object] = {"requestId": "20261124100000abcdefghij0", "recipientSeq": 2, "recipientNo": "01012345678",
                              "requestDate": "2026-11-24 19:00:00", "createDate": "2026-11-24 19:00:00",
                              "receiveDate": "2026-11-24 19:00:05", "senderKey": "sk-1", "templateCode": "ORDER_1",
                              "messageStatus": "FAILED", "resendStatus": "RSC01", "resultCode": "3018"}
    row.update(message)
    return {"header": {"resultCode": 0, "resultMessage": "SUCCESS", "isSuccessful": True}, "message": row}


def test_single_message_query_decides_the_message_result() -> None:
    """header + message is the single query: the message's resultCode decides (not the header's 0)."""
    outcome = parse(_query())[0]
    assert outcome.status is not None
    assert (3018, None, "20261124100000abcdefghij0:2") == (outcome.status.id, outcome.error, outcome.message_id)
    assert "kakao.user-cannot-receive-sms-fallback" == Engine.default().evaluate(outcome, now=NOW).rule


def test_rsc05_never_falls_back_to_sms_again() -> None:
    """The SMS fallback already failed: the rule's SMS fallback counts as tried and the rule gives up."""
    outcome = parse(_query(resendStatus="RSC05", resendResultCode="MTR2", resendRequestId="r2"))[0]
    assert outcome.resend is not None
    assert ("failed", "MTR2", "r2") == (outcome.resend.state, outcome.resend.result_code, outcome.resend.request_id)
    decision = Engine.default().evaluate(outcome, now=NOW)
    assert (None, None) == (decision.channel, decision.retry_at)
    assert "already tried" in decision.reason
    assert "MTR2" in decision.reason


def test_rsc02_target_of_nhn_resend_waits() -> None:
    """RSC02: NHN resends by SMS itself when KakaoTalk fails; the policy must not also send an SMS."""
    decision = Engine.default().evaluate(parse(_query(resendStatus="RSC02"))[0], now=NOW)
    assert ("wait", None) == (decision.verdict, decision.channel)


def test_cancelled_message_is_an_event_not_an_error() -> None:
    """messageStatus CANCEL without a resultCode is a cancelled message: done, no error record."""
    outcome = parse(_query(messageStatus="CANCEL", resultCode=None, resendStatus=None))[0]
    decision = Engine.default().evaluate(outcome, now=NOW)
    assert ("cancelled", "done", "defaults.cancelled") == (outcome.event, decision.verdict, decision.rule)


def test_webhook_documented_fields() -> None:
    """Hooks carry kakaoMessageType, receiveDate and createDate; the body's appKey is the account."""
    outcomes = parse(load("nhn_webhook_result_update.json"))
    first = outcomes[0]
    assert ("ALIMTALK_NORMAL", "acmeAppKey0001") == (first.message_type, first.account)
    assert datetime(2026, 11, 24, 10, 30, 2, tzinfo=UTC) == first.done_at


def test_friendtalk_retry_stays_inside_its_send_window() -> None:
    """A FriendTalk message's retry (any code) lands inside 08:00-20:50 KST; AlimTalk's does not need to."""
    row = {"kakaoMessageType": "FRIENDTALK_NORMAL", "requestId": "r", "recipientSeq": 1, "resultCode": "3012",
           "recipientNo": "01012345678"}
    late = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)  # 21:30 KST
    engine = Engine.default()
    friendtalk = engine.evaluate(parse({"hooks": [row]})[0], now=late)
    alimtalk = engine.evaluate(parse({"hooks": [{**row, "kakaoMessageType": "ALIMTALK_NORMAL"}]})[0], now=late)
    assert datetime(2026, 11, 24, 23, 0, tzinfo=UTC) == friendtalk.retry_at  # 08:00 KST next morning
    assert "kakao_friendtalk" in friendtalk.reason
    assert alimtalk.retry_at is not None
    assert alimtalk.retry_at < datetime(2026, 11, 24, 23, 0, tzinfo=UTC)


def test_template_status_hooks_and_empty_lists_are_skipped() -> None:
    """A template status webhook and an empty result list carry nothing to decide: skipped, not errors."""
    template = {"hooksId": "h", "event": None, "hooks": [{"templateCode": "T1", "status": "TSC03"}]}
    assert [True] == [isinstance(i, Skipped) for i in adapt(template)]
    assert [True] == [isinstance(i, Skipped) for i in adapt({"header": OK, "messages": []})]
    assert [True] == [isinstance(i, Skipped) for i in adapt({"event": "TEMPLATE_UPDATE", "hooks": []})]


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        ({"X-Toast-Webhook-Signature": "s3cret"}, True),
        ({"x-toast-webhook-signature": "s3cret"}, True),
        ("s3cret", True),
        ({"X-Toast-Webhook-Signature": "s3cre"}, False),
        ({"X-Toast-Webhook-Signature": "S3CRET"}, False),
        ({}, False),
        (None, False),
        ({"X-Toast-Webhook-Signature": 5}, False),
    ],
)
def test_verify_nhn_signature(received: object, expected: bool) -> None:
    """The configured signature must be present and equal; the header is matched in any letter case."""
    assert expected == verify_nhn_signature(received, "s3cret")  # type: ignore[arg-type]


def test_verify_nhn_signature_refuses_an_empty_secret() -> None:
    """With no configured signature nothing verifies (a misconfigured receiver rejects everything)."""
    assert not verify_nhn_signature({"X-Toast-Webhook-Signature": ""}, "")


@pytest.mark.parametrize(("received", "configured", "expected"), [
    ("s3cret\udcff", "s3cret", False), ("s3cret", "s3cret\udcff", False), ("s3cret\udcff", "s3cret\udcff", True),
])
def test_verify_nhn_signature_with_bytes_that_are_not_utf8(received: str, configured: str, expected: bool) -> None:
    """A header or configured secret holding a byte that is not UTF-8 (a lone surrogate, as surrogateescape reads
    it) is compared like any other text, not a UnicodeEncodeError in the receiver."""
    assert expected == verify_nhn_signature(received, configured)


def test_a_callers_channel_does_not_override_kakaotalk() -> None:
    """NHN KakaoTalk Bizmessage reports are KakaoTalk by what they are: a caller's `--channel sms` (a mixed run)
    must not turn a 3019 hook into an SMS suppression for the one person only SMS reaches."""
    hook = load("nhn_webhook_result_update.json")
    plain = [(o.channel, o.channel_source) for o in parse(hook)]
    forced = parse(hook, channel="sms")
    assert plain == [(o.channel, o.channel_source) for o in forced] == [("kakao", "report")] * 2
    decision = Engine.default().evaluate(forced[1], now=NOW)
    assert ("retry", "sms", "kakao:01098765432") == (decision.verdict, decision.channel,
                                                      decision.suppress.key if decision.suppress else None)


def test_a_delivered_message_says_nothing_about_a_resend() -> None:
    """1000 (delivered) with RSC02 (a resend target): done, and the reason does not tell anyone to wait."""
    row = {"requestId": "r-1", "recipientSeq": 1, "recipientNo": "01012345678", "requestDate": "2026-11-24 18:55:00.0",
           "resultCode": "1000", "messageStatus": "COMPLETED", "resendStatus": "RSC02"}
    (outcome,) = parse({"header": {"resultCode": 0, "resultMessage": "success", "isSuccessful": True}, "message": row})
    decision = Engine.default().evaluate(outcome, now=NOW)
    assert ("done", None) == (decision.verdict, decision.check_at)
    assert "resend" not in decision.reason


def test_a_tenant_whose_nhn_resend_is_on_waits_for_it_instead_of_sending_sms(tmp_path: Path) -> None:
    """Webhooks carry no resendStatus: a tenant that turned NHN's SMS resend on says so ([defaults]
    provider_resends = true), and a 3019 hook then waits for NHN's SMS instead of sending a second one; the
    KakaoTalk suppression still applies.  Without the setting the default sends the SMS."""
    (tmp_path / "shop.toml").write_text("[defaults]\nprovider_resends = true\n", encoding="utf-8")
    outcome = parse(load("nhn_webhook_result_update.json"))[1]
    shop = Engine.default(policy_dir=tmp_path).for_tenant("shop").evaluate(outcome, now=NOW)
    plain = Engine.default().evaluate(outcome, now=NOW)
    assert ("wait", None, NOW + timedelta(minutes=15), "recipient_channel") == (
        shop.verdict, shop.channel, shop.check_at, shop.suppress.scope if shop.suppress else None)
    assert "provider_resends" in shop.reason
    assert ("retry", "sms") == (plain.verdict, plain.channel)


def test_kst_times_are_read_once_per_text_and_stay_exact() -> None:
    """The parsed-time cache: a repeated text gives the very same datetime (KST when it has no offset, its own
    offset when it has one), it stays bounded, and what it cannot parse is still an error naming the field."""
    from dlrpolicy.adapters import _nhn
    from dlrpolicy.adapters._timestamps import KST

    _nhn._KST_TIMES.clear()
    first = _nhn._kst("2026-11-24 19:30:00.0", "$", "requestDate")
    assert first == datetime(2026, 11, 24, 19, 30, tzinfo=KST)
    assert first is not None
    assert first.tzinfo is KST
    assert _nhn._kst("2026-11-24 19:30:00.0", "$", "receiveDate") is first
    with_offset = _nhn._kst("2026-11-24 19:30:00.0+00:00", "$", "requestDate")
    assert with_offset == datetime(2026, 11, 24, 19, 30, tzinfo=UTC)
    assert _nhn._kst("2026-11-24 19:30:00.0", "$", "requestDate") is first  # the other text did not replace it
    for second in range(_nhn._KST_TIMES_MAX + 10):
        text = f"2026-11-24 {second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
        assert _nhn._kst(text, "$", "requestDate") == datetime.fromisoformat(text).replace(tzinfo=KST)
        assert len(_nhn._KST_TIMES) <= _nhn._KST_TIMES_MAX
    with pytest.raises(PayloadError, match=r"\$\.hooks\[0\]\.requestDate"):
        _nhn._kst("yesterday", "$.hooks[0]", "requestDate")
    assert "yesterday" not in _nhn._KST_TIMES
    assert _nhn._kst("", "$", "requestDate") is None
    assert _nhn._kst(None, "$", "requestDate") is None
