"""Tests for the structlog `decision` event helpers."""

from __future__ import annotations

import structlog
from structlog.testing import capture_logs

from dlrpolicy import CodeRef, Engine, Outcome, expand_decision, log_decision
from tests.conftest import NOW


def test_log_decision_emits_one_event(small_engine: Engine) -> None:
    """log_decision logs one `decision` event with the on-call fields."""
    outcome = Outcome(provider="infobip", channel="sms", error=CodeRef(id=581), message_id="m-9", tenant="acme")
    decision = small_engine.evaluate(outcome, now=NOW)
    with capture_logs() as logs:
        log_decision(structlog.get_logger(), decision, outcome)
    assert 1 == len(logs)
    event = logs[0]
    expected = ("decision", "acme", "m-9", 2, "infobip:error:general:581", "out-of-credit", "retry",
                "2026-11-25T10:00:00Z")
    assert expected == (
        event["event"], event["tenant"], event["message_id"], event["attempt"], event["code"], event["rule"],
        event["verdict"], event["retry_at"])
    assert event["reason"]


def test_expand_decision_processor(small_engine: Engine) -> None:
    """The processor flattens a decision= value into the event's fields."""
    outcome = Outcome(provider="infobip", channel="sms", error=CodeRef(id=581), message_id="m-9")
    decision = small_engine.evaluate(outcome, now=NOW)
    event = expand_decision(None, "info", {"event": "sent", "decision": decision, "outcome": outcome})
    assert ("sent", "retry", "m-9") == (event["event"], event["verdict"], event["message_id"])
    assert "decision" not in event
