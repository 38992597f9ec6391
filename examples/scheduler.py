"""A delayed queue for retries that must not block a worker: `RetryLater` goes in, is replayed when due.

``dlrpolicy.tenacity.retrying`` sleeps inline only for short delays (``max_inline_wait``, 60 s by default).
A retry due tomorrow ends the loop with `RetryLater`; this example keeps those in a heap ordered by
``retry_at`` and, on a fake clock, jumps to the next due time and sends again, passing ``exc.history`` so the
policy's attempt limit and give-up deadline keep counting from the very first attempt.

Messages (a fake Infobip client with realistic codes):

- ``m-1``: phone off twice (error 27), then delivered: short retries, handled inline;
- ``m-2``: the prepaid recipient is out of credit (error 581) on two days, delivered on the third;
- ``m-3``: the US carrier's daily quota is used up (error 542), delivered the next day.

Run it: ``python examples/scheduler.py``
"""

from __future__ import annotations

import heapq
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import attrs
from fake_infobip import (
    ABSENT,
    DAILY_QUOTA,
    DELIVERED,
    OK,
    UNDELIVERABLE,
    USER_NO_CREDIT,
    FakeClock,
    FakeInfobipClient,
    Scripts,
    outcome_from_exception,
    report_to_outcome,
)

from dlrpolicy import Engine, History
from dlrpolicy.tenacity import NotDelivered, RetryLater, retrying

# All times printed are UTC.

#: Safety bound on replays, so a policy change can never turn the example into an endless loop.
MAX_REPLAYS = 50

SCRIPTS: Scripts = {
    "m-1": ("sms", "+821012340001", [(UNDELIVERABLE, ABSENT), (UNDELIVERABLE, ABSENT), (DELIVERED, OK)]),
    "m-2": ("sms", "+821012340002",
            [(UNDELIVERABLE, USER_NO_CREDIT), (UNDELIVERABLE, USER_NO_CREDIT), (DELIVERED, OK)]),
    "m-3": ("sms", "+12025550143", [(UNDELIVERABLE, DAILY_QUOTA), (DELIVERED, OK)]),
}


@attrs.frozen(order=True)
class Scheduled:
    """A send due at ``due``; ``seq`` keeps the heap stable for equal times."""

    due: datetime
    seq: int
    message_id: str = attrs.field(order=False)
    channel: str = attrs.field(order=False)
    history: History | None = attrs.field(order=False)


class DelayedQueue:
    """A heap of sends ordered by due time."""

    def __init__(self) -> None:
        self._heap: list[Scheduled] = []
        self._seq = 0

    def push(self, due: datetime, message_id: str, channel: str, history: History | None) -> None:
        self._seq += 1
        # Policies compute calendar times in their own zones (a next-day retry in America/New_York); one zone
        # in the queue keeps the printed timeline readable.
        heapq.heappush(self._heap, Scheduled(due.astimezone(UTC), self._seq, message_id, channel, history))

    def pop(self) -> Scheduled | None:
        return heapq.heappop(self._heap) if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)


class QuietLogger:
    """Decision events are printed by the scheduler itself here; see send_loop.py for per-attempt lines."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.events.append(fields)


def run(engine: Engine, out: TextIO = sys.stdout) -> dict[str, str]:
    """Send every message; defer RetryLater to the queue and replay it when due.  Returns message -> final."""
    clock = FakeClock()
    client = FakeInfobipClient(SCRIPTS)
    queue = DelayedQueue()
    for message_id in SCRIPTS:
        queue.push(clock(), message_id, "sms", None)
    finals: dict[str, str] = {}
    replays = 0
    while (item := queue.pop()) is not None and replays < MAX_REPLAYS:
        replays += 1
        clock.now = max(clock.now, item.due)
        logger = QuietLogger()
        loop = retrying(engine, history=item.history, clock=clock, sleep=clock.sleep,
                        outcome_from_exception=outcome_from_exception, outcome_from_result=report_to_outcome,
                        logger=logger)
        stamp = f"{clock():%Y-%m-%d %H:%M:%S}"
        try:
            loop(client.send, item.message_id, item.channel)
        except RetryLater as exc:
            decision = exc.decision
            assert decision.retry_at is not None
            channel = decision.channel or item.channel
            queue.push(decision.retry_at, item.message_id, channel, exc.history)
            print(f"{stamp} {item.message_id}: {len(logger.events)} attempt(s), {decision.code.name} -> deferred to "
                  f"{decision.retry_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} on {channel} "
                  f"(attempts so far {exc.history.attempts if exc.history else '?'})", file=out)
            continue
        except NotDelivered as exc:
            finals[item.message_id] = f"{exc.decision.verdict} ({exc.decision.rule})"
        else:
            finals[item.message_id] = f"delivered on {item.channel}, send #{client.attempts[item.message_id]}"
        print(f"{stamp} {item.message_id}: {len(logger.events)} attempt(s) -> {finals[item.message_id]}", file=out)
    for message_id in SCRIPTS:
        finals.setdefault(message_id, "still queued (replay bound reached)")
    print(f"queue empty: {len(queue) == 0}; replays: {replays}", file=out)
    for message_id in SCRIPTS:
        print(f"  final {message_id}: {finals[message_id]}", file=out)
    return finals


if __name__ == "__main__":
    run(Engine.default())
