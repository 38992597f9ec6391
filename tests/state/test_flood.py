"""Flood control (contract suite): a 429 storm opens the breaker, the budget holds retries at its share, probes
close the breaker again."""

from __future__ import annotations

import math
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from dlrpolicy import Engine
from dlrpolicy.policy._layers import compile_layers
from dlrpolicy.state._open import open_store
from dlrpolicy.state._recorder import Recorder
from dlrpolicy.state._redis import RedisStore
from dlrpolicy.state._sqlite import SQLiteStore
from dlrpolicy.state._store import Report, Store
from tests.conftest import small_layer
from tests.state.conftest import fresh_prefix
from tests.state.reports import NOW, outcome

# The small test policy retries chat 7017 after 10s; marked as a flood code, the breaker counts it.
FLOOD = """
[[patch]]
id = "rate-limit"
flood = true
"""


@pytest.fixture
def flood_recorder(store: Store) -> Recorder:
    """The small policy with 7017 marked ``flood = true``."""
    return Recorder(Engine(compile_layers([small_layer(), small_layer(FLOOD, source="flood.toml", name="flood")])),
                    store)


def _storm(recorder: Recorder, codes: list[str], *, start: int, at: int) -> list[object]:
    reports = [Report(outcome=outcome(f"w-{start + n:04d}", code, channel="whatsapp"))
               for n, code in enumerate(codes)]
    return [recorder.record_many([r], now=NOW + timedelta(seconds=at))[0] for r in reports]


def test_storm_opens_the_breaker_and_probes_close_it(flood_recorder: Recorder) -> None:
    """100 x 7017 in a minute: the breaker opens and defers retries to its end; a delivered probe closes it."""
    recorder = flood_recorder
    results = _storm(recorder, ["too-many"] * 120, start=0, at=0)
    notes = [" ".join(r.flood) for r in results]  # type: ignore[attr-defined]
    opened = [n for n, note in enumerate(notes) if "opened" in note]
    assert [99] == opened  # the 100th report reaches the minimum volume
    assert "circuit breaker infobip:whatsapp opened: 100 of 100 reports" in results[99].decision.reason  # type: ignore[attr-defined]
    assert all(r.decision.retry_at >= NOW + timedelta(seconds=30) for r in results[99:])  # type: ignore[attr-defined]
    probe = _storm(recorder, ["delivered"], start=500, at=40)[0]
    assert any("closed" in note for note in probe.flood)  # type: ignore[attr-defined]
    after = _storm(recorder, ["absent"], start=600, at=41)[0]
    assert not any("breaker" in note for note in after.flood)  # type: ignore[attr-defined]


def test_failed_probe_doubles_the_break(flood_recorder: Recorder) -> None:
    """A probe that fails again reopens the breaker for twice as long."""
    recorder = flood_recorder
    _storm(recorder, ["too-many"] * 110, start=0, at=0)
    probe = _storm(recorder, ["too-many"], start=500, at=40)[0]
    assert any("open again for 1m" in note for note in probe.flood)  # type: ignore[attr-defined]


