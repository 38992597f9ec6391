"""State encoding: the hand-built JSON of outcomes and decisions equals what their to_json writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given, settings

from dlrpolicy import CodeRef, Engine, History, Outcome
from dlrpolicy.state._codec import decision_text, dumps, outcome_text
from tests.strategies import complete_outcomes, histories

ENGINE = Engine.default()
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@settings(max_examples=300)
@given(complete_outcomes())
def test_outcome_text_is_the_json_of_to_json(outcome: Outcome) -> None:
    """Every Outcome field, new ones included, is stored as Outcome.to_json writes it (the same values; orjson may
    write a number differently, 1e-6 for 1e-06)."""
    assert json.loads(dumps(outcome.to_json())) == json.loads(outcome_text(outcome))


@settings(max_examples=300)
@given(complete_outcomes(), histories(before=NOW))
def test_decision_text_holds_every_decision_field(outcome: Outcome, history: History) -> None:
    """The stored decision, read back, is Decision.to_json: no field is left out of the fast encoder."""
    decision = ENGINE.evaluate(outcome, now=NOW, history=history)
    assert decision.to_json() == json.loads(decision_text(decision))


def test_decision_text_keeps_the_policy_version() -> None:
    """The policy version a decision was made under survives storage (it was once dropped)."""
    decision = ENGINE.evaluate(Outcome(provider="infobip", channel="sms", error=CodeRef(id=27)), now=NOW)
    assert (decision.policy_version != "", decision.policy_version) == (
        True, json.loads(decision_text(decision))["policy_version"])
