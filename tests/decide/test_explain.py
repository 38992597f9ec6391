"""Tests for `explain`: matched rules, the winner, and the attempt timeline."""

from __future__ import annotations

from datetime import timedelta

from dlrpolicy import CodeRef, Engine, History, Outcome
from tests.conftest import NOW


def test_timeline_every_24h_until_7_days(small_engine: Engine) -> None:
    """581 under every=24h, give_up_after=7d: attempts daily, then the exhausted verdict."""
    outcome = Outcome(provider="infobip", channel="sms", error=CodeRef(id=581), message_id="m")
    explanation = small_engine.explain(outcome, now=NOW, history=History(first_attempt_at=NOW))
    retries = [d.retry_at for d in explanation.timeline if d.verdict == "retry"]
    assert [NOW + timedelta(days=n) for n in range(1, 8)] == retries
    assert "suppress" == explanation.timeline[-1].verdict
    assert NOW + timedelta(days=7) == explanation.decision.give_up_at


def test_matches_list_winner_first(small_engine: Engine) -> None:
    """EC_UNKNOWN_SUBSCRIBER matches the group+permanent and group rules; the former decides."""
    outcome = Outcome(provider="infobip", channel="sms", error=CodeRef(id=1, group_id=1), message_id="m")
    explanation = small_engine.explain(outcome, now=NOW)
    assert [("handset-permanent", True), ("handset", False)] == [(m.rule, m.won) for m in explanation.matches]
    assert "outranked" in explanation.matches[1].note


def test_channel_skip_is_explained(small_engine: Engine) -> None:
    """A channel-specific rule that does not apply says so."""
    outcome = Outcome(provider="infobip", channel="line", error=CodeRef(id=7050), message_id="m")
    notes = {m.rule: m.note for m in small_engine.explain(outcome, now=NOW).matches}
    assert "channel viber" in notes["viber-only"]


def test_render_and_json(small_engine: Engine) -> None:
    """The text rendering shows verdict, rule, timing and timeline; JSON carries the same."""
    outcome = Outcome(provider="infobip", channel="sms", error=CodeRef(id=581), message_id="m")
    explanation = small_engine.explain(outcome, now=NOW)
    text = explanation.render()
    assert "every 24h" in text
    assert "out-of-credit" in text
    assert "attempt   8" in text
    data = explanation.to_json()
    assert ("retry", 8) == (data["decision"]["verdict"], len(data["timeline"]))  # type: ignore[index]


def test_unknown_code_explained(small_engine: Engine) -> None:
    """Unknown codes explain the unknown rule and carry no catalog entry."""
    outcome = Outcome(provider="infobip", channel="sms", error=CodeRef(id=424242), message_id="m")
    explanation = small_engine.explain(outcome, now=NOW)
    assert (None, ()) == (explanation.entry, explanation.matches)
    assert "unknown to the catalog" in explanation.render()
