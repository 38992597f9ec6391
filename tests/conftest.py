"""Shared fixtures: a small, self-contained policy so engine tests do not depend on the shipped default's
judgments, and a fixed evaluation time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dlrpolicy import Engine
from dlrpolicy.policy._layers import compile_layers
from dlrpolicy.policy._read import Layer

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

SMALL_POLICY = """
[defaults]
timezone = "UTC"
backoff = { initial = "30s", factor = 2.0, max = "1h", jitter = 0.0 }
max_attempts = 4
give_up_after = "48h"
on_exhausted = "suppress"
max_delay = "1h"
verdict = "retry"
reason = "Fallback."

[defaults.unknown]
verdict = "retry"
max_attempts = 3
escalate = { route = "support", severity = "warning" }
reason = "Unknown code."

[defaults.unknown_permanent]
verdict = "suppress"
reason = "Unknown permanent code."

[windows.seoul_day]
timezone = "Asia/Seoul"
daily = ["08:00-20:50"]

[windows.office]
timezone = "Europe/Berlin"
mon = ["09:00-17:00"]
tue = ["09:00-17:00"]
wed = ["09:00-17:00"]
thu = ["09:00-17:00"]
fri = ["09:00-17:00"]

[[rule]]
id = "delivered"
match = { provider = "infobip", kind = "status", success = true }
verdict = "done"
reason = "Delivered."

[[rule]]
id = "pending"
match = { provider = "infobip", kind = "status", group_id = 1 }
verdict = "wait"
after = "15m"
reason = "Pending."

[[rule]]
id = "error-ok"
match = { provider = "infobip", kind = "error", success = true }
verdict = "done"
reason = "No error."

[[rule]]
id = "handset"
match = { provider = "infobip", kind = "error", product = "general", group_id = 1 }
verdict = "retry"
reason = "Handset trouble."

[[rule]]
id = "handset-permanent"
match = { provider = "infobip", kind = "error", product = "general", group_id = 1, permanent = true }
verdict = "suppress"
suppress = { scope = "recipient" }
reason = "Dead handset."

[[rule]]
id = "out-of-credit"
match = { provider = "infobip", kind = "error", product = "general", id = 581 }
verdict = "retry"
every = "24h"
give_up_after = "7d"
reason = "Every 24h for 7 days."

[[rule]]
id = "quota"
match = { provider = "infobip", kind = "error", product = "general", id = 542 }
verdict = "retry"
at = "next_day 00:05"
timezone = "America/New_York"
reason = "Next day."

[[rule]]
id = "cooling-off"
match = { provider = "infobip", kind = "error", product = "email", id = 6016 }
verdict = "retry"
after = "24h"
give_up_after = "72h"
suppress = { scope = "sender_domain", for = "24h" }
escalate = { route = "deliverability", severity = "error" }
reason = "Domain cooling off."

[[rule]]
id = "kakao-night"
match = { provider = "nhn_kakao", kind = "delivery", id = 3022 }
verdict = "retry"
window = "seoul_day"
reason = "Night."

[[rule]]
id = "kakao-to-sms"
match = { provider = "nhn_kakao", kind = "api", id = -3010 }
verdict = "retry"
channel = "sms"
reason = "SMS fallback."

[[rule]]
id = "office-hours"
match = { provider = "infobip", kind = "error", product = "general", id = 6 }
verdict = "retry"
window = "office"
give_up_after = "7d"
reason = "Office hours only."

[[rule]]
id = "rate-limit"
match = { provider = "infobip", kind = "error", product = "chat", id = 7017 }
verdict = "retry"
after = "10s"
max_delay = "5m"
reason = "Rate limited."

[[rule]]
id = "dnd"
match = { provider = "infobip", kind = "status", product = "general", id = 10 }
verdict = "suppress"
suppress = { scope = "recipient" }
escalate = { route = "compliance", severity = "info" }
reason = "Do not disturb."

[[rule]]
id = "credit"
match = { provider = "infobip", kind = "status", product = "general", id = 12 }
verdict = "escalate"
escalate = { route = "billing", severity = "critical" }
reason = "Out of credits."

[[rule]]
id = "viber-only"
match = { provider = "infobip", kind = "error", product = "chat", id = 7050, channel = "viber" }
verdict = "escalate"
reason = "Viber provider error."
"""


def small_layer(text: str = SMALL_POLICY, *, source: str = "tests/small.toml", name: str = "small") -> Layer:
    """The small test policy (or ``text``) as a layer."""
    return Layer.from_text(text, source=source, name=name)


@pytest.fixture(scope="session")
def small_engine() -> Engine:
    """An engine over the shipped catalog with the small test policy."""
    return Engine(compile_layers([small_layer()]))
