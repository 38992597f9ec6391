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


def nhn_query(code: str, **row: object) -> dict[str, Any]:
    """An NHN single-message query answer (``header`` + ``message``) whose message failed with result ``code``."""
    message = {"requestId": "20261124190000abcdefghij0", "recipientSeq": 1, "recipientNo": "01012345678",
               "requestDate": "2026-11-24 18:55:00.0", "resultCode": code, "messageStatus": "FAILED", **row}
    return {"header": {"resultCode": 0, "resultMessage": "success", "isSuccessful": True}, "message": message}


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


Facts = tuple[str, datetime | None, tuple[str | None, str | None, datetime | None] | None, str | None]


def facts(decision: Decision) -> Facts:
    """What every review test asserts: (verdict, timing (retry_at, else check_at), suppression, escalation route)."""
    return decision.verdict, decision.retry_at or decision.check_at, scope(decision), route(decision)


def enveloped(envelope: dict[str, Any]) -> Any:
    """The one outcome of an envelope (``{"report": ..., "sender": ...}``), read as `dlrpolicy evaluate` reads it."""
    from dlrpolicy.adapters._records import read_record

    (outcome,) = read_record(envelope).items
    return outcome


# --- engine rules ----------------------------------------------------------------------------------------------

ABSENT = (27, 1, "HANDSET_ERRORS", "EC_ABSENT_SUBSCRIBER", False)
OUT_OF_CREDIT = (581, 1, "HANDSET_ERRORS", "EC_USER_OUT_OF_CREDIT", False)
TOO_MANY = {"requestError": {"serviceException": {"messageId": "TOO_MANY_REQUESTS", "text": "Too many requests"}}}
UNAUTHORIZED = {"requestError": {"serviceException": {"messageId": "UNAUTHORIZED", "text": "Invalid login details"}}}


def test_rule1_delivered_status_with_error_27_is_not_resent() -> None:
    """DELIVERED (group 3) with EC_ABSENT_SUBSCRIBER is done: a resend would be paid twice."""
    decision = decide(infobip(ABSENT, status=(5, 3, "DELIVERED", "DELIVERED_TO_HANDSET")))
    assert (("done", None, None, None), "infobip.delivered") == (facts(decision), decision.rule)
    assert "also carries error 27 EC_ABSENT_SUBSCRIBER" in decision.reason


@pytest.mark.parametrize("status_id", [3, 7, 26])
@pytest.mark.parametrize("error", [(27, "EC_ABSENT_SUBSCRIBER"), (6, "EC_ABSENT_SUBSCRIBER_SM"),
                                   (32, "EC_SM_DF_MEMORYCAPACITYEXCEEDED")])
def test_rule1_pending_with_an_error_waits(status_id: int, error: tuple[int, str]) -> None:
    """PENDING (3, 7, 26) with error 27/6/32 waits for the operator's report; the reason names the error."""
    decision = decide(infobip((error[0], 1, "HANDSET_ERRORS", error[1], False),
                              status=(status_id, 1, "PENDING", "PENDING_WAITING_DELIVERY")))
    assert (("wait", NOW + timedelta(minutes=15), None, None), "status.pending") == (facts(decision), decision.rule)
    assert f"error {error[0]} {error[1]}" in decision.reason


def test_rule2_581_stops_after_attempt_8_without_first_attempt() -> None:
    """Every 24h for 7 days is 8 attempts; without the first attempt's time attempt 9 is never scheduled."""
    payload = infobip(OUT_OF_CREDIT)
    eighth = decide(payload, history=History(attempts=7))
    ninth = decide(payload, history=History(attempts=8))
    assert ("retry", NOW + timedelta(hours=24), None, None) == facts(eighth)
    assert ("suppress", None, ("message", "msg-1", None), None) == facts(ninth)
    assert "allow 8 attempts" in ninth.reason


