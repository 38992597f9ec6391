"""A scheduler for retries that must not block a worker: the store's retry schedule, claimed with leases.

``dlrpolicy.tenacity.retrying`` sleeps inline only for short delays (``max_inline_wait``, 60 s by default).
A retry due tomorrow ends the loop with `RetryLater`, and because the loop records through a `Recorder`, the
retry is already in the store's schedule: nothing long is kept in worker memory (nor in a Celery ETA, whose
visibility timeout would redeliver it).  A worker claims due entries with a lease (``claim``), sends, and acks
(``ack``); a worker that dies mid-send leaves its entries to come back when the lease ends.  Attempts and the
give-up deadline keep counting from the very first attempt, because the ledger holds the history.  Here one
worker on a fake clock jumps to the next due time; run several against one Redis for the real thing.

Messages (a fake Infobip client with realistic codes):

- ``m-1``: phone off twice (error 27), then delivered;
- ``m-2``: the prepaid recipient is out of credit (error 581) on two days, delivered on the third;
- ``m-3``: the US carrier's daily quota is used up (error 542), delivered the next day.

Run it: ``python examples/scheduler.py [--state sqlite:///state.db]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any, TextIO

from fake_infobip import (
    ABSENT,
    DAILY_QUOTA,
    DELIVERED,
    OK,
    UNDELIVERABLE,
    USER_NO_CREDIT,
    FakeClock,
    Scripts,
    outcome_from_exception,
    report_to_outcome,
)
from send_loop import ResendingClient

from dlrpolicy import Engine, Recorder, open_store
from dlrpolicy.tenacity import NotDelivered, RetryLater, retrying

# All times printed are UTC.

#: Safety bound on claims, so a policy change can never turn the example into an endless loop.
MAX_REPLAYS = 50

SCRIPTS: Scripts = {
    "m-1": ("sms", "+821012340001", [(UNDELIVERABLE, ABSENT), (UNDELIVERABLE, ABSENT), (DELIVERED, OK)]),
    "m-2": ("sms", "+821012340002",
            [(UNDELIVERABLE, USER_NO_CREDIT), (UNDELIVERABLE, USER_NO_CREDIT), (DELIVERED, OK)]),
    "m-3": ("sms", "+12025550143", [(UNDELIVERABLE, DAILY_QUOTA), (DELIVERED, OK)]),
}


class QuietLogger:
    """Decision events are printed by the scheduler itself here; see send_loop.py for per-attempt lines."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.events.append(fields)

    def warning(self, event: str, **fields: Any) -> None:
        self.events.append(fields)


def run(engine: Engine, out: TextIO = sys.stdout, recorder: Recorder | None = None) -> dict[str, str]:
    """Send every message; replay what the schedule says is due.  Returns message -> final."""
    if recorder is None:
        with tempfile.TemporaryDirectory() as directory:
            store = open_store(f"sqlite:///{Path(directory) / 'state.db'}")
            try:
                return run(engine, out, Recorder(engine, store, logger=QuietLogger()))
            finally:
                store.close()
    clock = FakeClock()
    client = ResendingClient(SCRIPTS)
    finals: dict[str, str] = {}

    def send(message_id: str, channel: str) -> None:
        logger = QuietLogger()
        loop = retrying(engine, clock=clock, sleep=clock.sleep, outcome_from_exception=outcome_from_exception,
                        outcome_from_result=report_to_outcome, logger=logger, recorder=recorder, key=message_id)
        stamp = f"{clock():%Y-%m-%d %H:%M:%S}"
        try:
            loop(client.send, message_id, channel)
        except RetryLater as exc:
            decision = exc.decision
            assert decision.retry_at is not None
            print(f"{stamp} {message_id}: {len(logger.events)} attempt(s), {decision.code.name} -> deferred to "
                  f"{decision.retry_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} on {decision.channel or channel} "
                  f"(attempts so far {exc.history.attempts if exc.history else '?'})", file=out)
            return
        except NotDelivered as exc:
            finals[message_id] = f"{exc.decision.verdict} ({exc.decision.rule})"
        else:
            finals[message_id] = f"delivered on {channel}, send #{client.attempts[message_id]}"
        print(f"{stamp} {message_id}: {len(logger.events)} attempt(s) -> {finals[message_id]}", file=out)

    for message_id, (channel, _, _) in SCRIPTS.items():
        send(message_id, channel)
    replays = 0
    while replays < MAX_REPLAYS:
        upcoming = recorder.due(now=clock() + timedelta(days=365), limit=1)
        if not upcoming:
            break
        clock.now = max(clock.now, upcoming[0].due_at)  # a real worker polls `claim` every few seconds instead
        for entry in recorder.claim(now=clock(), limit=10, lease="5m"):
            replays += 1
            send(entry.key, entry.channel or "sms")
            assert entry.token is not None
            recorder.ack(entry.token)  # False when the send rescheduled it: the newer entry stays
    for message_id in SCRIPTS:
        finals.setdefault(message_id, "still scheduled (replay bound reached)")
    print(f"queue empty: {not recorder.due(now=clock() + timedelta(days=365))}; replays: {replays}", file=out)
    for message_id in SCRIPTS:
        print(f"  final {message_id}: {finals[message_id]}", file=out)
    return finals


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The scheduler example.")
    parser.add_argument("--state", help="the store (default: a temporary SQLite file)")
    args = parser.parse_args()
    # The messages belong to tenant "acme", which has no policy file: it gets the default policy.
    engine = Engine.default(default_for_unknown=True)
    if args.state:
        run(engine, recorder=Recorder(engine, open_store(args.state), logger=QuietLogger()))
    else:
        run(engine)
