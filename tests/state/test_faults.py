"""Crashes and restarts: a writer killed with SIGKILL in the middle of a batch, and a Redis server killed and
restarted under a running ``dlrpolicy evaluate --state``; after a rerun the state is that of one clean run."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

import dlrpolicy.state._recorder as recorder_module
from dlrpolicy import Engine
from dlrpolicy.state._failures import CorruptStoreError, StoreUnavailableError
from dlrpolicy.state._open import open_store
from dlrpolicy.state._recorder import Recorder
from dlrpolicy.state._redis import RedisStore
from dlrpolicy.state._store import Report, Store
from tests.state.conftest import fresh_prefix
from tests.state.reports import NOW, outcome, report
from tests.state.servers import ValkeyServer

CODES = ["absent", "delivered", "opted-out", "credits", "pending"]


def _reports() -> list[Report]:
    return [Report(outcome=outcome(f"m-{n:03d}", CODES[n % len(CODES)], to=f"8210{n:08d}", tenant="acme"))
            for n in range(120)]


def _record(url: str, kill_after: int | None) -> None:
    recorder = Recorder(Engine.default(default_for_unknown=True), open_store(url))
    if kill_after is not None:
        real = recorder_module.apply_report
        calls = [0]

        def dying(*args: Any, **kwargs: Any) -> Any:
            calls[0] += 1
            if calls[0] > kill_after:  # mid-batch: earlier reports of this batch are written, not committed
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)

        recorder_module.apply_report = dying  # type: ignore[assignment]
    reports = _reports()
    for start in range(0, len(reports), 40):
        recorder.record_many(reports[start:start + 40], now=NOW)


def dump(store: Store, keys: list[str] | None = None) -> dict[str, Any]:
    """Everything the store holds that a report can change, in a comparable form."""
    recorder = Recorder(Engine.default(default_for_unknown=True), store)
    histories = {}
    for key in keys or [f"m-{n:03d}" for n in range(120)]:
        found = recorder.history(key, tenant="acme")
        histories[key] = None if found is None else (found.attempts, found.reports, found.held_by)
    return {
        "histories": histories,
        "suppressions": sorted(json.dumps(e.to_json(), sort_keys=True) for e in store.suppressions()),
        "due": [e.to_json() for e in recorder.due(now=NOW + timedelta(days=30), limit=1000)],
        "incidents": [i.to_json() for i in store.incidents()],
    }


def _run(url: str, kill_after: int | None) -> int | None:
    process = multiprocessing.get_context("fork").Process(target=_record, args=(url, kill_after))
    process.start()
    process.join()
    return process.exitcode


def _other_store(state_url: str, tmp_path: Path) -> str:
    if state_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'clean.db'}"
    return state_url.rsplit("prefix=", 1)[0] + f"prefix={fresh_prefix()}"


def test_writer_killed_mid_batch_then_rerun_ends_as_one_clean_run(state_url: str, store: Store,
                                                                  tmp_path: Path) -> None:
    """SIGKILL after 60 of 120 reports (inside the second batch), then the whole input again."""
    assert -signal.SIGKILL == _run(state_url, kill_after=60)
    assert 0 == _run(state_url, kill_after=None)
    clean_url = _other_store(state_url, tmp_path)
    assert 0 == _run(clean_url, kill_after=None)
    with open_store(clean_url) as clean:
        assert dump(clean) == dump(store)


def _pairs() -> list[Report]:
    # Two attempts of each key in the same batch: on Redis the second loses the version race to the first and is
    # written in a second round, so every batch has two write rounds.
    return [Report(outcome=outcome(f"p-{n:03d}{half}", CODES[(n + shift) % len(CODES)], to=f"8210{n:08d}",
                                   tenant="acme"), key=f"k-{n:03d}")
            for n in range(60) for half, shift in (("a", 0), ("b", 2))]


def _record_pairs(url: str, kill_at: int | None) -> None:
    recorder = Recorder(Engine.default(default_for_unknown=True), open_store(url))
    if kill_at is not None:
        real = RedisStore._scripts_round
        calls = [0]

        def dying(self: RedisStore, *args: Any, **kwargs: Any) -> Any:
            calls[0] += 1
            if calls[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(self, *args, **kwargs)

        RedisStore._scripts_round = dying  # type: ignore[method-assign]
    reports = _pairs()
    for start in range(0, len(reports), 40):
        recorder.record_many(reports[start:start + 40], now=NOW)


def test_redis_writer_killed_between_write_rounds_then_rerun_ends_as_one_clean_run(redis_url: str) -> None:
    """A batch partly committed: SIGKILL before the second write round of the second batch (rounds: read,
    write, read, write per batch), so its first attempts are in the store and its second ones are not; a rerun
    of the whole input ends as one clean run."""
    url = f"{redis_url}?prefix={fresh_prefix()}"
    ctx = multiprocessing.get_context("fork")
    killed = ctx.Process(target=_record_pairs, args=(url, 8))
    killed.start()
    killed.join()
    assert -signal.SIGKILL == killed.exitcode
    recorder = Recorder(Engine.default(default_for_unknown=True), open_store(url))
    attempts = [getattr(recorder.history(f"k-{n:03d}", tenant="acme"), "attempts", 0) for n in range(60)]
    assert [2] * 20 + [1] * 20 + [0] * 20 == attempts
    rerun = ctx.Process(target=_record_pairs, args=(url, None))
    rerun.start()
    rerun.join()
    clean_url = f"{redis_url}?prefix={fresh_prefix()}"
    clean = ctx.Process(target=_record_pairs, args=(clean_url, None))
    clean.start()
    clean.join()
    assert (0, 0) == (rerun.exitcode, clean.exitcode)
    keys = [f"k-{n:03d}" for n in range(60)]
    with open_store(clean_url) as fresh, open_store(url) as store:
        assert dump(fresh, keys) == dump(store, keys)


def _lines(process: subprocess.Popen[str], count: int) -> list[dict[str, Any]]:
    assert process.stdout is not None
    return [json.loads(process.stdout.readline()) for _ in range(count)]


def _feed(process: subprocess.Popen[str], first: int, count: int) -> None:
    assert process.stdin is not None
    for n in range(first, first + count):
        process.stdin.write(json.dumps({"report": {"results": [report(f"r-{n:03d}", CODES[n % len(CODES)])]},
                                        "tenant": "acme"}) + "\n")
    process.stdin.flush()


def test_redis_restarted_mid_run_loses_nothing_and_counts_nothing_twice(tmp_path: Path) -> None:
    """Batches recorded before a crash stay; the batch sent while the server is down becomes error records
    (exit 1); after the restart the run goes on; a rerun records exactly what was missing."""
    server = ValkeyServer(tmp_path, durable=True).start()
    url = server.url
    command = [sys.executable, "-m", "dlrpolicy", "evaluate", "--state", url, "--batch", "10",
               "--default-for-unknown-tenants", "--now", "2026-11-24T10:00:00Z"]
    try:
        run = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
        watchdog = threading.Timer(120, run.kill)  # a hung run fails the test instead of hanging it
        watchdog.start()
        _feed(run, 0, 10)
        first = _lines(run, 10)
        server.kill()
        _feed(run, 10, 10)
        failed = _lines(run, 10)
        server.start()
        _feed(run, 20, 10)
        after = _lines(run, 10)
        assert run.stdin is not None
        run.stdin.close()
        assert 1 == run.wait(timeout=60)
        watchdog.cancel()
        assert all("state" in line for line in first + after)
        assert {"StoreUnavailableError"} == {line["error"]["type"] for line in failed}
        rerun = subprocess.run(command, input="".join(
            json.dumps({"report": {"results": [report(f"r-{n:03d}", CODES[n % len(CODES)])]}, "tenant": "acme"})
            + "\n" for n in range(30)), capture_output=True, text=True, timeout=60, check=False)
        assert 0 == rerun.returncode, rerun.stderr
        states = [json.loads(line)["state"] for line in rerun.stdout.splitlines()]
        assert [n not in range(10, 20) for n in range(30)] == [s["duplicate"] for s in states]
        recorder = Recorder(Engine.default(default_for_unknown=True), open_store(url))
        for n in range(30):
            history = recorder.history(f"r-{n:03d}", tenant="acme")
            assert history is not None
            assert (1, 1) == (history.attempts, len(history.reports))
    finally:
        server.stop()


@pytest.mark.parametrize("code", ["absent"])
def test_nothing_scheduled_is_lost_by_a_crash_between_claim_and_ack(state_url: str, store: Store,
                                                                    code: str) -> None:
    """A worker that claimed and died: its entries are due again once the lease ends, never inside it."""
    recorder = Recorder(Engine.default(default_for_unknown=True), store)
    recorder.record_many([Report(outcome=outcome(f"m-{n}", code)) for n in range(5)], now=NOW)
    later = NOW + timedelta(hours=1)
    claimed = recorder.claim(now=later, limit=5, lease="5m")
    assert [] == recorder.claim(now=later + timedelta(minutes=4), limit=5)
    again = recorder.claim(now=later + timedelta(minutes=6), limit=5)
    assert sorted(e.key for e in claimed) == sorted(e.key for e in again)


def test_a_failed_first_write_does_not_hide_the_tenant(tmp_path: Path) -> None:
    """The server is down for a tenant's first write: once it is back, the tenant's next write registers it, so
    list, export, prune and claim see it."""
    server = ValkeyServer(tmp_path).start()
    try:
        recorder = Recorder(Engine.default(default_for_unknown=True), open_store(server.url))
        server.kill()
        with pytest.raises(StoreUnavailableError):
            recorder.sent(key="order-1", provider="infobip", message_id="p-1", channel="sms", at=NOW, tenant="acme")
        with pytest.raises(StoreUnavailableError):
            recorder.import_lines(['{"tenant": "beta", "scope": "template", "key": "promo"}'], now=NOW)
        server.start()
        recorder.sent(key="order-1", provider="infobip", message_id="p-1", channel="sms", at=NOW, tenant="acme")
        recorder.import_lines(['{"tenant": "beta", "scope": "template", "key": "promo"}'], now=NOW)
        assert (["acme", "beta"], ["promo"]) == (recorder.store.tenants(),
                                                 [e.key for e in recorder.store.suppressions()])
    finally:
        server.stop()


def test_an_interrupted_redis_import_is_finished_by_running_it_again(redis_url: str) -> None:
    """Redis applies an import per tenant chunk: when one tenant's chunk fails (its key holds foreign data), the
    others are applied; running the same import again once the key is fixed applies the rest and counts
    nothing twice."""
    prefix = fresh_prefix()
    store = open_store(f"{redis_url}?prefix={prefix}")
    recorder = Recorder(Engine.default(default_for_unknown=True), store)
    client = redis.Redis.from_url(redis_url)
    client.set(f"{prefix}:{{t:beta}}:sup", "not a hash")
    lines = [json.dumps({"tenant": tenant, "scope": "template", "key": f"promo-{n}"})
             for tenant in ("acme", "beta") for n in range(3)]
    with pytest.raises(CorruptStoreError):
        recorder.import_lines(lines, now=NOW)
    assert 3 == len(list(store.suppressions(tenant="acme")))
    client.delete(f"{prefix}:{{t:beta}}:sup")
    recorder.import_lines(lines, now=NOW)
    assert [("acme", 1)] * 3 + [("beta", 1)] * 3 == sorted((e.tenant, e.hits) for e in store.suppressions())


def test_claims_survive_a_redis_crash_and_restart(tmp_path: Path) -> None:
    """Entries claimed before the server is SIGKILLed (append-only, fsync always) and restarted are not handed
    out again inside their lease; after it every entry is, once, and nothing scheduled was lost."""
    server = ValkeyServer(tmp_path, durable=True).start()
    try:
        recorder = Recorder(Engine.default(default_for_unknown=True), open_store(server.url))
        recorder.record_many([Report(outcome=outcome(f"m-{n}", "absent", tenant="acme")) for n in range(10)],
                             now=NOW)
        later = NOW + timedelta(hours=1)
        first = recorder.claim(now=later, limit=4, lease="5m")
        server.kill()
        server.start()
        inside = recorder.claim(now=later + timedelta(minutes=4), limit=20, lease="5m")
        assert (4, 6, set()) == (len(first), len(inside), {e.key for e in first} & {e.key for e in inside})
        after = recorder.claim(now=later + timedelta(minutes=11), limit=20, lease="5m")
        assert sorted(f"m-{n}" for n in range(10)) == sorted(e.key for e in after)
    finally:
        server.stop()
