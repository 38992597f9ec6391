"""Incidents and holds (contract suite): grouping, notifications, holds, resolve, maximum hold age."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dlrpolicy.state._recorder import Recorder
from dlrpolicy.state._records import IncidentEvent
from dlrpolicy.state._store import Report
from tests.state.reports import NOW, outcome


def _credit_storm(recorder: Recorder, count: int) -> None:
    reports = [Report(outcome=outcome(f"m-{n:04d}", "credits", tenant="acme", to=f"8210{n:08d}"))
               for n in range(count)]
    for start in range(0, count, 250):
        recorder.record_many(reports[start:start + 250], now=NOW + timedelta(seconds=start // 250))


def test_a_thousand_credit_rejections_are_one_incident_holding_every_message(recorder: Recorder) -> None:
    """1,000 x REJECTED_NOT_ENOUGH_CREDITS: one incident of 1,000, all held, check reports the hold; resolve
    releases 1,000 entries into the schedule, spread at the rate."""
    events: list[IncidentEvent] = []
    recorder.subscribe(events.append)
    _credit_storm(recorder, 1000)
    (incident,) = recorder.store.incidents(tenant="acme")
    assert ("billing", "open", 1000, 1000, 1000, True) == (
        incident.route, incident.state, incident.count, incident.held, incident.recipients, incident.account_wide)
    assert [("opened", 1), ("grew", 10), ("grew", 100), ("grew", 1000)] == [
        (e.kind, e.count) for e in events]
    hold = recorder.check("acme", now=NOW, recipient="+821099999999")
    assert hold is not None
    assert incident.id == hold.incident
    assert [] == recorder.due(now=NOW + timedelta(days=30))
    resolution = recorder.resolve(incident.id, now=NOW, actor="kim", note="topped up", rate=50)
    assert (1000, NOW, NOW + timedelta(seconds=999 / 50)) == (
        resolution.count, resolution.first_due, resolution.last_due)
    assert "resolved" == events[-1].kind
    assert recorder.check("acme", now=NOW, recipient="+821099999999") is None
    assert 51 == len(recorder.due(now=NOW + timedelta(seconds=1), limit=2000))
    assert 1000 == len(recorder.due(now=NOW + timedelta(seconds=20), limit=2000))
    assert 0 == recorder.store.incidents(tenant="acme")[0].held


def test_after_resolve_a_new_escalation_opens_a_new_incident(recorder: Recorder) -> None:
    """Resolved incidents stay resolved; the same cause later is a new incident."""
    _credit_storm(recorder, 2)
    (first,) = recorder.store.incidents(tenant="acme")
    recorder.resolve(first.id, now=NOW, actor="kim", release="drop", note="campaign cancelled")
    recorder.record(outcome("m-9", "credits", tenant="acme"), now=NOW + timedelta(hours=1))
    incidents = recorder.store.incidents(tenant="acme")
    assert ["open", "resolved"] == [i.state for i in incidents]
    assert [] == recorder.due(now=NOW + timedelta(days=1))
    history = recorder.history("m-0000", tenant="acme")
    assert history is not None
    assert ("dropped", "campaign cancelled") == (history.events[-1]["kind"], history.events[-1]["note"])


def test_escalation_without_hold_counts_but_holds_nothing(recorder: Recorder) -> None:
    """An unknown permanent code escalates to support: an incident, no hold, no account hold, nothing due."""
    result = recorder.record(outcome("m-1", "unknown-permanent", tenant="acme"), now=NOW)
    assert ("escalate", "defaults.unknown_permanent", False) == (
        result.decision.verdict, result.decision.rule, result.held)
    (incident,) = recorder.store.incidents(tenant="acme")
    assert (result.incident, "support", 1, 0, False) == (
        incident.id, incident.route, incident.count, incident.held, incident.account_wide)
    assert (None, []) == (recorder.check("acme", now=NOW, recipient="+821099990000"),
                          recorder.due(now=NOW + timedelta(days=30)))


def test_holds_past_their_maximum_age_end_as_exhausted(recorder: Recorder) -> None:
    """A message held longer than [incidents] max_hold (7 days) ends suppressed, and leaves the incident."""
    _credit_storm(recorder, 3)
    recorder.claim(now=NOW + timedelta(days=8), limit=10)
    (incident,) = recorder.store.incidents(tenant="acme")
    assert 0 == incident.held
    history = recorder.history("m-0001", tenant="acme")
    assert history is not None
    assert "hold-expired" == history.events[-1]["kind"]


def test_resolve_again_finishes_an_interrupted_release(recorder: Recorder) -> None:
    """Resolving a resolved incident releases whatever is still held, and nothing twice."""
    _credit_storm(recorder, 5)
    (incident,) = recorder.store.incidents(tenant="acme")
    first = recorder.resolve(incident.id, now=NOW, actor="kim")
    again = recorder.resolve(incident.id, now=NOW, actor="kim")
    assert (5, 0) == (first.count, again.count)


def test_dropping_held_messages_needs_a_note_and_records_them_dropped(recorder: Recorder) -> None:
    """resolve(release="drop") refuses without the reason to record; with it each message's decision in force
    becomes a final one that says it was dropped, and why."""
    _credit_storm(recorder, 2)
    (incident,) = recorder.store.incidents(tenant="acme")
    with pytest.raises(ValueError, match="note"):
        recorder.resolve(incident.id, now=NOW, actor="kim", release="drop")
    recorder.resolve(incident.id, now=NOW, actor="kim", release="drop", note="campaign cancelled")
    history = recorder.history("m-0001", tenant="acme")
    assert history is not None
    last = history.reports[-1]["decision"]
    assert ("suppress", True, True) == (last["verdict"], "campaign cancelled" in last["reason"],
                                        "Dropped by kim" in last["reason"])


def test_a_duplicate_of_a_held_report_names_its_incident(recorder: Recorder) -> None:
    """The same credit rejection delivered twice: the duplicate says the message is held, and under which
    incident."""
    first = recorder.record(outcome("m-1", "credits", tenant="acme"), now=NOW)
    again = recorder.record(outcome("m-1", "credits", tenant="acme"), now=NOW + timedelta(minutes=1))
    assert (True, True, first.incident) == (again.duplicate, again.held, again.incident)


def test_an_account_hold_blocks_sends_on_its_own_provider(recorder: Recorder) -> None:
    """Infobip's credit ran out: sends through Infobip are held, sends through another provider's account are
    not; a check that names no provider reports the hold."""
    recorder.record(outcome("m-1", "credits", tenant="acme"), now=NOW)
    held = [recorder.check("acme", now=NOW, recipient="+821099990000", provider=p) for p in ("infobip", "nhn", None)]
    assert [True, False, True] == [entry is not None for entry in held]


def test_incidents_listed_after_the_maximum_hold_show_no_held_messages(recorder: Recorder) -> None:
    """Listing incidents ends holds past [incidents] max_hold first, as a claim does."""
    _credit_storm(recorder, 3)
    (incident,) = recorder.incidents(now=NOW + timedelta(days=8), tenant="acme")
    assert 0 == incident.held
