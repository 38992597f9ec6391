"""Hypothesis properties of `evaluate` over the whole catalog and arbitrary histories."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from dlrpolicy import Engine, History, Outcome
from dlrpolicy.model._vocabulary import VERDICTS
from tests.strategies import aware_datetimes, catalog_outcomes, histories, unknown_outcomes

DEFAULT = Engine.default()


@settings(max_examples=300)
@given(catalog_outcomes(), aware_datetimes, st.data())
def test_decisions_are_valid_and_deterministic(outcome: Outcome, now: datetime, data: st.DataObject) -> None:
    """Same inputs, same decision; retry_at within [now, give_up_at]; retries only before exhaustion."""
    history = data.draw(histories(before=now))
    first = DEFAULT.evaluate(outcome, now=now, history=history)
    assert first == DEFAULT.evaluate(outcome, now=now, history=history)
    assert first.verdict in VERDICTS
    assert first.reason
    assert first.attempt == history.attempts + 1
    if first.verdict == "retry":
        assert first.retry_at is not None
        assert first.retry_at >= now
        if first.give_up_at is not None:
            assert first.retry_at <= first.give_up_at
    else:
        assert first.retry_at is None


@settings(max_examples=300)
@given(catalog_outcomes(), aware_datetimes, st.data())
def test_retries_land_inside_their_window(outcome: Outcome, now: datetime, data: st.DataObject) -> None:
    """When the deciding plan has a window, a retry is inside it."""
    decision = DEFAULT.evaluate(outcome, now=now, history=data.draw(histories(before=now)))
    if decision.verdict == "retry" and not decision.code.unknown:
        entry = DEFAULT.catalog.lookup(decision.code.provider, decision.code.kind, decision.code.product or "",
                                       decision.code.id, decision.code.group_id, decision.code.name)
        plan = DEFAULT.policy.candidate(entry).plan_for(outcome.channel)
        if plan.window is not None:
            assert decision.retry_at is not None
            assert plan.window.contains(decision.retry_at)


@given(catalog_outcomes(), aware_datetimes)
def test_exhausted_never_retries(outcome: Outcome, now: datetime) -> None:
    """With an enormous attempt count and an ancient first attempt, nothing is retried."""
    history = History(attempts=10_000, first_attempt_at=datetime(2000, 1, 1, tzinfo=now.tzinfo))
    assert "retry" != DEFAULT.evaluate(outcome, now=now, history=history).verdict


@given(unknown_outcomes(), aware_datetimes)
def test_unknown_codes_never_crash(outcome: Outcome, now: datetime) -> None:
    """Unknown codes always get a labelled decision."""
    decision = DEFAULT.evaluate(outcome, now=now)
    assert decision.code.unknown
    assert decision.rule.startswith("defaults.unknown")


def test_every_catalog_entry_yields_a_valid_decision() -> None:
    """Walk the catalog: each entry, on its product's default channel, gets a decision with a reason."""
    from tests.conftest import NOW
    from tests.strategies import outcome_for

    bad = []
    for entry in DEFAULT.catalog:
        decision = DEFAULT.evaluate(outcome_for(entry, message_id="m", recipient="r", sender="s@x.example"), now=NOW)
        if decision.code.unknown or decision.verdict not in VERDICTS or not decision.reason:
            bad.append(entry.label)
    assert [] == bad
