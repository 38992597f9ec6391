"""The send loop of send_loop.py with asyncio: many messages in flight at once, each with the whole policy.

``dlrpolicy.tenacity.async_retrying`` returns a ``tenacity.AsyncRetrying``; ``.wraps`` gives every call its own
retry state, so one configured loop serves all concurrent messages.  A semaphore bounds how many are in
flight.  The client is a fake that yields to the event loop on every call (as real I/O would), and sleeping
advances a fake clock per message, so the example runs offline in well under a second.  As in send_loop.py,
a `RetryLater` is resumed at its ``retry_at`` with ``exc.history`` (standing in for scheduler.py).

Run it: ``python examples/async_send_loop.py``
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from dlrpolicy import CodeRef, Engine, Outcome
from dlrpolicy.tenacity import Escalated, NotDelivered, Pending, RetryLater, Suppressed, async_retrying

START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
MAX_IN_FLIGHT = 3
#: Bound on deferred retries resumed per message, so no policy can make the example run on and on.
MAX_RESUMES = 10

OK = {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR", "permanent": False}
DELIVERED = {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET"}
UNDELIVERABLE = {"groupId": 2, "groupName": "UNDELIVERABLE", "id": 9, "name": "UNDELIVERABLE_NOT_DELIVERED"}
REJECTED_CREDITS = {"groupId": 5, "groupName": "REJECTED", "id": 12, "name": "REJECTED_NOT_ENOUGH_CREDITS"}
ABSENT = {"groupId": 1, "groupName": "HANDSET_ERRORS", "id": 27, "name": "EC_ABSENT_SUBSCRIBER", "permanent": False}
USER_NO_CREDIT = {"groupId": 1, "groupName": "HANDSET_ERRORS", "id": 581, "name": "EC_USER_OUT_OF_CREDIT",
                  "permanent": False}
HARD_BOUNCE = {"groupId": 2, "groupName": "BOUNCED", "id": 6012, "name": "EC_HARD_BOUNCE", "permanent": True}

#: message id -> (channel, recipient, the reports the provider gives on successive attempts)
MESSAGES: dict[str, tuple[str, str, list[tuple[dict[str, Any], dict[str, Any]]]]] = {
    "m-1": ("sms", "+821012340001", [(UNDELIVERABLE, ABSENT), (DELIVERED, OK)]),
    "m-2": ("sms", "+821012340002", [(UNDELIVERABLE, USER_NO_CREDIT), (UNDELIVERABLE, USER_NO_CREDIT),
                                     (DELIVERED, OK)]),
    "m-3": ("sms", "+821012340003", [(REJECTED_CREDITS, OK)]),
    "m-4": ("email", "kim@example.com", [(UNDELIVERABLE, HARD_BOUNCE)]),
    "m-5": ("sms", "+821012340005", [(UNDELIVERABLE, ABSENT), (UNDELIVERABLE, ABSENT), (DELIVERED, OK)]),
    "m-6": ("sms", "+821012340006", [(DELIVERED, OK)]),
}


class FakeClock:
    """A message's own time: moves only when its loop sleeps."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        await asyncio.sleep(0)  # give the other messages a turn, as a real sleep would


class InfobipReportError(Exception):
    """What the fake client raises when the delivery report is not a success."""

    def __init__(self, report: dict[str, Any]) -> None:
        super().__init__(report["error"]["name"])
        self.report = report


class FakeAsyncInfobipClient:
    """Async send returning the delivery report; tracks how many sends are in flight at once."""

    def __init__(self) -> None:
        self.attempts: dict[str, int] = {}
        self.in_flight = 0
        self.peak_in_flight = 0

    async def send(self, message_id: str) -> dict[str, Any]:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)  # the network round trip
            channel, recipient, script = MESSAGES[message_id]
            attempt = self.attempts.get(message_id, 0)
            self.attempts[message_id] = attempt + 1
            status, error = script[min(attempt, len(script) - 1)]
            report = {"messageId": message_id, "to": recipient, "channel": channel, "status": status,
                      "error": error}
            if status["groupId"] != 3:
                raise InfobipReportError(report)
            return report
        finally:
            self.in_flight -= 1


