"""Many writers at once (contract suite): 8 processes record the same 1,000 reports (duplicates, resends of one
key, pending and final out of order) into one store; 4 processes claim from one schedule."""

from __future__ import annotations

import json
import multiprocessing
import random
from collections import Counter
from datetime import timedelta
from pathlib import Path

from dlrpolicy import Engine
from dlrpolicy.state._open import open_store
from dlrpolicy.state._recorder import Recorder
from dlrpolicy.state._store import Report, Store
from tests.state.reports import NOW, outcome

WRITERS = 8
CLAIMERS = 4


def reports() -> tuple[list[tuple[str, str | None, str, str]], dict[str, int], set[str]]:
    """1,000 (message id, key, code, recipient) rows over 250 keys; distinct provider ids per key; opted-out
    recipients."""
    rng = random.Random(14)
    rows: list[tuple[str, str | None, str, str]] = []
    ids: dict[str, int] = {}
    opted: set[str] = set()
    for n in range(250):
        key = f"k-{n:03d}"
        recipient = f"8210{n:08d}"
        attempts = 2 if n % 2 else 1
        ids[key] = attempts
        for attempt in range(attempts):
            message_id, given = (key, None) if attempt == 0 else (f"{key}-r{attempt}", key)
            final = rng.choice(["absent", "delivered", "opted-out"])
            if final == "opted-out":
                opted.add("+" + recipient)
            rows += [(message_id, given, "pending", recipient), (message_id, given, final, recipient)]
    rows += [rng.choice(rows) for _ in range(1000 - len(rows))]
    return rows, ids, opted


def _write(url: str, seed: int, out: str) -> None:
    rows, _, _ = reports()
    random.Random(seed).shuffle(rows)
    recorder = Recorder(Engine.default(default_for_unknown=True), open_store(url))
    done = []
    for start in range(0, len(rows), 25):
        batch = [Report(outcome=outcome(m, code, to=to), key=key) for m, key, code, to in rows[start:start + 25]]
        for result in recorder.record_many(batch, now=NOW):
            assert not isinstance(result, Exception), result
            done.append([result.report, result.duplicate])
    Path(out).write_text(json.dumps(done), encoding="utf-8")


def test_eight_writers_keep_one_history_per_message(state_url: str, store: Store, tmp_path: Path) -> None:
    """Per key attempts == distinct provider ids; one non-duplicate decision per distinct report; one
    suppression entry per recipient."""
    ctx = multiprocessing.get_context("fork")
    outs = [str(tmp_path / f"w{n}.json") for n in range(WRITERS)]
    workers = [ctx.Process(target=_write, args=(state_url, seed, out)) for seed, out in enumerate(outs)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert [0] * WRITERS == [worker.exitcode for worker in workers]
    results = [row for out in outs for row in json.loads(Path(out).read_text(encoding="utf-8"))]
    rows, ids, opted = reports()
    distinct = {(m, code) for m, _, code, _ in rows}
    firsts = Counter(report for report, duplicate in results if not duplicate)
    assert (WRITERS * 1000, len(distinct)) == (len(results), len(firsts))
    assert {1} == set(firsts.values())
    recorder = Recorder(Engine.default(default_for_unknown=True), store)
    for key, expected in ids.items():
        history = recorder.history(key)
        assert history is not None
        assert expected == history.attempts, key
    entries = [e for e in store.suppressions() if e.scope == "recipient"]
    assert sorted(opted) == sorted(e.key for e in entries)


def _claim(url: str, out: str) -> None:
    recorder = Recorder(Engine.default(default_for_unknown=True), open_store(url))
    claimed = []
    while entries := recorder.claim(now=NOW + timedelta(days=1), limit=7, lease="10m"):
        claimed += [entry.key for entry in entries]
    Path(out).write_text(json.dumps(claimed), encoding="utf-8")


def test_four_claimers_never_share_an_entry_inside_its_lease(state_url: str, store: Store, tmp_path: Path) -> None:
    """Every due entry goes to exactly one of four processes; none acks, so after the lease all come back."""
    recorder = Recorder(Engine.default(default_for_unknown=True), store)
    recorder.record_many([Report(outcome=outcome(f"m-{n:03d}", "absent")) for n in range(200)], now=NOW)
    ctx = multiprocessing.get_context("fork")
    outs = [str(tmp_path / f"c{n}.json") for n in range(CLAIMERS)]
    workers = [ctx.Process(target=_claim, args=(state_url, out)) for out in outs]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert [0] * CLAIMERS == [worker.exitcode for worker in workers]
    claimed = [key for out in outs for key in json.loads(Path(out).read_text(encoding="utf-8"))]
    assert (200, 200) == (len(claimed), len(set(claimed)))
    back = recorder.claim(now=NOW + timedelta(days=1, minutes=11), limit=500)
    assert 200 == len(back)
