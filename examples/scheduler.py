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
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

import attrs

from dlrpolicy import CodeRef, Engine, History, Outcome
from dlrpolicy.tenacity import NotDelivered, RetryLater, retrying

# All times printed are UTC.

START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
#: Safety bound on replays, so a policy change can never turn the example into an endless loop.
MAX_REPLAYS = 50

OK = {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR", "permanent": False}
DELIVERED = {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET"}
UNDELIVERABLE = {"groupId": 2, "groupName": "UNDELIVERABLE", "id": 9, "name": "UNDELIVERABLE_NOT_DELIVERED"}
ABSENT = {"groupId": 1, "groupName": "HANDSET_ERRORS", "id": 27, "name": "EC_ABSENT_SUBSCRIBER", "permanent": False}
USER_NO_CREDIT = {"groupId": 1, "groupName": "HANDSET_ERRORS", "id": 581, "name": "EC_USER_OUT_OF_CREDIT",
                  "permanent": False}
DAILY_QUOTA = {"groupId": 2, "groupName": "USER_ERRORS", "id": 542, "name": "EC_QUOTA_REACHED", "permanent": False}

#: message id -> (recipient, reports on successive sends; the last one repeats)
SCRIPTS: dict[str, tuple[str, list[tuple[dict[str, Any], dict[str, Any]]]]] = {
    "m-1": ("+821012340001", [(UNDELIVERABLE, ABSENT), (UNDELIVERABLE, ABSENT), (DELIVERED, OK)]),
    "m-2": ("+821012340002", [(UNDELIVERABLE, USER_NO_CREDIT), (UNDELIVERABLE, USER_NO_CREDIT), (DELIVERED, OK)]),
    "m-3": ("+12025550143", [(UNDELIVERABLE, DAILY_QUOTA), (DELIVERED, OK)]),
}


class FakeClock:
    """One clock for the whole pipeline: sleeping advances it, and the scheduler jumps it to due times."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeInfobipClient:
    """Returns the next scripted delivery report; a non-delivered one is raised as InfobipReportError."""

    def __init__(self) -> None:
        self.sends: dict[str, int] = {}

    def send(self, message_id: str, channel: str) -> dict[str, Any]:
        recipient, script = SCRIPTS[message_id]
        count = self.sends.get(message_id, 0)
        self.sends[message_id] = count + 1
        status, error = script[min(count, len(script) - 1)]
        report = {"messageId": message_id, "to": recipient, "channel": channel, "status": status, "error": error}
        if status["groupId"] != 3:
            raise InfobipReportError(report)
        return report


class InfobipReportError(Exception):
    """A delivery report that is not a success."""

    def __init__(self, report: dict[str, Any]) -> None:
        super().__init__(report["error"]["name"])
        self.report = report


def _code(data: dict[str, Any]) -> CodeRef:
    return CodeRef(id=data["id"], group_id=data.get("groupId"), name=data.get("name"),
                   permanent=data.get("permanent"), group_name=data.get("groupName"))


def report_to_outcome(report: dict[str, Any]) -> Outcome:
    """One report as an Outcome."""
    return Outcome(provider="infobip", channel=report["channel"], status=_code(report["status"]),
                   error=_code(report["error"]), message_id=report["messageId"], recipient=report["to"])


def outcome_from_exception(exc: Exception) -> Outcome | None:
    """Report errors carry an outcome; other exceptions propagate."""
    return report_to_outcome(exc.report) if isinstance(exc, InfobipReportError) else None


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
    client = FakeInfobipClient()
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
            finals[item.message_id] = f"delivered on {item.channel}, send #{client.sends[item.message_id]}"
        print(f"{stamp} {item.message_id}: {len(logger.events)} attempt(s) -> {finals[item.message_id]}", file=out)
    for message_id in SCRIPTS:
        finals.setdefault(message_id, "still queued (replay bound reached)")
    print(f"queue empty: {len(queue) == 0}; replays: {replays}", file=out)
    for message_id in SCRIPTS:
        print(f"  final {message_id}: {finals[message_id]}", file=out)
    return finals


if __name__ == "__main__":
    run(Engine.default())