def test_budget_holds_retries_at_its_share(store: Store, small_engine: Engine) -> None:
    """Short retries (10s); past 20% of the route's reports (floor 10) they are deferred, with a reason."""
    recorder = Recorder(small_engine, store)
    codes = (["delivered"] * 2 + ["too-many"]) * 60  # 180 reports, a third of them would retry
    results = _storm(recorder, codes, start=0, at=0)
    retries = [r for r in results if r.decision.verdict == "retry"]  # type: ignore[attr-defined]
    budgeted = [r for r in retries if any("retry budget" in n for n in r.flood)]  # type: ignore[attr-defined]
    assert 60 == len(retries)
    assert budgeted
    assert len(retries) - len(budgeted) <= max(10, 0.2 * 180) + 1
    assert "retry budget of infobip:whatsapp spent" in budgeted[0].decision.reason  # type: ignore[attr-defined]
    # Due times: no minute carries more retries than the budget allows (deferred ones count where they land),
    # and the deferred ones spread over the following window in 10s slots instead of all landing in one.
    slots = Counter(int(r.decision.retry_at.timestamp()) // 10 for r in retries)  # type: ignore[attr-defined]
    first, last = min(slots), max(slots)
    per_minute = [sum(slots.get(s, 0) for s in range(start, start + 6)) for start in range(first - 5, last + 1)]
    assert max(per_minute) <= max(10, 0.2 * 181)
    deferred = Counter(int(r.decision.retry_at.timestamp()) // 10 for r in budgeted)  # type: ignore[attr-defined]
    assert len(deferred) >= 3
    assert max(deferred.values()) <= math.ceil(0.2 * 181 / 6)


def test_entries_ended_past_their_deadline_do_not_count_as_traffic(flood_recorder: Recorder) -> None:
    """A worker catching up ends 120 rate-limited messages past their deadline at once: re-recording their last
    reports counts in no budget and no breaker, so the next real report finds the route closed."""
    recorder = flood_recorder
    for n in range(120):  # two a second apart: never 100 reports in a minute
        recorder.record(outcome(f"w-{n:04d}", "too-many", channel="whatsapp"), now=NOW + timedelta(seconds=2 * n))
    later = NOW + timedelta(days=3)
    assert [] == recorder.claim(now=later, limit=500)
    history = recorder.history("w-0119")
    assert history is not None
    assert "Gave up" in history.reports[-1]["decision"]["reason"]
    fresh = [recorder.record(outcome(f"x-{n:04d}", "too-many", channel="whatsapp", sent=later), now=later)
             for n in range(99)]
    assert {"retry"} == {r.decision.verdict for r in fresh}
    assert [] == [r.flood for r in fresh if any("breaker" in note for note in r.flood)]


def test_a_storm_recorded_in_one_batch_opens_the_breaker(flood_recorder: Recorder) -> None:
    """120 x 7017 in one record_many call: each report sees the batch's earlier ones (Redis reads a batch's
    counters once), so the 100th opens the breaker as it does one report at a time."""
    reports = [Report(outcome=outcome(f"w-{n:04d}", "too-many", channel="whatsapp")) for n in range(120)]
    results = flood_recorder.record_many(reports, now=NOW)
    opened = [n for n, r in enumerate(results) if any("opened" in note for note in r.flood)]  # type: ignore[union-attr]
    assert [99] == opened


def test_both_stores_count_a_batch_alike(tmp_path: Path, redis_url: str) -> None:
    """One batch of mixed reports (retries counted where they come due, flood failures, finals) leaves the same
    counters on SQLite (summed in memory) and on Redis (summed in the batch's script)."""
    engine = Engine(compile_layers([small_layer(), small_layer(FLOOD, source="flood.toml", name="flood")]))
    codes = ["too-many", "delivered", "absent", "too-many", "pending", "too-many"]
    reports = [Report(outcome=outcome(f"m-{n:03d}", codes[n % len(codes)], channel="whatsapp")) for n in range(60)]
    sqlite = SQLiteStore(tmp_path / "state.db")
    redis_store = open_store(f"{redis_url}{'&' if '?' in redis_url else '?'}prefix={fresh_prefix()}")
    assert isinstance(redis_store, RedisStore)
    for store in (sqlite, redis_store):
        Recorder(engine, store).record_many(reports, now=NOW)
    rows = sqlite._conn.execute("SELECT route, bucket, reports, retries, failures FROM flood").fetchall()
    routes = {route for route, *_ in rows}
    in_sqlite = {(route, f"{kind}{bucket}"): n for route, bucket, *counts in rows
                 for kind, n in zip("rxf", counts, strict=True) if n}
    in_redis = {(route, field): int(n) for route in routes
                for field, n in redis_store.client.hgetall(redis_store.key("_", f"fc:{route}")).items()
                if field[0] in "rxf" and int(n)}
    sqlite.close()
    redis_store.close()
    assert (True, in_sqlite) == (bool(in_sqlite), in_redis)