def test_rule2_581_with_a_proven_first_attempt_uses_the_deadline() -> None:
    """With the first attempt known, the real 7-day deadline decides (day 6 still retries)."""
    decision = decide(infobip(OUT_OF_CREDIT), history=History(attempts=9, first_attempt_at=NOW - timedelta(days=5)))
    assert (("retry", NOW + timedelta(hours=24), None, None), NOW + timedelta(days=2)) == (
        facts(decision), decision.give_up_at)


def test_rule3_retry_after_7200_is_waited_for() -> None:
    """Retry-After: 7200 on an SMS send's 429 retries two hours later, never earlier."""
    decision = decide(TOO_MANY, http_status=429, headers={"Retry-After": "7200"}, channel="sms")
    assert (("retry", NOW + timedelta(hours=2), None, None), "http.rate-limited") == (facts(decision), decision.rule)


def test_rule3_retry_after_http_date() -> None:
    """The HTTP-date form is honoured against now (not an error record)."""
    decision = decide(TOO_MANY, http_status=429, headers={"Retry-After": "Tue, 24 Nov 2026 11:30:00 GMT"})
    assert ("retry", datetime(2026, 11, 24, 11, 30, tzinfo=UTC), None, None) == facts(decision)


def test_rule3_a_wait_beyond_the_rules_ceiling_goes_to_a_person() -> None:
    """A 503 asking for 2h against the server-error rule's 1h ceiling is not retried early: a person decides."""
    decision = decide(TOO_MANY, http_status=503, headers={"Retry-After": "7200"}, channel="sms")
    assert (("escalate", None, None, "support"), "http.server-error") == (facts(decision), decision.rule)
    assert "later than the rule allows waiting (1h)" in decision.reason


def test_rule4_status_87_without_group_has_one_answer() -> None:
    """87 SIGNALS_BLOCKED in groups 4 and 5 shares one rule: a report without the group is decided by it."""
    payload = infobip(None, status=(87, 0, "", "SIGNALS_BLOCKED"))
    del payload["results"][0]["status"]["groupId"]
    decision = decide(payload, channel="sms")
    assert (("escalate", None, None, "compliance"), "status.signals-fraud-block", False) == (
        facts(decision), decision.rule, decision.code.unknown)


def test_rule4_error_4102_without_group_has_one_answer() -> None:
    """4102 EC_NOTSUBMITTEDTOSMPPCHANNEL (groups 2 and 3) is decided by its one rule without a group."""
    payload = infobip((4102, 0, "", "EC_NOTSUBMITTEDTOSMPPCHANNEL", True))
    del payload["results"][0]["error"]["groupId"]
    decision = decide(payload)
    assert (("retry", NOW + timedelta(minutes=15), None, None), "sms.smpp-not-bound") == (
        facts(decision), decision.rule)


def test_rule5_voice_status_87_group_4_is_the_general_entry() -> None:
    """A voice report's 87 group 4 SIGNALS_BLOCKED contradicts the voice table's 87: the general entry decides."""
    decision = decide(infobip(None, status=(87, 4, "EXPIRED", "SIGNALS_BLOCKED")), channel="voice")
    assert (("escalate", None, None, "compliance"), ("general", 4, "status.signals-fraud-block")) == (
        facts(decision), (decision.code.product, decision.code.group_id, decision.rule))


EMAIL_6016 = {"results": [{"messageId": "e-1", "to": "jane@example.org", "channel": "EMAIL",
                           "status": {"groupId": 2, "id": 9, "name": "UNDELIVERABLE_NOT_DELIVERED"},
                           "error": {"groupId": 1, "id": 6016, "name": "EC_SENDER_DOMAIN_BOUNCE_BLOCKED",
                                     "permanent": True}}]}


