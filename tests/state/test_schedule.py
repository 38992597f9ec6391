"""The retry schedule (contract suite): entries from decisions, leases, ack, extend, deadlines."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from dlrpolicy import Engine
from dlrpolicy.state._open import open_store
from dlrpolicy.state._recorder import Recorder
from tests.state.conftest import fresh_prefix
from tests.state.reports import NOW, outcome
from tests.state.servers import Monitor


def test_retry_decision_becomes_a_due_entry(recorder: Recorder) -> None:
    """A retry is scheduled at retry_at with its deadline, channel, attempt and rule."""
    result = recorder.record(outcome("m-1", "absent"), now=NOW)
    (entry,) = recorder.due(now=result.decision.retry_at or NOW)
    assert ("m-1", "retry", result.decision.retry_at, result.decision.give_up_at, "sms", 2, result.decision.rule) == (
        entry.key, entry.kind, entry.due_at, entry.deadline, entry.channel, entry.attempt, entry.rule)
    assert [] == recorder.due(now=NOW)


def test_wait_with_check_at_is_scheduled_as_a_check(recorder: Recorder) -> None:
    """PENDING with a check time becomes a check entry."""
    result = recorder.record(outcome("m-1", "pending"), now=NOW)
    (entry,) = recorder.due(now=NOW + timedelta(days=1))
    assert ("check", result.decision.check_at) == (entry.kind, entry.due_at)


def test_newer_report_replaces_the_entry_and_a_duplicate_never_reschedules(recorder: Recorder) -> None:
    """Delivered after a retry removes the entry; the old report again changes nothing."""
    recorder.record(outcome("m-1", "absent"), now=NOW)
    recorder.record(outcome("m-1", "delivered", done=NOW), now=NOW)
    recorder.record(outcome("m-1", "absent"), now=NOW + timedelta(minutes=5))
    assert [] == recorder.due(now=NOW + timedelta(days=3))


def test_claim_leases_each_entry_once_until_the_lease_ends(recorder: Recorder) -> None:
    """Claimed entries are not handed out again inside the lease; after it they are (at-least-once)."""
    for n in range(5):
        recorder.record(outcome(f"m-{n}", "absent"), now=NOW)
    later = NOW + timedelta(hours=1)
    first = recorder.claim(now=later, limit=3, lease="60s")
    second = recorder.claim(now=later, limit=10, lease="60s")
    assert (3, 2) == (len(first), len(second))
    assert set() == {e.key for e in first} & {e.key for e in second}
    assert [] == recorder.claim(now=later + timedelta(seconds=30), limit=10)
    again = recorder.claim(now=later + timedelta(seconds=61), limit=10)
    assert sorted(e.key for e in first + second) == sorted(e.key for e in again)


def test_ack_removes_for_good_and_extend_renews(recorder: Recorder) -> None:
    """An acked entry never comes back; an extended lease holds past its first end."""
    for n in range(2):
        recorder.record(outcome(f"m-{n}", "absent"), now=NOW)
    later = NOW + timedelta(hours=1)
    acked, kept = recorder.claim(now=later, limit=2, lease="60s")
    assert acked.token is not None
    assert kept.token is not None
    assert recorder.ack(acked.token)
    assert not recorder.ack(acked.token)
    assert recorder.extend(kept.token, now=later + timedelta(seconds=50), lease="60s")
    assert [] == recorder.claim(now=later + timedelta(seconds=90), limit=10)
    (back,) = recorder.claim(now=later + timedelta(seconds=111), limit=10)
    assert kept.key == back.key
    assert not recorder.ack(kept.token)


def test_entry_past_its_deadline_ends_as_the_exhausted_decision(recorder: Recorder) -> None:
    """Claimed after the give-up deadline: not handed out; the rule's on_exhausted decision is recorded."""
    result = recorder.record(outcome("m-1", "absent"), now=NOW)
    assert result.decision.give_up_at is not None
    assert [] == recorder.claim(now=result.decision.give_up_at + timedelta(minutes=1), limit=10)
    history = recorder.history("m-1")
    assert history is not None
    last = history.reports[-1]["decision"]
    assert ("suppress", True) == (last["verdict"], "Gave up" in last["reason"])
    assert [] == recorder.due(now=result.decision.give_up_at + timedelta(days=1))


