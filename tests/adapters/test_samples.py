"""Published provider samples (tests/adapters/samples/, each naming its source) read right: channel and where it
came from, event, the catalog table the code resolved to, and skipped parts.  No sample is read as an error."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dlrpolicy import Engine, PayloadError, Skipped
from dlrpolicy.adapters._parse import adapt

SAMPLES = Path(__file__).resolve().parent / "samples"
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)

# file -> what each item must be: "skip", or (channel, channel_source, event, kind:product:id of the decided code).
EXPECTED: dict[str, list[object]] = {
    "infobip_email_delivery_report.json": [("email", "shape", None, "status:general:5")],
    "infobip_email_tracking_event.json": [("email", "shape", "seen", "event:-:-")],
    "infobip_error_e400.json": [(None, None, None, "http:api:400")],
    "infobip_error_e500.json": [(None, None, None, "http:api:500")],
    "infobip_error_e500_with_violations.json": [(None, None, None, "http:api:500")],
    "infobip_error_legacy_400.json": [(None, None, None, "http:api:400")],
    "infobip_error_legacy_401.json": [(None, None, None, "http:api:401")],
    "infobip_error_legacy_403.json": [(None, None, None, "http:api:403")],
    "infobip_error_legacy_404.json": [(None, None, None, "http:api:404")],
    "infobip_error_legacy_429.json": [(None, None, None, "http:api:429")],
    "infobip_error_legacy_500.json": [(None, None, None, "http:api:500")],
    "infobip_error_legacy_503.json": [(None, None, None, "http:api:503")],
    "infobip_messages_api_delivery_report.json": [("whatsapp", "report", None, "status:general:5")],
    "infobip_messages_api_delivery_report_sms.json": [("sms", "report", None, "status:general:5")],
    "infobip_messages_api_inbound_mo.json": ["skip"],
    "infobip_messages_api_seen_report.json": [("whatsapp", "report", "seen", "event:-:-")],
    "infobip_messages_api_send_response.json": [(None, None, None, "status:general:26")],
    "infobip_mms_delivery_report_v1_pull.json": [("mms", "shape", None, "status:general:26")],
    "infobip_mms_delivery_report_v1_webhook.json": [(None, None, None, "status:general:5")] * 2,
    "infobip_mms_delivery_report_v2.json": [(None, None, None, "status:general:5")],
    "infobip_mms_delivery_report_v2_webhook.json": [(None, None, None, "status:general:5")] * 2,
    "infobip_mms_send_response_v2.json": [(None, None, None, "status:general:26")],
    "infobip_rcs_delivery_report.json": [(None, None, None, "status:general:5")],
    "infobip_rcs_seen_report.json": [(None, None, "seen", "event:-:-")],
    "infobip_rcs_send_response.json": [(None, None, None, "status:general:26")],
    "infobip_sms_delivery_report_v1.json": [(None, None, None, "status:general:5")] * 2,
    "infobip_sms_delivery_report_v1_pull.json": [(None, None, None, "status:general:5")] * 2,
    "infobip_sms_delivery_report_v3.json": [(None, None, None, "status:general:5")] * 2,
    "infobip_sms_delivery_report_v3_webhook.json": [(None, None, None, "status:general:5")] * 2,
    "infobip_sms_delivery_report_v3_webhook_java.json": [(None, None, None, "status:general:5")] * 2,
    "infobip_sms_send_response_v2.json": [(None, None, None, "status:general:26")],
    "infobip_sms_send_response_v3.json": [(None, None, None, "status:general:26")],
    "infobip_sms_send_response_v3_details.json": [(None, None, None, "status:general:26")] * 2,
    "infobip_viber_delivery_report.json": [(None, None, None, "status:general:5")],
    "infobip_viber_seen_report.json": [(None, None, "seen", "event:-:-")],
    "infobip_voice_delivery_report.json": [("voice", "shape", None, "status:general:5")],
    "infobip_voice_log_no_answer.json": [(None, None, None, "error:voice_legacy:5003")],
    "infobip_voice_send_response.json": [(None, None, None, "status:general:26")],
    "infobip_whatsapp_delivery_report.json": [(None, None, None, "status:general:5")],
    "infobip_whatsapp_seen_report.json": [(None, None, "seen", "event:-:-")],
    "nhn_alimtalk_error_invalid_appkey.json": [("kakao", "report", None, "api:bizmessage:-1000")],
    "nhn_alimtalk_message_detail.json": [("kakao", "report", None, "delivery:bizmessage:1000")],
    "nhn_alimtalk_message_detail_fallback.json": [("kakao", "report", None, "delivery:bizmessage:3018")],
    "nhn_alimtalk_message_list.json": [("kakao", "report", None, "delivery:bizmessage:1000"),
                                       ("kakao", "report", None, "delivery:bizmessage:3018")],
    "nhn_alimtalk_message_results.json": [("kakao", "report", None, "delivery:bizmessage:1000"),
                                          ("kakao", "report", None, "delivery:bizmessage:3018")],
    "nhn_alimtalk_send_response.json": [("kakao", "report", None, "api:bizmessage:0")] * 2,
    "nhn_friendtalk_message_detail.json": [("kakao", "report", None, "delivery:bizmessage:1000")],
    "nhn_friendtalk_message_list.json": [("kakao", "report", None, "delivery:bizmessage:1000")],
    "nhn_friendtalk_message_results.json": [("kakao", "report", None, "delivery:bizmessage:1000")],
    "nhn_webhook_message_result_update.json": [("kakao", "report", None, "delivery:bizmessage:1000"),
                                               ("kakao", "report", None, "delivery:bizmessage:3018"),
                                               ("kakao", "report", None, "delivery:bizmessage:1000")],
    "nhn_webhook_template_status_update.json": ["skip"],
}


def sample(name: str) -> dict[str, Any]:
    """A sample file: source, note, http_status, headers, payload."""
    data: dict[str, Any] = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return data


def read(name: str) -> list[object]:
    """What the adapters and the default engine make of a sample, in the shape of `EXPECTED`."""
    data = sample(name)
    engine = Engine.default()
    out: list[object] = []
    for item in adapt(data["payload"], http_status=data["http_status"], headers=data["headers"] or None):
        if isinstance(item, PayloadError):
            out.append(f"error at {item.path}: {item.message}")
        elif isinstance(item, Skipped):
            out.append("skip")
        else:
            code = engine.evaluate(item, now=NOW).code
            out.append((item.channel, item.channel_source, item.event,
                        f"{code.kind}:{code.product or '-'}:{'-' if code.id is None else code.id}"))
    return out


def test_every_sample_is_expected() -> None:
    """Each file in samples/ has its expectation here, and each expectation has its file."""
    assert sorted(EXPECTED) == sorted(p.name for p in SAMPLES.glob("*.json"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_reads_right(name: str) -> None:
    """The sample yields exactly the expected outcomes and skips, and no error record."""
    assert EXPECTED[name] == read(name)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_names_its_source(name: str) -> None:
    """Every sample says where it comes from: repository, path, a 40-hex commit, and what was changed."""
    source = sample(name)["source"]
    assert {"repository", "path", "commit", "locator"} <= set(source)
    assert re.fullmatch(r"[0-9a-f]{40}", source["commit"])
    assert sample(name)["note"]


def test_sample_recipients_are_read_from_to_or_destination() -> None:
    """The Messages API names the recipient `destination`; SMS v3 send responses too."""
    from dlrpolicy import parse

    assert "41793026727" == parse(sample("infobip_messages_api_delivery_report.json")["payload"])[0].recipient
    assert "41793026727" == parse(sample("infobip_sms_send_response_v3.json")["payload"])[0].recipient


def test_mms_v2_pull_report_without_to_is_read() -> None:
    """MMS v2 pull reports carry no `to` and no `destination`: the outcome simply has no recipient."""
    from dlrpolicy import parse

    outcome = parse(sample("infobip_mms_delivery_report_v2.json")["payload"])[0]
    assert (None, "441134960000") == (outcome.recipient, outcome.sender)