def test_rule6_email_sender_domain_from_the_envelope_address() -> None:
    """The envelope's sender is parsed: "Shop <news@Shop.Example>" blocks the domain shop.example."""
    outcome = enveloped({"report": EMAIL_6016, "sender": "Shop <news@Shop.Example>"})
    decision = Engine.default().evaluate(outcome, now=NOW)
    assert ("retry", NOW + timedelta(hours=24), ("sender_domain", "shop.example", NOW + timedelta(hours=24)),
            "deliverability") == facts(decision)


def test_rule6_the_envelopes_sender_wins_over_the_reports_own() -> None:
    """A report's own sender ("InfoSMS", an SMS sender id) does not override the envelope's address."""
    report = {"results": [{**EMAIL_6016["results"][0], "sender": "InfoSMS", "from": "InfoSMS"}]}
    decision = Engine.default().evaluate(enveloped({"report": report, "sender": "news@shop.example"}), now=NOW)
    assert ("retry", NOW + timedelta(hours=24), ("sender_domain", "shop.example", NOW + timedelta(hours=24)),
            "deliverability") == facts(decision)


def test_rule6_missing_key_is_labelled_and_escalated() -> None:
    """An e-mail report without any sender cannot name the domain: key null, said in the reason, a person asked."""
    report = {"results": [{"messageId": "e-1", "to": "jane@example.org", "channel": "EMAIL",
                           "status": {"groupId": 2, "id": 9}, "error": {"groupId": 1, "id": 6023, "permanent": True}}]}
    decision = decide(report)
    assert ("escalate", None, ("sender_domain", None, None), "deliverability") == facts(decision)
    assert "The sender domain to block is not known" in decision.reason


def test_rule6_nhn_send_response_without_a_sender_names_the_missing_key() -> None:
    """-3301 on an NHN send response (which carries no sender) cannot key the sender's opt-out: said, escalated."""
    decision = decide(nhn_api(-3301))
    assert ("suppress", None, ("recipient_sender_advertising", None, None), "support") == facts(decision)
    assert "give the sender in the envelope (sender)" in decision.reason


def test_rule6_infobip_template_key_missing_is_labelled() -> None:
    """7009 (the template is invalid) blocks the template; Infobip reports name none: said, escalated."""
    decision = decide(infobip((7009, 1, "CLIENT_ERRORS", "EC_INVALID_TEMPLATE", True), channel="WHATSAPP"))
    assert (decision.verdict, ("template", None, None)) == (facts(decision)[0], scope(decision))
    assert route(decision) is not None
    assert "give it in the envelope (template)" in decision.reason


def test_rule6_an_api_error_without_a_message_id_names_the_missing_key() -> None:
    """An exhausted unknown API error suppresses its message; an API error names no message: said, escalated."""
    body = {"header": {"resultCode": -2008, "resultMessage": "x", "isSuccessful": False}}
    decision = decide(body, history=History(attempts=8))
    assert ("suppress", None, ("message", None, None), "support") == facts(decision)
    assert "The message to block is not known (the report carries no message id" in decision.reason


def test_rule6_account_key_is_the_tenant() -> None:
    """An account suppression names the tenant; without one it is labelled and a person is asked."""
    engine = Engine.default()
    with_tenant = engine.evaluate(enveloped({"report": UNAUTHORIZED, "http_status": 401, "tenant": "bank"}),
                                  now=NOW)
    without = engine.evaluate(enveloped({"report": UNAUTHORIZED, "http_status": 401}), now=NOW)
    assert ("escalate", None, ("account", "bank", None), "credentials") == facts(with_tenant)
    assert ("escalate", None, ("account", None, None), "credentials") == facts(without)
    assert "give it in the envelope (tenant)" in without.reason


