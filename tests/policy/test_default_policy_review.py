"""The deliverability review of the default policy (issue 12): each engine rule and each disputed code, through a
real-shaped payload (Infobip report and API-error bodies as in tests/adapters/samples/, NHN Cloud bodies as in
TOAST-DOCS/Alimtalk), asserting verdict, timing, scope and route."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dlrpolicy import Decision, Engine, History, parse

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
UNDELIVERABLE = (9, 2, "UNDELIVERABLE", "UNDELIVERABLE_NOT_DELIVERED")


def infobip(error: tuple[int, int, str, str, bool] | None, status: tuple[int, int, str, str] = UNDELIVERABLE,
            **fields: object) -> dict[str, Any]:
    """An Infobip delivery-report webhook body (SMS v3 shape) with one result."""
    result: dict[str, Any] = {
        "bulkId": "bulk-1", "messageId": "msg-1", "to": "14155550100", "sender": "InfoSMS",
        "sentAt": "2026-11-24T09:55:00.000+0000", "doneAt": "2026-11-24T09:58:00.000+0000", "messageCount": 1,
        "status": dict(zip(("id", "groupId", "groupName", "name"), status, strict=True)),
    }
    if error is not None:
        result["error"] = dict(zip(("id", "groupId", "groupName", "name", "permanent"), error, strict=True))
    result.update(fields)
    return {"results": [result]}


def nhn_api(code: int, **row: object) -> dict[str, Any]:
    """An NHN AlimTalk send response whose one recipient got API result ``code``."""
    return {"header": {"resultCode": 0, "resultMessage": "SUCCESS", "isSuccessful": True},
            "message": {"requestId": "20261124190000abcdefghij0", "senderGroupingKey": None, "sendResults": [
                {"recipientSeq": 1, "recipientNo": "01012345678", "resultCode": code, "resultMessage": "x", **row}]}}


def nhn_hook(code: str, **row: object) -> dict[str, Any]:
    """An NHN MESSAGE_RESULT_UPDATE webhook body with one hook."""
    hook = {"kakaoMessageType": "ALIMTALK_NORMAL", "requestId": "20261124190000abcdefghij0", "recipientSeq": 1,
            "requestDate": "2026-11-24 18:55:00", "createDate": "2026-11-24 18:55:00",
            "receiveDate": "2026-11-24 18:55:04", "recipientNo": "01012345678", "resultCode": code, **row}
    return {"hooksId": "h-1", "webhookConfigId": "wc-1", "productName": "KakaoTalk Bizmessage", "appKey": "app-1",
            "event": "MESSAGE_RESULT_UPDATE", "hooks": [hook]}


def decide(payload: dict[str, Any], *, now: datetime = NOW, history: History | None = None,
           **parse_args: Any) -> Decision:
    """The default policy's decision for the payload's only outcome."""
    (outcome,) = parse(payload, **parse_args)
    return Engine.default().evaluate(outcome, now=now, history=history)


def route(decision: Decision) -> str | None:
    """The escalation route, or None."""
    return None if decision.escalate is None else decision.escalate.route


def scope(decision: Decision) -> tuple[str | None, str | None, datetime | None] | None:
    """(scope, key, until) of the suppression, or None."""
    s = decision.suppress
    return None if s is None else (s.scope, s.key, s.until)


# --- engine rules ----------------------------------------------------------------------------------------------


def test_rule1_delivered_status_with_error_27_is_not_resent() -> None:
    """DELIVERED (group 3) with EC_ABSENT_SUBSCRIBER is done: a resend would be paid twice."""
    decision = decide(infobip((27, 1, "HANDSET_ERRORS", "EC_ABSENT_SUBSCRIBER", False),
                              status=(5, 3, "DELIVERED", "DELIVERED_TO_HANDSET")))
    assert ("done", None, "infobip.delivered") == (decision.verdict, decision.retry_at, decision.rule)


@pytest.mark.parametrize("status_id", [3, 7, 26])
@pytest.mark.parametrize("error", [(27, "EC_ABSENT_SUBSCRIBER"), (6, "EC_ABSENT_SUBSCRIBER_SM"),
                                   (32, "EC_SM_DF_MEMORYCAPACITYEXCEEDED")])
def test_rule1_pending_with_an_error_waits(status_id: int, error: tuple[int, str]) -> None:
    """PENDING (3, 7, 26) with error 27/6/32 waits for the operator's report; the reason names the error."""
    decision = decide(infobip((error[0], 1, "HANDSET_ERRORS", error[1], False),
                              status=(status_id, 1, "PENDING", "PENDING_WAITING_DELIVERY")))
    assert ("wait", "status.pending", None) == (decision.verdict, decision.rule, decision.retry_at)
    assert f"error {error[0]} {error[1]}" in decision.reason


