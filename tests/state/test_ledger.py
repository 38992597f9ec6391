"""The ledger (contract suite: every test runs on SQLite and on Redis): histories, duplicates, resends, status
rank, atomic effects."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dlrpolicy import History, InvalidOutcomeError, parse_infobip_api_error
from dlrpolicy.state._recorder import Recorder
from dlrpolicy.state._store import Report
from tests.state.reports import NOW, outcome


def test_first_report_starts_the_history(recorder: Recorder) -> None:
    """A message's first report is attempt 1, its first attempt the report's sentAt."""
    result = recorder.record(outcome("m-1", "absent"), now=NOW)
    assert ("retry", 1, NOW - timedelta(minutes=2), False) == (
        result.decision.verdict, result.attempts, result.history.first_attempt_at, result.duplicate)
    assert 2 == result.decision.attempt


def test_duplicate_report_returns_the_stored_decision_and_changes_nothing(recorder: Recorder) -> None:
    """The same report delivered twice: the stored decision, marked duplicate; the message is unchanged."""
    first = recorder.record(outcome("m-1", "absent"), now=NOW)
    before = recorder.history("m-1")
    again = recorder.record(outcome("m-1", "absent"), now=NOW + timedelta(hours=1))
    assert (True, first.decision) == (again.duplicate, again.decision)
    assert before == recorder.history("m-1")


def test_resends_with_a_key_share_one_history(recorder: Recorder) -> None:
    """Each resend has a new provider id; the pipeline's key links them: attempts count, deadline holds."""
    first = recorder.record(outcome("p-1", "absent", sent=NOW - timedelta(hours=2)), now=NOW, key="order-7")
    second = recorder.record(outcome("p-2", "absent", sent=NOW), now=NOW + timedelta(minutes=1), key="order-7")
    assert (1, 2) == (first.attempts, second.attempts)
    assert NOW - timedelta(hours=2) == second.history.first_attempt_at
    assert first.decision.give_up_at == second.decision.give_up_at
    history = recorder.history("order-7")
    assert history is not None
    assert ["infobip:p-1", "infobip:p-2"] == [s["provider_id"] for s in history.sends]


def test_sent_links_a_provider_id_so_its_reports_find_the_key(recorder: Recorder) -> None:
    """`sent` records the attempt; a report naming only the provider id lands on the key's history."""
    recorder.sent(key="order-9", provider="infobip", message_id="p-1", channel="sms", at=NOW - timedelta(hours=1))
    recorder.sent(key="order-9", provider="infobip", message_id="p-2", channel="sms", at=NOW)
    recorder.sent(key="order-9", provider="infobip", message_id="p-2", channel="sms", at=NOW)  # counted once
    result = recorder.record(outcome("p-2", "absent"), now=NOW)
    assert ("order-9", 2, NOW - timedelta(hours=1)) == (result.key, result.attempts, result.history.first_attempt_at)


def test_late_pending_after_final_changes_nothing(recorder: Recorder) -> None:
    """PENDING arriving after DELIVERED is recorded as superseded; the last decision and schedule stay."""
    done = recorder.record(outcome("m-1", "delivered"), now=NOW)
    late = recorder.record(outcome("m-1", "pending", done=NOW - timedelta(minutes=1)), now=NOW)
    assert ("done", True, False) == (done.decision.verdict, late.superseded, late.duplicate)
    assert (None, []) == (late.schedule, recorder.due(now=NOW + timedelta(days=1)))
    history = recorder.history("m-1")
    assert history is not None
    assert [False, True] == [r["superseded"] for r in history.reports]


def test_history_hint_is_a_lower_bound(recorder: Recorder) -> None:
    """An envelope's attempt and first attempt count when the ledger knows less."""
    hint = History(attempts=3, first_attempt_at=NOW - timedelta(days=1))
    result = recorder.record(outcome("m-1", "absent"), now=NOW, history=hint)
    assert (3, NOW - timedelta(days=1)) == (result.attempts, result.history.first_attempt_at)


def test_a_batch_is_recorded_in_order_with_duplicates_inside_it(recorder: Recorder) -> None:
    """A batch holding the same report twice and two attempts of one key: one decision each, in order."""
    results = recorder.record_many([
        Report(outcome=outcome("m-1", "absent")), Report(outcome=outcome("m-1", "absent")),
        Report(outcome=outcome("p-1", "absent"), key="k"), Report(outcome=outcome("p-2", "absent"), key="k"),
    ], now=NOW)
    assert [(False, 1), (True, 1), (False, 1), (False, 2)] == [
        (r.duplicate, r.attempts) for r in results if not isinstance(r, Exception)]


def test_report_without_message_id_is_recorded_under_its_identity(recorder: Recorder) -> None:
    """An API error names no message: it is keyed by its report identity, and a redelivery is a duplicate."""
    error = parse_infobip_api_error({"requestError": {"serviceException": {"messageId": "UNAUTHORIZED",
                                                                           "text": "Invalid login details"}}},
                                    http_status=401)
    first = recorder.record(error, now=NOW)
    again = recorder.record(error, now=NOW)
    assert first.key.startswith("report:")
    assert (False, True, 1) == (first.duplicate, again.duplicate, first.attempts)


