"""Infobip adapters: every report shape maps to the right catalog table; API errors; bad input with paths."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dlrpolicy import Engine, PayloadError, Skipped, parse, parse_infobip_report
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


def codes(payload: object, **kwargs: Any) -> list[tuple[str | None, str, str, int]]:
    """(reported channel, kind, product, id) of the entry each outcome's decision resolved to."""
    engine = Engine.default()
    result = []
    for outcome in parse(payload, **kwargs):
        code = engine.evaluate(outcome, now=NOW).code
        result.append((outcome.channel, code.kind, str(code.product), code.id))
    return result  # type: ignore[return-value]


def test_sms_v1_reports_give_one_outcome_per_result() -> None:
    """Three results, three outcomes; without a channel the codes resolve by id (all in the general tables)."""
    assert [(None, "status", "general", 5), (None, "error", "general", 581), (None, "status", "general", 7)] \
        == codes(load("infobip_sms_v1_reports.json"))


def test_sms_v1_fields() -> None:
    """Sender, recipient, message id and both timestamps are read."""
    outcome = parse(load("infobip_sms_v1_reports.json"))[0]
    assert ("sms-v1-0001", "41793026727", "ACME") == (outcome.message_id, outcome.recipient, outcome.sender)
    assert datetime(2026, 11, 24, 8, 58, 20, 323000, tzinfo=UTC) == outcome.sent_at
    assert outcome.error is not None
    assert (0, 0, False) == (outcome.error.id, outcome.error.group_id, outcome.error.permanent)


def test_sms_v3_shape_says_no_channel() -> None:
    """The v3 shape (sender, messageCount, platform) is shared by MMS v2, Viber and KakaoTalk: no channel guessed."""
    outcomes = parse(load("infobip_sms_v3_reports.json"))
    assert [(None, None), (None, None)] == [(o.channel, o.channel_source) for o in outcomes]
    assert "ACMEIN" == outcomes[0].sender
    assert datetime(2026, 11, 24, 9, 51, 10, tzinfo=UTC) == outcomes[1].sent_at


def test_caller_channel_is_used_and_labelled() -> None:
    """The caller's channel (envelope, --channel, argument) applies when the report names none."""
    outcome = parse(load("infobip_sms_v3_reports.json"), channel="sms")[0]
    assert ("sms", "caller") == (outcome.channel, outcome.channel_source)


def test_email_error_uses_the_email_table() -> None:
    """An email report's 6016 is the email table's 6016; the channel comes from the report's own field."""
    assert ("email", "error", "email", 6016) == codes(load("infobip_email_reports.json"))[0]
    assert "report" == parse(load("infobip_email_reports.json"))[0].channel_source


def test_email_inferred_from_address() -> None:
    """An e-mail address as recipient makes the channel certain, and says so (shape)."""
    outcome = parse(report(to="a@example.org", messageCount=1))[0]
    assert ("email", "shape") == (outcome.channel, outcome.channel_source)


def test_chat_shape_without_channel_resolves_by_code() -> None:
    """messageCount alone no longer means WhatsApp: error 7017 is unique to the chat table, so it decides."""
    assert (None, "error", "chat", 7017) == codes(load("infobip_whatsapp_reports.json"))[0]


@pytest.mark.parametrize(
    ("error", "table"),
    [
        ({"groupId": 1, "groupName": "USER_ERRORS", "id": 8001, "name": "EC_DEVICE_APP_UNINSTALL", "permanent": True},
         ("error", "push", 8001)),
        ({"groupId": 1, "groupName": "USER_ERRORS", "id": 7003, "name": "EC_BLOCKED_USER", "permanent": True},
         ("error", "chat", 7003)),
        ({"groupId": 2, "groupName": "USER_ERRORS", "id": 15003, "name": "EC_MSISDN_NOT_REGISTERED", "permanent": True},
         ("error", "mms", 15003)),
    ],
)
def test_product_error_in_a_channel_less_body_resolves_to_its_table(error: dict[str, object],
                                                                    table: tuple[str, str, int]) -> None:
    """A push, chat or MMS error in an SMS-v3-shaped body (no channel field) is found in its own table, not unknown."""
    payload = load("infobip_sms_v3_reports.json")
    payload["results"][0]["error"] = error
    outcome = parse(payload)[0]
    decision = Engine.default().evaluate(outcome, now=NOW)
    assert (None, *table, False) == (outcome.channel, decision.code.kind, decision.code.product, decision.code.id,
                                     decision.code.unknown)


def test_id_in_two_tables_without_channel_is_ambiguous_unless_the_name_tells() -> None:
    """Error 200 is in the Mobile Identity and the Moments tables: the name picks one, no name is ambiguous."""
    failed = {"groupId": 2, "groupName": "UNDELIVERABLE", "id": 9, "name": "UNDELIVERABLE_NOT_DELIVERED"}
    named = report(status=failed, error={"groupId": 0, "id": 200, "name": "REJECTED_INVALID_CONTACT"})
    bare = report(status=failed, error={"id": 200})
    engine = Engine.default()
    assert "moments" == engine.evaluate(parse(named)[0], now=NOW).code.product
    decision = engine.evaluate(parse(bare)[0], now=NOW)
    assert (True, "defaults.unknown") == (decision.code.unknown, decision.rule)
    assert "ambiguous" in decision.reason


def test_voice_report_uses_the_voice_tables() -> None:
    """A voice report (nested voiceCall) maps its error to the voice table."""
    assert [("voice", "error", "voice", 10201)] == codes(load("infobip_voice_report.json"))


def test_voice_inferred_from_dtmf_codes() -> None:
    """The older flat voice shape (dtmfCodes, pricePerSecond) is voice too."""
    assert "voice" == parse(report(duration=12, dtmfCodes="1,2"))[0].channel


