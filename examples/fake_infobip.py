"""A scripted, offline stand-in for Infobip, shared by the send-loop examples.

Each message has a script: the (status, error) pair of the delivery report returned on each successive send.
Reports have the shape of Infobip's SMS/email delivery report results and are read with the real adapter,
`dlrpolicy.parse_infobip_report`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from dlrpolicy import Outcome, parse_infobip_report
from dlrpolicy.tenacity import Escalated, NotDelivered, Pending, RetryLater, Suppressed

START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

OK = {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR", "permanent": False}
DELIVERED = {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET"}
UNDELIVERABLE = {"groupId": 2, "groupName": "UNDELIVERABLE", "id": 9, "name": "UNDELIVERABLE_NOT_DELIVERED"}
REJECTED_CREDITS = {"groupId": 5, "groupName": "REJECTED", "id": 12, "name": "REJECTED_NOT_ENOUGH_CREDITS"}
ABSENT = {"groupId": 1, "groupName": "HANDSET_ERRORS", "id": 27, "name": "EC_ABSENT_SUBSCRIBER", "permanent": False}
USER_NO_CREDIT = {"groupId": 1, "groupName": "HANDSET_ERRORS", "id": 581, "name": "EC_USER_OUT_OF_CREDIT",
                  "permanent": False}
DAILY_QUOTA = {"groupId": 2, "groupName": "USER_ERRORS", "id": 542, "name": "EC_QUOTA_REACHED", "permanent": False}
HARD_BOUNCE = {"groupId": 2, "groupName": "BOUNCED", "id": 6012, "name": "EC_HARD_BOUNCE", "permanent": True}

Report = dict[str, Any]
#: message id -> (channel, recipient, the (status, error) pairs of successive sends)
Scripts = Mapping[str, tuple[str, str, list[tuple[Report, Report]]]]


class FakeClock:
    """Time that moves only when a loop sleeps (or a scheduler jumps it), so examples run instantly."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    async def sleep_async(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        await asyncio.sleep(0)  # give other messages a turn, as a real sleep would


class InfobipReportError(Exception):
    """What the fake client raises when the delivery report is not a success."""

    def __init__(self, report: Report) -> None:
        super().__init__(f"{report['status']['name']} / {report['error']['name']}")
        self.report = report


class FakeInfobipClient:
    """Sends a message and returns its delivery report; raises `InfobipReportError` for a failed one."""

    def __init__(self, scripts: Scripts) -> None:
        self.scripts = scripts
        self.attempts: dict[str, int] = {}

    def send(self, message_id: str, channel: str | None = None) -> Report:
        """The next scripted report for ``message_id`` (on ``channel`` when the caller switched channels)."""
        default_channel, recipient, script = self.scripts[message_id]
        attempt = self.attempts.get(message_id, 0)
        self.attempts[message_id] = attempt + 1
        status, error = script[min(attempt, len(script) - 1)]
        report = {"messageId": message_id, "to": recipient, "channel": channel or default_channel,
                  "status": status, "error": error}
        if status["groupId"] != DELIVERED["groupId"]:
            raise InfobipReportError(report)
        return report


def report_to_outcome(report: Report) -> Outcome:
    """One delivery report as an Outcome, through the real Infobip adapter."""
    return parse_infobip_report(report, channel=report["channel"], tenant="acme")


def outcome_from_exception(exc: Exception) -> Outcome | None:
    """The client's report errors carry an outcome; anything else is a bug and propagates."""
    return report_to_outcome(exc.report) if isinstance(exc, InfobipReportError) else None


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