def test_rule2_581_stops_after_attempt_8_without_first_attempt() -> None:
    """Every 24h for 7 days is 8 attempts; without the first attempt's time attempt 9 is never scheduled."""
    payload = infobip((581, 1, "HANDSET_ERRORS", "EC_USER_OUT_OF_CREDIT", False))
    eighth = decide(payload, history=History(attempts=7))
    ninth = decide(payload, history=History(attempts=8))
    assert ("retry", NOW + timedelta(hours=24)) == (eighth.verdict, eighth.retry_at)
    assert ("suppress", None) == (ninth.verdict, ninth.retry_at)
    assert "allow 8 attempts" in ninth.reason


def test_rule2_581_with_a_proven_first_attempt_uses_the_deadline() -> None:
    """With the first attempt known, the real 7-day deadline decides (day 6 still retries)."""
    payload = infobip((581, 1, "HANDSET_ERRORS", "EC_USER_OUT_OF_CREDIT", False))
    decision = decide(payload, history=History(attempts=9, first_attempt_at=NOW - timedelta(days=5)))
    assert ("retry", NOW + timedelta(days=2)) == (decision.verdict, decision.give_up_at)


def test_rule3_retry_after_7200_is_waited_for() -> None:
    """Retry-After: 7200 on an SMS send's 429 retries two hours later, never earlier."""
    body = {"requestError": {"serviceException": {"messageId": "TOO_MANY_REQUESTS", "text": "Too many requests"}}}
    decision = decide(body, http_status=429, headers={"Retry-After": "7200"}, channel="sms")
    assert ("retry", NOW + timedelta(hours=2), "http.rate-limited") == (decision.verdict, decision.retry_at,
                                                                         decision.rule)


def test_rule3_retry_after_http_date() -> None:
    """The HTTP-date form is honoured against now (not an error record)."""
    body = {"requestError": {"serviceException": {"messageId": "TOO_MANY_REQUESTS", "text": "Too many requests"}}}
    decision = decide(body, http_status=429, headers={"Retry-After": "Tue, 24 Nov 2026 11:30:00 GMT"})
    assert datetime(2026, 11, 24, 11, 30, tzinfo=UTC) == decision.retry_at


def test_rule4_status_87_without_group_has_one_answer() -> None:
    """87 SIGNALS_BLOCKED in groups 4 and 5 shares one rule: a report without the group is decided by it."""
    payload = infobip(None, status=(87, 0, "", "SIGNALS_BLOCKED"))
    del payload["results"][0]["status"]["groupId"]
    decision = decide(payload, channel="sms")
    assert ("escalate", "status.signals-fraud-block", False, "compliance") == (
        decision.verdict, decision.rule, decision.code.unknown, route(decision))


def test_rule4_error_4102_without_group_has_one_answer() -> None:
    """4102 EC_NOTSUBMITTEDTOSMPPCHANNEL (groups 2 and 3) is decided by its one rule without a group."""
    payload = infobip((4102, 0, "", "EC_NOTSUBMITTEDTOSMPPCHANNEL", True))
    del payload["results"][0]["error"]["groupId"]
    decision = decide(payload)
    assert ("retry", "sms.smpp-not-bound", NOW + timedelta(minutes=15)) == (decision.verdict, decision.rule,
                                                                            decision.retry_at)


def test_rule5_voice_status_87_group_4_is_the_general_entry() -> None:
    """A voice report's 87 group 4 SIGNALS_BLOCKED contradicts the voice table's 87: the general entry decides."""
    payload = infobip(None, status=(87, 4, "EXPIRED", "SIGNALS_BLOCKED"))
    decision = decide(payload, channel="voice")
    assert ("general", 4, "status.signals-fraud-block") == (decision.code.product, decision.code.group_id,
                                                            decision.rule)


