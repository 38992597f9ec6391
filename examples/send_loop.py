"""A send loop that gets the whole retry policy by wrapping its send call.

A fake Infobip client plays four messages with realistic codes:

- ``m-1``: the phone is off (error 27 EC_ABSENT_SUBSCRIBER), then the report says DELIVERED_TO_HANDSET;
- ``m-2``: the prepaid recipient is out of credit (error 581 EC_USER_OUT_OF_CREDIT) for two days, then tops up;
- ``m-3``: our account is out of credit (status 12 REJECTED_NOT_ENOUGH_CREDITS);
- ``m-4``: an email hard-bounces (error 6012 EC_HARD_BOUNCE).

There is no ``if code in (...)`` anywhere: ``dlrpolicy.tenacity.retrying`` asks the shipped default policy
after every attempt, sleeps inline for short retries, and ends with an exception that tells the pipeline what
to do otherwise.  Every attempt is recorded in a ledger (an SQLite file here; ``--state URL`` for another
store) under the message's key, so attempt counts and deadlines carry over between loops, and the suppression
list is checked before every send: after the hard bounce, the next campaign to that address is blocked before
anything is sent.  A retry too far away to sleep through ends the loop with `RetryLater`; here the example
stands in for the scheduler (see scheduler.py) by moving the fake clock to ``retry_at``.  The clock and the
sleep are fakes, so this runs offline in well under a second.

Run it: ``python examples/send_loop.py [--state sqlite:///state.db]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import datetime
from pathlib import Path
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
    InfobipReportError,
    Report,
    Scripts,
    final_line,
    outcome_from_exception,
    report_to_outcome,
)

from dlrpolicy import Engine, Recorder, open_store
from dlrpolicy.tenacity import Blocked, NotDelivered, RetryLater, retrying

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


class ResendingClient(FakeInfobipClient):
    """Like a real provider, every send gets a new provider message id (``m-2.1``, ``m-2.2``, ...); the
    pipeline's own key (``m-2``) ties them together in the ledger."""

    def send(self, message_id: str, channel: str | None = None) -> Report:
        try:
            report = super().send(message_id, channel)
        except InfobipReportError as exc:
            exc.report["messageId"] = f"{message_id}.{self.attempts[message_id]}"
            raise
        report["messageId"] = f"{message_id}.{self.attempts[message_id]}"
        return report


class IncidentPrinter:
    """A structlog-compatible logger for the recorder's ``incident`` events (opened, grew, resolved)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def warning(self, event: str, **fields: Any) -> None:
        print(f"  incident {fields['change']}: {fields['id']} ({fields['route']}, {fields['cause']}, "
              f"count {fields['at_count']}, {fields['held']} held)", file=self.out)


def run(engine: Engine, out: TextIO = sys.stdout, recorder: Recorder | None = None) -> dict[str, str]:
    """Send every message through the integration; print each attempt's decision and the final outcome.

    Without a ``recorder``, the ledger is a temporary SQLite file."""
    if recorder is None:
        with tempfile.TemporaryDirectory() as directory:
            store = open_store(f"sqlite:///{Path(directory) / 'state.db'}")
            try:
                return run(engine, out, Recorder(engine, store, logger=IncidentPrinter(out)))
            finally:
                store.close()
    client = ResendingClient(MESSAGES)
    finals: dict[str, str] = {}
    for message_id, (channel, recipient, _) in MESSAGES.items():
        clock = FakeClock()
        print(f"{message_id} ({channel} to {recipient})", file=out)
        finals[message_id] = f"still deferred after {MAX_RESUMES} resumes"
        for _ in range(MAX_RESUMES):
            loop = retrying(engine, clock=clock, sleep=clock.sleep, outcome_from_exception=outcome_from_exception,
                            outcome_from_result=report_to_outcome, logger=AttemptPrinter(out, clock),
                            recorder=recorder, key=message_id,
                            check={"recipient": recipient, "channel": channel, "tenant": "acme"})
            try:
                report = loop(client.send, message_id)
            except RetryLater as exc:
                print(f"  deferred: {final_line(exc)}", file=out)
                clock.now = exc.decision.retry_at or clock.now  # what the scheduler would do; the ledger keeps count
                continue
            except Blocked as exc:
                finals[message_id] = f"blocked before sending ({exc.entry.scope})"
            except NotDelivered as exc:
                finals[message_id] = final_line(exc)
            else:
                finals[message_id] = (f"delivered ({report['status']['name']}) after "
                                      f"{client.attempts[message_id]} attempt(s)")
            break
        print(f"  final: {finals[message_id]}", file=out)
        for incident in recorder.store.incidents(tenant="acme", state="open"):
            # Someone tops the account up: resolving releases the held messages into the retry schedule.
            done = recorder.resolve(incident.id, now=clock(), actor="billing", note="account topped up")
            print(f"  billing topped up: {done.count} held message(s) released into the schedule", file=out)
    # The next campaign: every send is checked against the suppression list first.
    for channel, recipient, _ in MESSAGES.values():
        loop = retrying(engine, recorder=recorder, key=f"campaign-2:{recipient}",
                        check={"recipient": recipient, "channel": channel, "tenant": "acme"})
        try:
            loop(lambda: None)
        except Blocked as exc:
            print(f"next campaign to {recipient}: blocked before sending ({exc.entry.scope} suppressed by rule "
                  f"{exc.entry.reason.get('rule')})", file=out)
        else:
            print(f"next campaign to {recipient}: allowed", file=out)
    return finals


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The send-loop example.")
    parser.add_argument("--state", help="the store (default: a temporary SQLite file)")
    args = parser.parse_args()
    # The messages belong to tenant "acme", which has no policy file: it gets the default policy.
    engine = Engine.default(default_for_unknown=True)
    if args.state:
        run(engine, recorder=Recorder(engine, open_store(args.state)))
    else:
        run(engine)
