"""State encoding: the hand-built JSON of outcomes and decisions equals what their to_json writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from dlrpolicy import CodeRef, Engine, History, Outcome
from dlrpolicy.model._datetimes import iso_z
from dlrpolicy.state import _codec
from dlrpolicy.state._codec import decision_text, decode_state, dumps, encode_state, iso_utc, loads, outcome_text
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


def test_decision_text_remembers_shared_decisions_only() -> None:
    """A decision evaluate shares between reports is encoded once and read back alike; a suppression, whose key is
    the report's own, is not remembered (each would push a shared one out of the bounded memo)."""
    delivered = Outcome(provider="infobip", channel="sms", status=CodeRef(id=5, group_id=3))
    shared = ENGINE.evaluate(delivered, now=NOW)
    blocked = ENGINE.evaluate(Outcome(provider="infobip", channel="sms", recipient="+821012345678",
                                      error=CodeRef(id=603, group_id=2)), now=NOW)
    texts = [decision_text(shared), decision_text(shared), decision_text(blocked)]
    assert (shared is ENGINE.evaluate(delivered, now=NOW), blocked.suppress is not None) == (True, True)
    assert [shared.to_json(), shared.to_json(), blocked.to_json()] == [json.loads(text) for text in texts]
    assert (id(shared) in _codec._DECISIONS, id(blocked) in _codec._DECISIONS) == (True, False)


@settings(max_examples=500)
@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(8999, 12, 31),
                    timezones=st.sampled_from([UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-5))])))
def test_iso_utc_writes_what_iso_z_writes(moment: datetime) -> None:
    """The fast UTC formatter (report identities and stored instants depend on it) writes iso_z's text."""
    assert iso_z(moment) == iso_utc(moment)


def test_head_and_loads_round_trip_the_values() -> None:
    """A message head written by orjson reads back as the standard encoder's text does."""
    state = {"ids": {"infobip:m-1": {"channel": "sms", "at": 1795514280.123456, "rank": 1, "source": "report"}},
             "first": 1e-06, "channels": ["sms", "kakao"], "fin": None, "held": False, "sched": True,
             "seen": ["0123456789abcdef"], "v": 3, "_raw": ['{"id":"x"}']}
    assert (json.loads(dumps({k: v for k, v in state.items() if k != "_raw"})), state["_raw"]) == \
        (loads(encode_state(state).split("\n")[0]), decode_state(encode_state(state))["_raw"])