def test_channel_field_wins_over_the_caller() -> None:
    """The report's own channel field is a fact and wins; the caller's channel fills in when it is absent."""
    assert ("viber", "report") == (lambda o: (o.channel, o.channel_source))(parse(report(channel="VIBER_BM"))[0])
    assert "viber" == parse(report(channel="VIBER"), channel="rcs")[0].channel
    assert "rcs" == parse(report(), channel="rcs")[0].channel


@pytest.mark.parametrize(
    ("name", "channel"),
    [("WHATSAPP", "whatsapp"), ("VIBER_BOT", "viber"), ("RCS", "rcs"), ("LINE_ON", "line"),
     ("MESSENGER", "messenger"), ("INSTAGRAM_DM", "instagram"), ("TELEGRAM", "telegram"), ("APPLE_MB", "apple_mfb"),
     ("ZALO", "zalo"), ("ZALO_NOTIFICATION_SERVICE", "zalo"), ("KAKAO", "kakao"), ("KAKAO_FRIENDTALK", "kakao"),
     ("SMS", "sms"), ("MMS", "mms"), ("VOICE", "voice"), ("EMAIL", "email"), ("GBM", "gbm")],
)
def test_documented_channel_values_map(name: str, channel: str) -> None:
    """Every channel value of the Messages API (and Zalo's notification service) maps to a channel."""
    assert channel == parse(report(channel=name))[0].channel


def test_a_channel_name_nobody_documented_is_said_not_guessed() -> None:
    """A channel value dlrpolicy does not know is not dropped silently: without a caller's channel the outcome says
    "unrecognised" (and its code's own table decides); the caller's channel, when given, is used and labelled."""
    alone = parse(report(channel="PIGEON_POST"))[0]
    given = parse(report(channel="PIGEON_POST"), channel="rcs")[0]
    assert [(None, "unrecognised"), ("rcs", "caller")] == [(o.channel, o.channel_source) for o in (alone, given)]


def test_kakao_channel_names_carry_the_message_type() -> None:
    """KakaoTalk via Infobip names FriendTalk in the channel, which the FriendTalk send window needs."""
    assert "FRIENDTALK" == parse(report(channel="KAKAO_FRIENDTALK"))[0].message_type


def test_seen_report_is_done_not_an_error() -> None:
    """A seen report (seenAt, no status) is an event decided done."""
    outcome = parse(report(status=None, seenAt="2026-11-24T09:00:00.000+0000"))[0]
    decision = Engine.default().evaluate(outcome, now=NOW)
    assert ("seen", "done", "defaults.seen", "event") == (outcome.event, decision.verdict, decision.rule,
                                                          decision.code.kind)


def test_messages_api_seen_event() -> None:
    """The Messages API's event SEEN is a seen report even with other fields around it."""
    payload = {"results": [{"event": "SEEN", "channel": "VIBER_BM", "messageId": "m", "destination": "385",
                            "seenAt": "2026-11-24T09:00:00+00:00"}]}
    assert [("seen", "viber", "385")] == [(o.event, o.channel, o.recipient) for o in parse(payload)]


def test_inbound_messages_are_skipped_not_errors() -> None:
    """MO and typing events at the same webhook are skipped with a reason, never error records."""
    items = adapt({"results": [{"event": "MO", "channel": "WHATSAPP"}, {"event": "TYPING_STARTED"}]})
    assert [True, True] == [isinstance(i, Skipped) for i in items]
    assert "$.results[0]" == items[0].path  # type: ignore[union-attr]


def test_empty_results_is_zero_outcomes() -> None:
    """An empty pull (results: []) gives no outcome and no error: one skipped item for the record's line."""
    assert [] == parse({"results": []})
    items = adapt({"results": []})
    assert [("$.results", True)] == [(i.path, isinstance(i, Skipped)) for i in items]  # type: ignore[union-attr]


def test_send_response_is_infobip_and_pending_waits() -> None:
    """{"bulkId", "messages": [...status PENDING...]} is Infobip's send response (not NHN's messages): wait."""
    payload = {"bulkId": "b1", "messages": [{"messageId": "m1", "to": "41793026727", "status": {
        "groupId": 1, "groupName": "PENDING", "id": 26, "name": "PENDING_ACCEPTED"}}]}
    assert "infobip" == detect_provider(payload)
    outcome = parse(payload)[0]
    assert ("m1", "wait") == (outcome.message_id, Engine.default().evaluate(outcome, now=NOW).verdict)


def test_permanent_flag_as_a_string_is_read() -> None:
    """An SDK sample sends permanent as the string "false": it is read as the boolean."""
    outcome = parse(report(error={"groupId": 0, "id": 0, "name": "NO_ERROR", "permanent": "false"}))[0]
    assert outcome.error is not None
    assert outcome.error.permanent is False


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
        ({"results": {"status": {}}}, "$.results"),
        ({"results": [[1, 2]]}, "$.results[0]"),
        ({"results": [report(status=[5])]}, "$.results[0].status"),
        ({"results": [report(status={"id": 5, "groupId": "3"})]}, "$.results[0].status.groupId"),
        ({"results": [report(error={"id": 581, "permanent": "no"})]}, "$.results[0].error.permanent"),
        ({"results": [report(status=None)]}, "$.results[0].status"),
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
    assert ["infobip", "infobip", "infobip", "infobip", None] == [
        detect_provider(p) for p in ({"results": []}, {"requestError": {}}, report(), {"seenAt": "x"}, {"x": 1})
    ]


def test_report_function_is_public() -> None:
    """parse_infobip_report reads one result with an explicit channel."""
    assert "mms" == parse_infobip_report(report(), channel="mms").channel
