"""A send loop that gets the whole retry policy by wrapping its send call.

A fake Infobip client plays four messages with realistic codes:

- ``m-1``: the phone is off (error 27 EC_ABSENT_SUBSCRIBER), then the report says DELIVERED_TO_HANDSET;
- ``m-2``: the prepaid recipient is out of credit (error 581 EC_USER_OUT_OF_CREDIT) for two days, then tops up;
- ``m-3``: our account is out of credit (status 12 REJECTED_NOT_ENOUGH_CREDITS);
- ``m-4``: an email hard-bounces (error 6012 EC_HARD_BOUNCE).

There is no ``if code in (...)`` anywhere: ``dlrpolicy.tenacity.retrying`` asks the shipped default policy
after every attempt, sleeps inline for short retries, and ends with an exception that tells the pipeline what
to do otherwise.  A retry too far away to sleep through ends the loop with `RetryLater`; here the example
stands in for the scheduler (see scheduler.py) by moving the fake clock to ``retry_at`` and resuming with
``exc.history``, so attempt counts and deadlines carry over.  The clock and the sleep are fakes, so this runs
offline in well under a second.

Run it: ``python examples/send_loop.py``
"""

from __future__ import annotations

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
    Scripts,
    final_line,
    outcome_from_exception,
    report_to_outcome,
)

from dlrpolicy import Engine
from dlrpolicy.tenacity import NotDelivered, RetryLater, retrying

#: Bound on deferred retries resumed per message, so no policy can make the example run on and on.
MAX_RESUMES = 10

# Delivery reports in the shape of Infobip's webhook / GET /sms/1/reports results.
#: message id -> (channel, recipient, the reports the provider gives on successive attempts)
MESSAGES: Scripts = {
    "m-1": ("sms", "+821012340001", [(UNDELIVERABLE, ABSENT), (DELIVERED, OK)]),
    "m-2": ("sms", "+821012340002", [(UNDELIVERABLE, USER_NO_CREDIT), (UNDELIVERABLE, USER_NO_CREDIT),
                                     (DELIVERED, OK)]),
    "m-3": ("sms", "+821012340003", [(REJECTED_CREDITS, OK)]),
    "m-4": ("email", "kim@example.com", [(UNDELIVERABLE, HARD_BOUNCE)]),
}


class AttemptPrinter:
    """A structlog-compatible logger that prints each attempt's `decision` event as one line."""

    def __init__(self, out: TextIO, clock: FakeClock) -> None:
        self.out = out
        self.clock = clock

    def info(self, event: str, **fields: Any) -> None:
        retry_at = fields.get("retry_at")
        when = f" at {datetime.fromisoformat(retry_at):%Y-%m-%d %H:%M:%S}" if retry_at else ""
        print(f"  {self.clock():%m-%d %H:%M:%S} attempt {fields['attempt'] - 1}: {fields['code_name']} -> "
              f"{fields['verdict']}{when} (rule {fields['rule']})", file=self.out)
        print(f"                 why: {fields['reason']}", file=self.out)


def run(engine: Engine, out: TextIO = sys.stdout) -> dict[str, str]:
    """Send every message through the integration; print each attempt's decision and the final outcome."""
    client = FakeInfobipClient(MESSAGES)
    finals: dict[str, str] = {}
    for message_id, (channel, recipient, _) in MESSAGES.items():
        clock = FakeClock()
        print(f"{message_id} ({channel} to {recipient})", file=out)
        history = None
        finals[message_id] = f"still deferred after {MAX_RESUMES} resumes"
        for _ in range(MAX_RESUMES):
            loop = retrying(engine, history=history, clock=clock, sleep=clock.sleep,
                            outcome_from_exception=outcome_from_exception, outcome_from_result=report_to_outcome,
                            logger=AttemptPrinter(out, clock))
            try:
                report = loop(client.send, message_id)
            except RetryLater as exc:
                print(f"  deferred: {final_line(exc)}", file=out)
                clock.now, history = exc.decision.retry_at or clock.now, exc.history  # what the scheduler would do
                continue
            except NotDelivered as exc:
                finals[message_id] = final_line(exc)
            else:
                finals[message_id] = (f"delivered ({report['status']['name']}) after "
                                      f"{client.attempts[message_id]} attempt(s)")
            break
        print(f"  final: {finals[message_id]}", file=out)
    return finals


if __name__ == "__main__":
    run(Engine.default())