def test_rule6_email_sender_domain_from_the_envelope_address() -> None:
    """The envelope's sender wins and is parsed: "Shop <news@Shop.Example>" blocks the domain shop.example."""
    from dlrpolicy import read_envelope
    from dlrpolicy.adapters._parse import adapt

    report = {"results": [{"messageId": "e-1", "to": "jane@example.org", "channel": "EMAIL",
                           "status": {"groupId": 2, "id": 9, "name": "UNDELIVERABLE_NOT_DELIVERED"},
                           "error": {"groupId": 1, "id": 6016, "name": "EC_SENDER_DOMAIN_BOUNCE_BLOCKED",
                                     "permanent": True}}]}
    envelope = read_envelope({"report": report, "sender": "Shop <news@Shop.Example>"})
    (outcome,) = envelope.apply(adapt(envelope.report, root=envelope.root))
    decision = Engine.default().evaluate(outcome, now=NOW)  # type: ignore[arg-type]
    assert ("retry", NOW + timedelta(hours=24)) == (decision.verdict, decision.retry_at)
    assert ("sender_domain", "shop.example", NOW + timedelta(hours=24)) == scope(decision)
    assert "deliverability" == route(decision)


def test_rule6_missing_key_is_labelled_and_escalated() -> None:
    """An e-mail report without any sender cannot name the domain: key null, said in the reason, a person asked."""
    report = {"results": [{"messageId": "e-1", "to": "jane@example.org", "channel": "EMAIL",
                           "status": {"groupId": 2, "id": 9}, "error": {"groupId": 1, "id": 6023, "permanent": True}}]}
    decision = decide(report)
    assert ("sender_domain", None, None) == scope(decision)
    assert "is not known" in decision.reason
    assert decision.escalate is not None


def test_rule6_account_key_is_the_tenant() -> None:
    """An account suppression names the tenant; without one it is labelled and a person is asked."""
    body = {"requestError": {"serviceException": {"messageId": "UNAUTHORIZED", "text": "Invalid login details"}}}
    (outcome,) = parse(body, http_status=401)
    engine = Engine.default()
    import attrs

    with_tenant = engine.evaluate(attrs.evolve(outcome, tenant="bank"), now=NOW)
    without = engine.evaluate(outcome, now=NOW)
    assert ("account", "bank", None) == scope(with_tenant)
    assert ("account", None, None) == scope(without)
    assert "give it in the envelope (tenant)" in without.reason


# --- disputed codes ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "rule", "deadline"),
    [
        (infobip((541, 2, "USER_ERRORS", "EC_LIMIT_REACHED", False)), "sms.carrier-throughput-limit", 48),
        (infobip((7017, 1, "USER_ERRORS", "EC_TOO_MANY_REQUESTS", False), channel="WHATSAPP"), "chat.rate-limited",
         48),
        (infobip((6057, 1, "DROPPED", "EC_SAFETY_RATE_LIMIT", False), channel="EMAIL", to="a@example.org"),
         "email.rate-limited", 72),
        (infobip((6058, 1, "DROPPED", "EC_MAILBOX_PROVIDER_RATE_LIMIT", False), channel="EMAIL",
                 to="a@example.org"), "email.rate-limited", 72),
    ],
)
def test_rate_limits_back_off_to_the_deadline_then_escalate(payload: dict[str, Any], rule: str,
                                                             deadline: int) -> None:
    """Rate limits never end in a silent suppress after minutes: they back off to the deadline, then a person."""
    early = decide(payload, history=History(attempts=5, first_attempt_at=NOW - timedelta(hours=1)))
    late = decide(payload, history=History(attempts=40, first_attempt_at=NOW - timedelta(hours=deadline) +
                                           timedelta(minutes=1)))
    assert ("retry", rule) == (early.verdict, early.rule)
    assert ("escalate", "support") == (late.verdict, route(late))


