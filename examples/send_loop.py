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
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from dlrpolicy import CodeRef, Engine, Outcome
from dlrpolicy.tenacity import Escalated, NotDelivered, Pending, RetryLater, Suppressed, retrying

START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
#: Bound on deferred retries resumed per message, so no policy can make the example run on and on.
MAX_RESUMES = 10

# Delivery reports in the shape of Infobip's webhook / GET /sms/1/reports results.
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
}


class FakeClock:
    """Time that moves only when the loop sleeps, so the example runs instantly and prints the same times."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class InfobipReportError(Exception):
    """What the fake client raises when the delivery report is not a success."""

    def __init__(self, report: dict[str, Any]) -> None:
        super().__init__(f"{report['status']['name']} / {report['error']['name']}")
        self.report = report


class FakeInfobipClient:
    """Sends a message and returns its delivery report; raises InfobipReportError for a failed one."""

    def __init__(self, messages: dict[str, tuple[str, str, list[tuple[dict[str, Any], dict[str, Any]]]]]) -> None:
        self.messages = messages
        self.attempts: dict[str, int] = {}

    def send(self, message_id: str) -> dict[str, Any]:
        channel, recipient, script = self.messages[message_id]
        attempt = self.attempts.get(message_id, 0)
        self.attempts[message_id] = attempt + 1
        status, error = script[min(attempt, len(script) - 1)]
        report = {"messageId": message_id, "to": recipient, "channel": channel, "status": status, "error": error}
        if status["groupId"] != 3:
            raise InfobipReportError(report)
        return report


def _code(data: dict[str, Any]) -> CodeRef:
    return CodeRef(id=data["id"], group_id=data.get("groupId"), name=data.get("name"),
                   permanent=data.get("permanent"), group_name=data.get("groupName"))


def report_to_outcome(report: dict[str, Any]) -> Outcome:
    """Read one report into an Outcome (`dlrpolicy.parse` does this for real payloads)."""
    return Outcome(provider="infobip", channel=report["channel"], status=_code(report["status"]),
                   error=_code(report["error"]), message_id=report["messageId"], recipient=report["to"],
                   tenant="acme")


def outcome_from_exception(exc: Exception) -> Outcome | None:
    """The client's report errors carry an outcome; anything else is a bug and propagates."""
    return report_to_outcome(exc.report) if isinstance(exc, InfobipReportError) else None


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
