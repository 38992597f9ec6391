"""Real-shaped delivery reports for the state tests, read with the real Infobip adapter.

Shapes follow Infobip's SMS delivery report (webhook / ``GET /sms/1/reports`` ``results[]``: messageId, to,
sentAt, doneAt, status {groupId, groupName, id, name}, error {groupId, groupName, id, name, permanent}); codes are
catalog entries (status 1/7 PENDING_ENROUTE, 3/5 DELIVERED_TO_HANDSET, 5/12 REJECTED_NOT_ENOUGH_CREDITS; error 1/27
EC_ABSENT_SUBSCRIBER, 2/603 EC_CONTENT_BLOCKED (an opt-out), chat 1/7017 EC_TOO_MANY_REQUESTS, DLT 4137
EC_PREFERENCE_NOT_MATCHED)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dlrpolicy import Outcome, parse_infobip_report

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

PENDING = {"groupId": 1, "groupName": "PENDING", "id": 7, "name": "PENDING_ENROUTE"}
DELIVERED = {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET"}
UNDELIVERABLE = {"groupId": 2, "groupName": "UNDELIVERABLE", "id": 9, "name": "UNDELIVERABLE_NOT_DELIVERED"}
REJECTED_CREDITS = {"groupId": 5, "groupName": "REJECTED", "id": 12, "name": "REJECTED_NOT_ENOUGH_CREDITS"}
NO_ERROR = {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR", "permanent": False}
ABSENT = {"groupId": 1, "groupName": "HANDSET_ERRORS", "id": 27, "name": "EC_ABSENT_SUBSCRIBER", "permanent": False}
OPTED_OUT = {"groupId": 2, "groupName": "USER_ERRORS", "id": 603, "name": "EC_CONTENT_BLOCKED", "permanent": True}
#: India's DLT table (the error table an Infobip SMS report to an Indian number names): the number's DND preference
#: refuses the message's category.
DLT_PREFERENCE = {"groupId": 2, "groupName": "USER_ERRORS", "id": 4137, "name": "EC_PREFERENCE_NOT_MATCHED",
                  "permanent": True}
TOO_MANY = {"groupId": 1, "groupName": "CLIENT_ERRORS", "id": 7017, "name": "EC_TOO_MANY_REQUESTS",
            "permanent": False}

#: An error code the catalog does not know, marked permanent by the provider.
UNKNOWN_PERMANENT = {"groupId": 2, "groupName": "USER_ERRORS", "id": 9876, "name": "EC_NOT_IN_ANY_CATALOG",
                     "permanent": True}

CODES = {"pending": (PENDING, NO_ERROR), "delivered": (DELIVERED, NO_ERROR), "absent": (UNDELIVERABLE, ABSENT),
         "credits": (REJECTED_CREDITS, NO_ERROR), "opted-out": (UNDELIVERABLE, OPTED_OUT),
         "too-many": (UNDELIVERABLE, TOO_MANY), "dlt-preference": (UNDELIVERABLE, DLT_PREFERENCE),
         "unknown-permanent": (UNDELIVERABLE, UNKNOWN_PERMANENT)}


def iso(moment: datetime) -> str:
    """Infobip's timestamp form: ``2026-11-24T09:58:00.000+0000``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def report(message_id: str, code: str, *, to: str = "821012340001", sent: datetime = NOW - timedelta(minutes=2),
           done: datetime | None = None) -> dict[str, Any]:
    """One ``results[]`` element."""
    status, error = CODES[code]
    return {"bulkId": "b-1", "messageId": message_id, "to": to, "sentAt": iso(sent),
            "doneAt": iso(done or sent + timedelta(seconds=30)), "smsCount": 1, "mccMnc": "45005",
            "price": {"pricePerMessage": 0.01, "currency": "EUR"}, "status": dict(status), "error": dict(error)}


def outcome(message_id: str, code: str, *, tenant: str | None = None, channel: str = "sms", **fields: Any) -> Outcome:
    """The report read by the real adapter."""
    return parse_infobip_report(report(message_id, code, **fields), channel=channel, tenant=tenant)
