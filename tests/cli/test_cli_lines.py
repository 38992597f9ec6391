"""The evaluate command's output lines: byte for byte what ``json.dumps`` of the documented objects writes."""

from __future__ import annotations

import json
from typing import Any

import attrs
from hypothesis import given, settings

from dlrpolicy import PayloadError
from dlrpolicy.adapters._values import Skipped
from dlrpolicy.cli._lines import decision_body, decision_line, error_line, outcome_json, skipped_line
from dlrpolicy.model._decision import CodeIdentity, Decision
from dlrpolicy.model._outcome import Outcome
from tests.strategies import decided_outcomes


def reference(decision: Decision, outcome: Outcome, number: int) -> str:
    """The line as the documented dict, encoded by json.dumps."""
    source = outcome.channel_source
    if source is None and outcome.channel is None and not decision.code.unknown and decision.code.kind != "event":
        source = "code"  # nobody said the channel: the code's own table decided
    data: dict[str, Any] = {**decision.to_json(), "outcome": {
        "provider": outcome.provider, "channel": outcome.channel, "channel_source": source,
        "message_id": outcome.message_id, "recipient": outcome.recipient, "sender": outcome.sender,
        "tenant": outcome.tenant}, "message_id": outcome.message_id, "input": number}
    return json.dumps(data)


@settings(max_examples=300, deadline=None)
@given(decided_outcomes())
def test_decision_line_is_json_dumps_of_the_documented_object(pair: tuple[Decision, Outcome]) -> None:
    """Any decision (times in any offset, non-ASCII and lone-surrogate strings, unknown codes, events) gives
    exactly json.dumps of to_json() plus outcome, message_id and input, twice in a row (the second from the
    caches)."""
    decision, outcome = pair
    expected = reference(decision, outcome, 12)
    assert (expected, expected) == (decision_line(decision, outcome, 12), decision_line(decision, outcome, 12))
    assert expected == f"{decision_body(decision, outcome)}12}}"
    assert json.loads(expected)["outcome"] == json.loads(outcome_json(outcome, decision))


@settings(max_examples=50, deadline=None)
@given(decided_outcomes())
def test_codes_cached_by_identity_are_never_confused(pair: tuple[Decision, Outcome]) -> None:
    """Many short-lived codes, one after another (their memory, and so their id, is reused): each line names its
    own code."""
    decision, outcome = pair
    for number in range(40):
        code = CodeIdentity("infobip", "status", "sms", number, f"CODE_{number}", number % 3, unknown=number % 2 == 0)
        changed = attrs.evolve(decision, code=code)
        assert reference(changed, outcome, number) == decision_line(changed, outcome, number)
        del code, changed


def test_error_and_skipped_lines() -> None:
    """Error and skipped lines are json.dumps of {"input", "error"} and {"input", "skipped"}."""
    error = PayloadError("$.results[0].status", "missing: ソウル")
    assert json.dumps({"input": 3, "error": {"type": "PayloadError", "message": "missing: ソウル",
                                             "path": "$.results[0].status"}}) == error_line(3, error)
    skipped = Skipped("$.results", "empty")
    assert json.dumps({"input": 4, "skipped": {"reason": "empty", "path": "$.results"}}) == skipped_line(4, skipped)
