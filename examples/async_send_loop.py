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
from datetime import datetime
from typing import Any, TextIO

from fake_infobip import (
    ABSENT,
    DELIVERED,
    HARD_BOUNCE,
    OK,
    REJECTED_CREDITS,
    UNDELIVERABLE,
    USER_NO_CREDIT,
    FakeClock,
    FakeInfobipClient,
    Report,
    Scripts,
    final_line,
    outcome_from_exception,
    report_to_outcome,
)

from dlrpolicy import Engine
from dlrpolicy.tenacity import NotDelivered, RetryLater, async_retrying

MAX_IN_FLIGHT = 3
#: Bound on deferred retries resumed per message, so no policy can make the example run on and on.
MAX_RESUMES = 10

#: message id -> (channel, recipient, the reports the provider gives on successive attempts)
MESSAGES: Scripts = {
    "m-1": ("sms", "+821012340001", [(UNDELIVERABLE, ABSENT), (DELIVERED, OK)]),
    "m-2": ("sms", "+821012340002", [(UNDELIVERABLE, USER_NO_CREDIT), (UNDELIVERABLE, USER_NO_CREDIT),
                                     (DELIVERED, OK)]),
    "m-3": ("sms", "+821012340003", [(REJECTED_CREDITS, OK)]),
    "m-4": ("email", "kim@example.com", [(UNDELIVERABLE, HARD_BOUNCE)]),
    "m-5": ("sms", "+821012340005", [(UNDELIVERABLE, ABSENT), (UNDELIVERABLE, ABSENT), (DELIVERED, OK)]),
    "m-6": ("sms", "+821012340006", [(DELIVERED, OK)]),
}


class FakeAsyncInfobipClient:
    """Async send over the scripted client; tracks how many sends are in flight at once."""

    def __init__(self) -> None:
        self.client = FakeInfobipClient(MESSAGES)
        self.attempts = self.client.attempts
        self.in_flight = 0
        self.peak_in_flight = 0

    async def send(self, message_id: str) -> Report:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)  # the network round trip
            return self.client.send(message_id)
        finally:
            self.in_flight -= 1


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


async def run_async(engine: Engine) -> tuple[dict[str, str], LinesLogger, FakeAsyncInfobipClient]:
    """Send all messages concurrently (at most MAX_IN_FLIGHT at once); return message -> final outcome."""
    client = FakeAsyncInfobipClient()
    logger = LinesLogger()
    gate = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def deliver(message_id: str) -> str:
        clock = FakeClock()
        history = None
        for _ in range(MAX_RESUMES):
            send = async_retrying(engine, history=history, clock=clock, sleep=clock.sleep_async, logger=logger,
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
    # The messages belong to tenant "acme", which has no policy file: it gets the default policy.
    run(Engine.default(default_for_unknown=True))