# --- disputed codes ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "rule", "deadline"),
    [
        (infobip((541, 2, "USER_ERRORS", "EC_LIMIT_REACHED", False)), "sms.carrier-throughput-limit", 48),
        (infobip((7017, 1, "CLIENT_ERRORS", "EC_TOO_MANY_REQUESTS", False), channel="WHATSAPP"), "chat.rate-limited",
         48),
        (infobip((6057, 1, "DROPPED", "EC_SAFETY_RATE_LIMIT", False), channel="EMAIL", to="a@example.org"),
         "email.rate-limited", 72),
        (infobip((6058, 1, "DROPPED", "EC_MAILBOX_PROVIDER_RATE_LIMIT", False), channel="EMAIL",
                 to="a@example.org"), "email.rate-limited", 72),
    ],
)
def test_rate_limits_back_off_to_the_deadline_then_escalate(payload: dict[str, Any], rule: str,
                                                             deadline: int) -> None:
    """Rate limits never end in a silent suppress after minutes: they back off (the fifth wait is the first wait
    doubled four times, within the rule's 20% jitter) to the deadline, then a person."""
    first = NOW - timedelta(hours=1)
    early = decide(payload, history=History(attempts=5, first_attempt_at=first))
    late = decide(payload, history=History(attempts=40, first_attempt_at=NOW - timedelta(hours=deadline) +
                                           timedelta(minutes=1)))
    wait = (timedelta(minutes=15) if rule == "email.rate-limited" else timedelta(minutes=1)) * 2 ** 4
    assert (rule, "retry", None, None, first + timedelta(hours=deadline)) == (
        early.rule, early.verdict, scope(early), route(early), early.give_up_at)
    assert early.retry_at is not None
    assert wait * 0.8 <= early.retry_at - NOW <= wait * 1.2
    assert ("escalate", None, None, "support") == facts(late)


def test_a_rate_limit_honours_a_long_retry_after() -> None:
    """7017 with Retry-After: 7200 waits the two hours (rate-limit rules allow waits up to 24h), not a person."""
    decision = decide(infobip((7017, 1, "CLIENT_ERRORS", "EC_TOO_MANY_REQUESTS", False), channel="WHATSAPP"),
                      headers={"Retry-After": "7200"})
    assert ("retry", NOW + timedelta(hours=2), None, None) == facts(decision)


@pytest.mark.parametrize(("messageid", "code", "rule"), [
    ("TOO_MANY_REQUESTS", 42901, "people.rate-limited"),
    ("IMPORT_ALREADY_IN_PROGRESS", 40901, "people.conflict"),
    ("OPTIMISTIC_LOCK", 40902, "people.conflict"),
])
def test_people_rate_limit_and_conflicts_wait_for_hours_not_minutes(messageid: str, code: int, rule: str) -> None:
    """People 429 and 409 conflicts keep retrying within 48h (a merge still running), then a person decides."""
    body = {"requestError": {"serviceException": {"messageId": messageid, "text": "x"}}}
    status = 409 if code != 42901 else 429
    first = NOW - timedelta(minutes=10)
    early = decide(body, channel="api", http_status=status, history=History(attempts=6, first_attempt_at=first))
    late = decide(body, channel="api", http_status=status,
                  history=History(attempts=30, first_attempt_at=NOW - timedelta(hours=47, minutes=59)))
    assert (rule, code, "retry", None, None, first + timedelta(hours=48)) == (
        early.rule, early.code.id, early.verdict, scope(early), route(early), early.give_up_at)
    assert early.retry_at is not None
    assert early.retry_at - NOW >= timedelta(minutes=30)
    assert ("escalate", None, None, "support") == facts(late)


def test_345_holds_for_provisioning_and_pauses_the_number() -> None:
    """345 may be our own source address: escalate to provisioning and pause SMS to the number for 7 days only."""
    decision = decide(infobip((345, 3, "OPERATOR_ERRORS", "EC_OPERATOR_NOT_FOUND", True)), channel="sms")
    assert ("escalate", None, ("recipient_channel", "sms:14155550100", NOW + timedelta(days=7)),
            "provisioning") == facts(decision)