def _code(data: dict[str, Any]) -> CodeRef:
    return CodeRef(id=data["id"], group_id=data.get("groupId"), name=data.get("name"),
                   permanent=data.get("permanent"), group_name=data.get("groupName"))


def report_to_outcome(report: dict[str, Any]) -> Outcome:
    """One report as an Outcome."""
    return Outcome(provider="infobip", channel=report["channel"], status=_code(report["status"]),
                   error=_code(report["error"]), message_id=report["messageId"], recipient=report["to"],
                   tenant="acme")


def outcome_from_exception(exc: Exception) -> Outcome | None:
    """Report errors carry an outcome; other exceptions propagate."""
    return report_to_outcome(exc.report) if isinstance(exc, InfobipReportError) else None


class LinesLogger:
    """Collects each attempt's `decision` event as a line under its message (concurrent output stays grouped)."""

    def __init__(self) -> None:
        self.lines: dict[str, list[str]] = {}

    def note(self, message_id: str, line: str) -> None:
        self.lines.setdefault(message_id, []).append(line)

    def info(self, event: str, **fields: Any) -> None:
        when = f" at {datetime.fromisoformat(fields['retry_at']):%Y-%m-%d %H:%M:%S}" if fields.get("retry_at") else ""
        self.lines.setdefault(fields["message_id"], []).append(
            f"  attempt {fields['attempt'] - 1}: {fields['code_name']} -> {fields['verdict']}{when} "
            f"(rule {fields['rule']})")


def final_line(exc: NotDelivered) -> str:
    """What the pipeline does with a loop that ended without delivering."""
    decision = exc.decision
    if isinstance(exc, RetryLater):
        channel = f" on {decision.channel}" if decision.channel else ""
        return f"retry later at {decision.retry_at:%Y-%m-%d %H:%M %Z}{channel}: hand to the scheduler"
    if isinstance(exc, Suppressed):
        scope = decision.suppress.scope if decision.suppress else "message"
        return f"suppressed ({scope}): do not resend"
    if isinstance(exc, Escalated):
        route = decision.escalate.route if decision.escalate else "support"
        return f"escalated to {route}: message held"
    if isinstance(exc, Pending):
        return "pending: wait for the delivery report"
    return decision.verdict


async def run_async(engine: Engine) -> tuple[dict[str, str], LinesLogger, FakeAsyncInfobipClient]:
    """Send all messages concurrently (at most MAX_IN_FLIGHT at once); return message -> final outcome."""
    client = FakeAsyncInfobipClient()
    logger = LinesLogger()
    gate = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def deliver(message_id: str) -> str:
        clock = FakeClock()
        history = None
        for _ in range(MAX_RESUMES):
            send = async_retrying(engine, history=history, clock=clock, sleep=clock.sleep, logger=logger,
                                  outcome_from_exception=outcome_from_exception,
                                  outcome_from_result=report_to_outcome).wraps(client.send)
            async with gate:
                try:
                    report = await send(message_id)
                except RetryLater as exc:
                    logger.note(message_id, f"  deferred: {final_line(exc)}")
                    clock.now, history = exc.decision.retry_at or clock.now, exc.history  # what the scheduler would do
                    continue
                except NotDelivered as exc:
                    return final_line(exc)
            return f"delivered ({report['status']['name']}) after {client.attempts[message_id]} attempt(s)"
        return f"still deferred after {MAX_RESUMES} resumes"

    finals = await asyncio.gather(*(deliver(message_id) for message_id in MESSAGES))
    return dict(zip(MESSAGES, finals, strict=True)), logger, client


def run(engine: Engine, out: TextIO = sys.stdout) -> dict[str, str]:
    """Run the concurrent send loop and print, per message, each attempt's decision and the final outcome."""
    finals, logger, client = asyncio.run(run_async(engine))
    for message_id, (channel, recipient, _) in MESSAGES.items():
        print(f"{message_id} ({channel} to {recipient})", file=out)
        for line in logger.lines.get(message_id, []):
            print(line, file=out)
        print(f"  final: {finals[message_id]}", file=out)
    print(f"peak sends in flight: {client.peak_in_flight} (limit {MAX_IN_FLIGHT})", file=out)
    return finals


if __name__ == "__main__":
    run(Engine.default())