@pytest.mark.parametrize(("messageid", "code", "rule"), [
    ("TOO_MANY_REQUESTS", 42901, "people.rate-limited"),
    ("IMPORT_ALREADY_IN_PROGRESS", 40901, "people.conflict"),
    ("OPTIMISTIC_LOCK", 40902, "people.conflict"),
])
def test_people_rate_limit_and_conflicts_wait_for_hours_not_minutes(messageid: str, code: int, rule: str) -> None:
    """People 429 and 409 conflicts keep retrying within 48h (a merge still running), then a person decides."""
    body = {"requestError": {"serviceException": {"messageId": messageid, "text": "x"}}}
    early = decide(body, channel="api", http_status=409 if code != 42901 else 429,
                   history=History(attempts=6, first_attempt_at=NOW - timedelta(minutes=10)))
    late = decide(body, channel="api", http_status=409 if code != 42901 else 429,
                  history=History(attempts=30, first_attempt_at=NOW - timedelta(hours=47, minutes=59)))
    assert ("retry", rule, code) == (early.verdict, early.rule, early.code.id)
    assert "escalate" == late.verdict


def test_345_holds_for_provisioning_and_pauses_the_number() -> None:
    """345 may be our own source address: escalate to provisioning and pause SMS to the number for 7 days only."""
    decision = decide(infobip((345, 2, "USER_ERRORS", "EC_OPERATOR_NOT_FOUND", True)), channel="sms")
    assert ("escalate", "provisioning", ("recipient_channel", "sms:14155550100", NOW + timedelta(days=7))) == (
        decision.verdict, route(decision), scope(decision))


def test_6045_is_escalated_to_deliverability_not_a_recipient_block() -> None:
    """6045: our mail failed the recipient organisation's policy; the person is not blocked."""
    decision = decide(infobip((6045, 2, "BOUNCED", "EC_RECIPIENT_DOMAIN_POLICY_ERROR", True), channel="EMAIL",
                              to="jane@corp.example"))
    assert ("escalate", "deliverability", None) == (decision.verdict, route(decision), scope(decision))


def test_nhn_3301_opt_out_is_scoped_to_the_sender() -> None:
    """-3301 (080 opt-out) blocks this sender's KakaoTalk advertising to the recipient, not the recipient everywhere."""
    from dlrpolicy import read_envelope
    from dlrpolicy.adapters._parse import adapt

    envelope = read_envelope({"report": nhn_api(-3301), "sender": "@acme-shop"})
    (outcome,) = envelope.apply(adapt(envelope.report, root=envelope.root))
    decision = Engine.default().evaluate(outcome, now=NOW)  # type: ignore[arg-type]
    assert ("suppress", None, None, ("recipient_sender_advertising", "kakao:@acme-shop:01012345678", None)) == (
        decision.verdict, decision.retry_at, route(decision), scope(decision))


@pytest.mark.parametrize(("code", "name", "expected"), [
    (4137, "EC_PREFERENCE_NOT_MATCHED", ("suppress", "compliance", ("recipient_channel_advertising",
                                                                    "sms:14155550100", NOW + timedelta(days=30)))),
    (4139, "EC_SE_CATEGORY_BLOCK", ("escalate", "compliance", None)),
    (4140, "EC_CONSENT_FAILED", ("escalate", "compliance", None)),
])
def test_dlt_consent_codes_are_narrow_and_escalated(code: int, name: str, expected: tuple[object, ...]) -> None:
    """DLT 4137/4139/4140 no longer block the recipient on every channel for ever (OTPs would be lost)."""
    decision = Engine.default().evaluate(_dlt(code, name), now=NOW)
    assert expected == (decision.verdict, route(decision), scope(decision))


def _dlt(code: int, name: str) -> Any:
    """An Indian SMS report whose error is in the DLT table (the caller says the product)."""
    import attrs

    (outcome,) = parse(infobip((code, 0, "", name, True)), channel="sms")
    return attrs.evolve(outcome, product="dlt")


@pytest.mark.parametrize("code", [-3010, -3011, -3042, -3043, -3046])
def test_nhn_template_mismatch_does_not_send_its_own_sms(code: int) -> None:
    """NHN may resend these by SMS itself: the default holds the message for content; no second SMS."""
    decision = decide(nhn_api(code))
    assert ("escalate", None, "content", "kakao.api-template-mismatch") == (
        decision.verdict, decision.channel, route(decision), decision.rule)