def test_one_report_and_its_effects_commit_together(recorder: Recorder) -> None:
    """A suppressing report leaves history, decision and suppression entry together."""
    result = recorder.record(outcome("m-1", "opted-out", to="15550100"), now=NOW)
    history = recorder.history("m-1")
    assert history is not None
    assert "suppress" == history.reports[-1]["decision"]["verdict"]
    assert result.suppression is not None
    assert result.suppression == recorder.store.suppression(result.suppression).id  # type: ignore[union-attr]


def test_history_round_trips_through_json() -> None:
    """History.to_json / from_json keep attempts, the first attempt (UTC) and channels; bad input is named."""
    history = History(attempts=3, first_attempt_at=NOW - timedelta(hours=5), channels=("kakao", "sms"))
    assert {"attempts": 3, "first_attempt_at": "2026-11-24T05:00:00Z", "channels": ["kakao", "sms"]} == \
        history.to_json()
    assert history == History.from_json(history.to_json())
    with pytest.raises(InvalidOutcomeError, match="first_attempt_at"):
        History.from_json({"attempts": 1, "first_attempt_at": "yesterday"})
    with pytest.raises(InvalidOutcomeError, match="attempts"):
        History.from_json({"attempts": 0})


def test_report_before_sent_is_merged_into_the_keys_message(recorder: Recorder) -> None:
    """p-2's report arrives before `sent(key, p-2)`: sent merges p-2's message into the key's; one message, one
    schedule entry, attempts and reports of both."""
    recorder.sent(key="order-9", provider="infobip", message_id="p-1", channel="sms", at=NOW - timedelta(hours=1))
    recorder.record(outcome("p-1", "absent", sent=NOW - timedelta(hours=1)), now=NOW - timedelta(minutes=50))
    early = recorder.record(outcome("p-2", "absent", sent=NOW), now=NOW + timedelta(minutes=1))
    assert ("p-2", 1) == (early.key, early.attempts)
    merged = recorder.sent(key="order-9", provider="infobip", message_id="p-2", channel="sms", at=NOW)
    assert (2, NOW - timedelta(hours=1), 2) == (merged.attempts, merged.first_attempt_at, len(merged.reports))
    assert (None, merged) == (recorder.history("p-2"), recorder.history("infobip:p-2"))
    due = recorder.due(now=NOW + timedelta(days=3), limit=10)
    assert [("order-9", 3)] == [(entry.key, entry.attempt) for entry in due]
    again = recorder.record(outcome("p-2", "absent", sent=NOW), now=NOW + timedelta(minutes=2))
    assert ("order-9", True, 2) == (again.key, again.duplicate, again.attempts)


def test_a_held_report_before_sent_moves_its_hold_to_the_key(recorder: Recorder) -> None:
    """A credit rejection recorded before `sent`: after the merge the key's message is the one held, and
    resolving the incident releases the key."""
    recorder.record(outcome("p-5", "credits", tenant="acme"), now=NOW)
    recorder.sent(key="order-5", provider="infobip", message_id="p-5", channel="sms", at=NOW, tenant="acme")
    (incident,) = recorder.store.incidents(tenant="acme")
    assert (1, ["order-5"]) == (incident.held, recorder.store.held(incident.id, limit=10))
    resolution = recorder.resolve(incident.id, now=NOW, actor="kim", note="topped up")
    assert ["order-5"] == [entry.key for entry in recorder.due(now=resolution.last_due or NOW)]


def test_reports_older_than_a_final_decision_of_another_attempt_are_superseded(recorder: Recorder) -> None:
    """Status rank is per message: after the resend p-2 is DELIVERED, p-1's late PENDING and its stale failure
    (both done before p-2's delivery) are recorded as superseded and schedule nothing."""
    recorder.sent(key="order-9", provider="infobip", message_id="p-1", channel="sms", at=NOW - timedelta(hours=1))
    recorder.sent(key="order-9", provider="infobip", message_id="p-2", channel="sms", at=NOW - timedelta(minutes=5))
    done = recorder.record(outcome("p-2", "delivered", sent=NOW - timedelta(minutes=5)), now=NOW)
    late = [recorder.record(outcome("p-1", code, sent=NOW - timedelta(hours=1)), now=NOW + timedelta(minutes=n))
            for n, code in enumerate(["pending", "absent"], start=1)]
    assert ("done", [True, True], [None, None]) == (
        done.decision.verdict, [r.superseded for r in late], [r.schedule for r in late])
    assert [] == recorder.due(now=NOW + timedelta(days=3), limit=10)
    history = recorder.history("order-9")
    assert history is not None
    assert [False, True, True] == [r["superseded"] for r in history.reports]
    newer = recorder.record(outcome("p-3", "absent", sent=NOW + timedelta(hours=1)), now=NOW + timedelta(hours=1),
                            key="order-9")
    assert (False, "retry", 3) == (newer.superseded, newer.decision.verdict, newer.attempts)


def test_a_report_that_cannot_be_stored_is_its_own_error_and_its_batch_is_recorded(recorder: Recorder) -> None:
    """A message id with a lone surrogate (from a JSON escape) has no UTF-8 form to store: that report comes back as
    an error naming the field and the fix; the others of its batch are recorded."""
    good, bad = outcome("m-ok", "absent"), outcome("m-\ud800", "absent")
    third = outcome("m-2", "absent")
    results = recorder.record_many([Report(outcome=good), Report(outcome=bad), Report(outcome=third)], now=NOW)
    assert [False, True, False] == [isinstance(result, InvalidOutcomeError) for result in results]
    assert "message_id" in str(results[1])
    assert recorder.history("m-ok") is not None