def test_6045_is_escalated_to_deliverability_not_a_recipient_block() -> None:
    """6045: our mail failed the recipient organisation's policy; the person is not blocked."""
    decision = decide(infobip((6045, 2, "BOUNCED", "EC_RECIPIENT_DOMAIN_POLICY_ERROR", True), channel="EMAIL",
                              to="jane@corp.example"))
    assert ("escalate", None, None, "deliverability") == facts(decision)


def test_nhn_3301_opt_out_is_scoped_to_the_senders_kakaotalk_advertising() -> None:
    """-3301 (080 opt-out) blocks this sender's KakaoTalk advertising to the recipient, not the recipient everywhere."""
    decision = Engine.default().evaluate(enveloped({"report": nhn_api(-3301), "sender": "@acme-shop"}), now=NOW)
    assert ("suppress", None, ("recipient_sender_advertising", "kakao:@acme-shop:01012345678", None), None) == (
        facts(decision))


@pytest.mark.parametrize(("code", "name", "expected"), [
    (4137, "EC_PREFERENCE_NOT_MATCHED", ("suppress", None, ("recipient_channel_advertising", "sms:14155550100",
                                                            NOW + timedelta(days=30)), "compliance")),
    (4139, "EC_SE_CATEGORY_BLOCK", ("escalate", None, None, "compliance")),
    (4140, "EC_CONSENT_FAILED", ("escalate", None, None, "compliance")),
])
def test_dlt_consent_codes_are_narrow_and_escalated(code: int, name: str, expected: Facts) -> None:
    """DLT 4137/4139/4140 no longer block the recipient on every channel for ever (OTPs would be lost): an SMS report
    to an Indian number whose error is in the DLT table."""
    assert expected == facts(decide(infobip((code, 2, "USER_ERRORS", name, True)), channel="sms"))


@pytest.mark.parametrize("code", [-3010, -3011, -3042, -3043, -3046])
def test_nhn_template_mismatch_does_not_send_its_own_sms(code: int) -> None:
    """NHN may resend these by SMS itself: the default holds the message for content; no second SMS."""
    decision = decide(nhn_api(code))
    assert (("escalate", None, None, "content"), None, "kakao.api-template-mismatch") == (
        facts(decision), decision.channel, decision.rule)


def test_nhn_template_mismatch_sms_fallback_is_a_tenant_choice(tmp_path: Any) -> None:
    """A tenant with NHN's resend off patches the rule back to an SMS fallback."""
    (tmp_path / "shop.toml").write_text('[[patch]]\nid = "kakao.api-template-mismatch"\nverdict = "retry"\n'
                                        'channel = "sms"\n', encoding="utf-8")
    engine = Engine.default(policy_dir=tmp_path).for_tenant("shop")
    (outcome,) = parse(nhn_api(-3010))
    decision = engine.evaluate(outcome, now=NOW)
    assert (("retry", NOW, None, "content"), "sms") == (facts(decision), decision.channel)


def test_nhn_2501_deadline_expired_goes_to_support() -> None:
    """-2501: the send failed because its deadline expired; not done, support looks."""
    decision = decide(nhn_api(-2501))
    assert (("escalate", None, None, "support"), "kakao.api-deadline-expired") == (facts(decision), decision.rule)


def test_nhn_1002_sms_app_key_does_not_block_the_account() -> None:
    """-1002 (SMS app key, used only for resends): provisioning, and no account-wide suppression."""
    assert ("escalate", None, None, "provisioning") == facts(decide(nhn_api(-1002)))


def test_kakao_3020_offers_the_sms_fallback() -> None:
    """3020 (KakaoTalk notices refused): KakaoTalk blocked for them, this message goes by SMS (judgment)."""
    decision = decide(nhn_hook("3020"))
    assert (("retry", NOW, ("recipient_channel", "kakao:01012345678", None), None), "sms") == (
        facts(decision), decision.channel)
    assert "our judgment" in decision.reason