def test_nhn_template_mismatch_sms_fallback_is_a_tenant_choice(tmp_path: Any) -> None:
    """A tenant with NHN's resend off patches the rule back to an SMS fallback."""
    (tmp_path / "shop.toml").write_text('[[patch]]\nid = "kakao.api-template-mismatch"\nverdict = "retry"\n'
                                        'channel = "sms"\n', encoding="utf-8")
    engine = Engine.default(policy_dir=tmp_path).for_tenant("shop")
    (outcome,) = parse(nhn_api(-3010))
    decision = engine.evaluate(outcome, now=NOW)
    assert ("retry", "sms", NOW) == (decision.verdict, decision.channel, decision.retry_at)


def test_nhn_2501_deadline_expired_goes_to_support() -> None:
    """-2501: the send failed because its deadline expired; not done, support looks."""
    decision = decide(nhn_api(-2501))
    assert ("escalate", "support", "kakao.api-deadline-expired") == (decision.verdict, route(decision), decision.rule)


def test_nhn_1002_sms_app_key_does_not_block_the_account() -> None:
    """-1002 (SMS app key, used only for resends): provisioning, and no account-wide suppression."""
    decision = decide(nhn_api(-1002))
    assert ("escalate", "provisioning", None) == (decision.verdict, route(decision), scope(decision))


def test_kakao_3020_offers_the_sms_fallback() -> None:
    """3020 (KakaoTalk notices refused): KakaoTalk blocked for them, this message goes by SMS (judgment)."""
    decision = decide(nhn_hook("3020"))
    assert ("retry", "sms", ("recipient_channel", "kakao:01012345678", None)) == (
        decision.verdict, decision.channel, scope(decision))


def test_whatsapp_7002_offers_the_sms_fallback() -> None:
    """7002 (unknown WhatsApp user): skip WhatsApp for 30 days, send by SMS (judgment)."""
    decision = decide(infobip((7002, 1, "USER_ERRORS", "EC_UNKNOWN_USER", True), channel="WHATSAPP"))
    assert ("retry", "sms", ("recipient_channel", "whatsapp:14155550100", NOW + timedelta(days=30))) == (
        decision.verdict, decision.channel, scope(decision))


@pytest.mark.parametrize("payload", [nhn_hook("3036"), nhn_hook("3038"), nhn_api(-3043)],
                         ids=["3036 item list", "3038 item summary", "-3043 templateItem"])
def test_kakao_item_list_and_summary_mismatch_are_alike(payload: dict[str, Any]) -> None:
    """3036 (item list), 3038 (item summary) and -3043 (templateItem) are one problem: the message does not match
    its template.  Decided alike: content fixes the template, and no SMS of our own (NHN resends by SMS itself
    when the app's resend setting is on)."""
    decision = decide(payload)
    assert ("escalate", None, None, "content", "warning", None) == (
        decision.verdict, decision.retry_at, decision.channel, route(decision),
        decision.escalate.severity if decision.escalate else None, scope(decision))


def test_kakao_template_mismatch_with_nhn_resend_done_is_done() -> None:
    """A query row of 3036 whose SMS resend succeeded (RSC04): done, nothing more to send; content still told."""
    row = {"requestId": "20261124190000abcdefghij0", "recipientSeq": 1, "recipientNo": "01012345678",
           "requestDate": "2026-11-24 18:55:00.0", "resultCode": "3036", "messageStatus": "FAILED",
           "resendStatus": "RSC04", "resendResultCode": "0"}
    payload = {"header": {"resultCode": 0, "resultMessage": "success", "isSuccessful": True}, "message": row}
    decision = decide(payload)
    assert ("done", None, "content") == (decision.verdict, decision.retry_at, route(decision))
    assert "RSC04" in decision.reason


def test_status_29_tells_support() -> None:
    """29 EXPIRED_DLR_UNKNOWN: no blind resend (it may have arrived), and support is told (info)."""
    decision = decide(infobip(None, status=(29, 4, "EXPIRED", "EXPIRED_DLR_UNKNOWN")))
    assert ("suppress", "support", "info") == (decision.verdict, route(decision),
                                               decision.escalate.severity if decision.escalate else None)