def test_four_workers_each_claim_an_entry_once_per_lease(recorder: Recorder) -> None:
    """Workers taking turns: every entry claimed once; a dead worker's entries come back after its lease."""
    for n in range(40):
        recorder.record(outcome(f"m-{n:02d}", "absent"), now=NOW)
    later = NOW + timedelta(hours=1)
    claimed = {w: recorder.claim(now=later, limit=7, lease="60s") for w in range(4)}
    keys = [e.key for entries in claimed.values() for e in entries]
    assert len(keys) == len(set(keys)) == 28
    for worker in (0, 1, 2):  # worker 3 dies without acking
        for entry in claimed[worker]:
            assert entry.token is not None
            assert recorder.ack(entry.token)
    rest = recorder.claim(now=later, limit=100)
    assert 12 == len(rest)
    back = recorder.claim(now=later + timedelta(minutes=2), limit=100)
    assert sorted(e.key for e in claimed[3] + rest) == sorted(e.key for e in back)


def test_claim_takes_the_earliest_entries_across_tenants(recorder: Recorder) -> None:
    """Tenant "aaa"'s entries come due after tenant "zzz"'s: a claim of three takes zzz's, whatever the tenants'
    names; the next claim takes aaa's."""
    for tenant, start in (("aaa", NOW + timedelta(minutes=10)), ("zzz", NOW)):
        for n in range(3):
            recorder.record(outcome(f"{tenant}-{n}", "absent", tenant=tenant, sent=start), now=start)
    later = NOW + timedelta(hours=2)
    assert ["zzz"] * 3 == [e.tenant for e in recorder.due(now=later, limit=3)]
    first = recorder.claim(now=later, limit=3)
    second = recorder.claim(now=later, limit=3)
    assert (["zzz"] * 3, ["aaa"] * 3) == ([e.tenant for e in first], [e.tenant for e in second])


def test_redis_claim_is_a_few_round_trips_whatever_the_tenants(redis_url: str) -> None:
    """40 tenants: a claim reads every tenant's schedule in one pipelined round (one ZRANGEBYSCORE each) and
    claims with one script call per tenant it takes from; the maximum-hold sweep runs once a minute of `now`,
    not on every claim."""
    recorder = Recorder(Engine.default(default_for_unknown=True),
                        open_store(f"{redis_url}?prefix={fresh_prefix()}"))
    for n in range(40):
        recorder.record(outcome(f"m-{n}", "absent", tenant=f"t{n:02d}", sent=NOW + timedelta(seconds=n)),
                        now=NOW + timedelta(seconds=n))
    later = NOW + timedelta(hours=2)
    recorder.claim(now=later, limit=2)
    earliest = [e.key for e in recorder.due(now=later + timedelta(seconds=30), limit=2)]
    with Monitor(redis_url) as monitor:
        claimed = recorder.claim(now=later + timedelta(seconds=30), limit=2)
    assert earliest == [e.key for e in claimed]
    assert {"SMEMBERS": 1, "ZRANGEBYSCORE": 40, "EVALSHA": 2} == dict(Counter(monitor.names()))


def test_due_leaves_out_entries_past_their_deadline(recorder: Recorder) -> None:
    """`due(exhausted=False)` (what `dlrpolicy due` prints) shows what a claim would hand out: not entries past
    their deadline, which a claim ends as exhausted instead; the limit counts the entries shown."""
    first = recorder.record(outcome("m-1", "absent", sent=NOW - timedelta(hours=47)), now=NOW - timedelta(hours=46))
    recorder.record(outcome("m-2", "absent"), now=NOW)
    assert first.decision.give_up_at is not None
    assert first.decision.give_up_at < NOW + timedelta(days=1)
    later = NOW + timedelta(days=1)
    assert (["m-2"], ["m-1", "m-2"]) == ([e.key for e in recorder.due(now=later, limit=1, exhausted=False)],
                                         sorted(e.key for e in recorder.due(now=later)))