def test_whatsapp_7002_offers_the_sms_fallback() -> None:
    """7002 (unknown WhatsApp user): skip WhatsApp for 30 days, send by SMS (judgment)."""
    decision = decide(infobip((7002, 1, "CLIENT_ERRORS", "EC_UNKNOWN_USER", True), channel="WHATSAPP"))
    assert (("retry", NOW, ("recipient_channel", "whatsapp:14155550100", NOW + timedelta(days=30)), None), "sms") == (
        facts(decision), decision.channel)
    assert "judgment" in decision.reason


@pytest.mark.parametrize("payload", [nhn_hook("3036"), nhn_hook("3038"), nhn_api(-3043)],
                         ids=["3036 item list", "3038 item summary", "-3043 templateItem"])
def test_kakao_item_list_and_summary_mismatch_are_alike(payload: dict[str, Any]) -> None:
    """3036 (item list), 3038 (item summary) and -3043 (templateItem) are one problem: the message does not match
    its template.  Decided alike: content fixes the template, and no SMS of our own (NHN resends by SMS itself
    when the app's resend setting is on)."""
    decision = decide(payload)
    assert (("escalate", None, None, "content"), None, "warning") == (
        facts(decision), decision.channel, decision.escalate.severity if decision.escalate else None)


def test_kakao_template_mismatch_with_nhn_resend_done_is_done() -> None:
    """A query row of 3036 whose SMS resend succeeded (RSC04): done, nothing more to send; content still told."""
    decision = decide(nhn_query("3036", resendStatus="RSC04", resendResultCode="0"))
    assert ("done", None, None, "content") == facts(decision)
    assert "RSC04" in decision.reason


def test_status_29_tells_support() -> None:
    """29 EXPIRED_DLR_UNKNOWN: no blind resend (it may have arrived), and support is told (info)."""
    decision = decide(infobip(None, status=(29, 4, "EXPIRED", "EXPIRED_DLR_UNKNOWN")))
    assert (("suppress", None, ("message", "msg-1", None), "support"), "info") == (
        facts(decision), decision.escalate.severity if decision.escalate else None)


def test_status_8_pauses_the_number_for_a_week() -> None:
    """8 REJECTED_PREFIX_MISSING: prefix data is updated regularly, so the block lasts 7 days; nobody is paged."""
    decision = decide(infobip(None, status=(8, 5, "REJECTED", "REJECTED_PREFIX_MISSING")))
    assert ("suppress", None, ("recipient", "14155550100", NOW + timedelta(days=7)), None) == facts(decision)
    assert "judgment" in decision.reason


def test_error_5_is_not_retried() -> None:
    """5 EC_UNIDENTIFIED_SUBSCRIBER: invalid or unregistered number; fix the data, no retries, no page."""
    decision = decide(infobip((5, 1, "HANDSET_ERRORS", "EC_UNIDENTIFIED_SUBSCRIBER", False)))
    assert ("suppress", None, ("recipient", "14155550100", None), None) == facts(decision)


def test_4104_waits_out_the_window_once_then_escalates() -> None:
    """4104 (same text too often): one retry after the hour, then a person, never hourly resends for ever."""
    payload = infobip((4104, 2, "USER_ERRORS", "EC_DESTINATION_TXT_FLOODING", True))
    first = decide(payload)
    second = decide(payload, history=History(attempts=2, first_attempt_at=NOW - timedelta(hours=1)))
    assert ("retry", NOW + timedelta(hours=1), None, None) == facts(first)
    assert ("escalate", None, None, "support") == facts(second)


def test_564_short_code_blocked_suppresses_the_sender() -> None:
    """564 (short code blocked by the operator) blocks the sender, as 2053 does."""
    decision = decide(infobip((564, 3, "OPERATOR_ERRORS", "EC_SC_BLOCKED", True)))
    assert ("escalate", None, ("sender", "InfoSMS", None), "provisioning") == facts(decision)