def test_status_8_pauses_the_number_for_a_week() -> None:
    """8 REJECTED_PREFIX_MISSING: prefix data is updated regularly, so the block lasts 7 days."""
    decision = decide(infobip(None, status=(8, 5, "REJECTED", "REJECTED_PREFIX_MISSING")))
    assert ("suppress", ("recipient", "14155550100", NOW + timedelta(days=7))) == (decision.verdict,
                                                                                   scope(decision))


def test_error_5_is_not_retried() -> None:
    """5 EC_UNIDENTIFIED_SUBSCRIBER: invalid or unregistered number; fix the data, no retries."""
    decision = decide(infobip((5, 1, "HANDSET_ERRORS", "EC_UNIDENTIFIED_SUBSCRIBER", False)))
    assert ("suppress", None, ("recipient", "14155550100", None)) == (decision.verdict, decision.retry_at,
                                                                      scope(decision))


def test_4104_waits_out_the_window_once_then_escalates() -> None:
    """4104 (same text too often): one retry after the hour, then a person, never hourly resends for ever."""
    payload = infobip((4104, 2, "USER_ERRORS", "EC_DESTINATION_TXT_FLOODING", True))
    first = decide(payload)
    second = decide(payload, history=History(attempts=2, first_attempt_at=NOW - timedelta(hours=1)))
    assert ("retry", NOW + timedelta(hours=1)) == (first.verdict, first.retry_at)
    assert "escalate" == second.verdict


def test_564_short_code_blocked_suppresses_the_sender() -> None:
    """564 (short code blocked by the operator) blocks the sender, as 2053 does."""
    decision = decide(infobip((564, 2, "USER_ERRORS", "EC_SC_BLOCKED", True)))
    assert ("escalate", "provisioning", ("sender", "InfoSMS", None)) == (decision.verdict, route(decision),
                                                                         scope(decision))


@pytest.mark.parametrize(("payload", "rule"), [
    (infobip((7050, 1, "USER_ERRORS", "EC_PROVIDER_INTERNAL_ERROR", False), channel="WHATSAPP"),
     "chat.provider-internal-error"),
    (infobip((8009, 3, "OPERATOR_ERRORS", "EC_PUSH_INTERNAL_REQUEST_ERROR", True), channel="PUSH"),
     "push.internal-error"),
    (infobip((8011, 3, "OPERATOR_ERRORS", "EC_PUSH_INTERNAL_GW_ERROR", True), channel="PUSH"), "push.internal-error"),
])
def test_provider_internal_errors_back_off_for_hours(payload: dict[str, Any], rule: str) -> None:
    """7050, 8009, 8011 ("try again after a while"): the first wait is minutes, the fourth already hours."""
    first = decide(payload)
    fourth = decide(payload, history=History(attempts=4, first_attempt_at=NOW - timedelta(hours=2)))
    assert rule == first.rule
    assert first.retry_at is not None
    assert fourth.retry_at is not None
    assert NOW + timedelta(minutes=12) <= first.retry_at <= NOW + timedelta(minutes=18)
    assert fourth.retry_at - NOW >= timedelta(hours=1, minutes=36)


def test_kakao_provider_error_reason_does_not_claim_document_advice() -> None:
    """2001/3000/3006/3010/9998/9999 keep the SMS fallback, with a reason that says it is judgment."""
    decision = decide(nhn_hook("3006"))
    assert ("retry", "sms") == (decision.verdict, decision.channel)
    assert "no advice" in decision.reason
    assert "judgment" in decision.reason


def test_http_401_pages_credentials_at_critical() -> None:
    """An Infobip 401 goes to credentials at critical and holds the account's sends."""
    body = {"requestError": {"serviceException": {"messageId": "UNAUTHORIZED", "text": "Invalid login details"}}}
    decision = decide(body, http_status=401, channel="sms")
    assert ("escalate", "credentials", "critical", "account") == (
        decision.verdict, route(decision), decision.escalate.severity if decision.escalate else None,
        decision.suppress.scope if decision.suppress else None)