@pytest.mark.parametrize(("payload", "rule"), [
    (infobip((7050, 2, "PROVIDER_ERRORS", "EC_PROVIDER_INTERNAL_ERROR", False), channel="WHATSAPP"),
     "chat.provider-internal-error"),
    (infobip((8009, 3, "CLOUD_ERRORS", "EC_PUSH_INTERNAL_REQUEST_ERROR", True), channel="PUSH"),
     "push.internal-error"),
    (infobip((8011, 3, "CLOUD_ERRORS", "EC_PUSH_INTERNAL_GW_ERROR", True), channel="PUSH"), "push.internal-error"),
])
def test_provider_internal_errors_back_off_for_hours(payload: dict[str, Any], rule: str) -> None:
    """7050, 8009, 8011 ("try again after a while"): the first wait is minutes, the fourth already hours, and the
    last word after the 24h deadline is a person's."""
    first = decide(payload)
    fourth = decide(payload, history=History(attempts=4, first_attempt_at=NOW - timedelta(hours=2)))
    last = decide(payload, history=History(attempts=9, first_attempt_at=NOW - timedelta(hours=23, minutes=59)))
    assert (rule, "retry", None, None) == (first.rule, first.verdict, scope(first), route(first))
    assert ("retry", None, None) == (fourth.verdict, scope(fourth), route(fourth))
    assert first.retry_at is not None
    assert fourth.retry_at is not None
    assert NOW + timedelta(minutes=12) <= first.retry_at <= NOW + timedelta(minutes=18)
    assert fourth.retry_at - NOW >= timedelta(hours=1, minutes=36)
    assert ("escalate", None, None, "support") == facts(last)


@pytest.mark.parametrize("code", ["2001", "3000", "3006", "3010", "9998", "9999"])
def test_kakao_provider_error_reason_does_not_claim_document_advice(code: str) -> None:
    """2001/3000/3006/3010/9998/9999 keep the SMS fallback, with a reason that says it is judgment."""
    decision = decide(nhn_hook(code))
    assert (("retry", NOW, None, None), "sms") == (facts(decision), decision.channel)
    assert "no advice" in decision.reason
    assert "judgment" in decision.reason


def test_kakao_provider_error_whose_nhn_resend_failed_tells_a_person() -> None:
    """3006 whose SMS resend by NHN failed too (RSC05): SMS counts as tried, and a person hears of it instead of the
    message being dropped."""
    decision = decide(nhn_query("3006", resendStatus="RSC05", resendResultCode="3015"))
    assert ("escalate", None, None, "support") == facts(decision)
    assert "RSC05" in decision.reason


def test_http_409_conflict_waits_for_the_other_operation() -> None:
    """An HTTP 409 answer (any call) retries with a growing backoff within 48h, then a person decides."""
    body = {"requestError": {"serviceException": {"messageId": "CONFLICT", "text": "Conflict"}}}
    first = decide(body, http_status=409, channel="sms")
    last = decide(body, http_status=409, channel="sms",
                  history=History(attempts=20, first_attempt_at=NOW - timedelta(hours=47, minutes=59)))
    assert ("http.conflict", "retry", None, None) == (first.rule, first.verdict, scope(first), route(first))
    assert first.retry_at is not None
    assert timedelta(minutes=4) <= first.retry_at - NOW <= timedelta(minutes=6)
    assert ("escalate", None, None, "support") == facts(last)


def test_http_401_pages_credentials_at_critical() -> None:
    """An Infobip 401 goes to credentials at critical and holds the account's sends."""
    decision = Engine.default().evaluate(enveloped({"report": UNAUTHORIZED, "http_status": 401, "tenant": "shop",
                                                    "channel": "sms"}), now=NOW)
    assert (("escalate", None, ("account", "shop", None), "credentials"), "critical") == (
        facts(decision), decision.escalate.severity if decision.escalate else None)
