"""Tests for `dlrpolicy.tenacity` (sync): every verdict path, inline versus deferred retries, give-up, logging.

The engine here runs a small catalog and policy of its own, so these tests check the integration and not the
shipped policy's judgments.  Time is a fake clock; sleeping advances it.  Helpers are shared with the async
tests in test_tenacity_async.py."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import tenacity
from hypothesis import given, settings
from structlog.testing import capture_logs

from dlrpolicy import Catalog, CodeRef, Decision, DlrpolicyError, DurationError, Engine, History, Outcome
from dlrpolicy.tenacity import (
    AttemptDecision,
    DeliveryFailed,
    Escalated,
    LoopConfigError,
    NotDelivered,
    Pending,
    RetryLater,
    Suppressed,
    attempt_decision,
    retry,
    retrying,
)
from tests.strategies import tenacity_scripts

START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

CATALOG_TABLES = {
    "infobip/status_general": """
provider = "infobip"
kind = "status"
product = "general"
source = "A few rows of the shipped catalog, trimmed for the send-loop tests"
code = [
  { id = 5, name = "DELIVERED_TO_HANDSET", group_id = 3, success = true, summary = "Delivered." },
  { id = 26, name = "PENDING_ACCEPTED", group_id = 1, summary = "Pending." },
  { id = 12, name = "REJECTED_NOT_ENOUGH_CREDITS", group_id = 5, summary = "No credit." },
]
""",
    "infobip/error_general": """
provider = "infobip"
kind = "error"
product = "general"
source = "A few rows of the shipped catalog, trimmed for the send-loop tests"
code = [
  { id = 0, name = "NO_ERROR", group_id = 0, permanent = false, success = true, summary = "No error." },
  { id = 1, name = "EC_UNKNOWN_SUBSCRIBER", group_id = 1, permanent = true, summary = "Unknown subscriber." },
  { id = 27, name = "EC_ABSENT_SUBSCRIBER", group_id = 1, permanent = false, summary = "Absent subscriber." },
  { id = 31, name = "EC_SUBSCRIBER_BUSY_FOR_MT_SMS", group_id = 1, permanent = false, summary = "Busy." },
  { id = 581, name = "EC_USER_OUT_OF_CREDIT", group_id = 1, permanent = false, summary = "Recipient out of credit." },
]
""",
    "infobip/error_chat": """
provider = "infobip"
kind = "error"
product = "chat"
source = "A few rows of the shipped catalog, trimmed for the send-loop tests"
code = [
  { id = 7002, name = "EC_UNKNOWN_USER", group_id = 1, permanent = true, summary = "Not a user of the chat app." },
  { id = 7017, name = "EC_TOO_MANY_REQUESTS", group_id = 1, permanent = false, summary = "Rate limited." },
]
""",
}

POLICY = """
[defaults]
timezone = "UTC"
backoff = { initial = "10s", factor = 2.0, max = "1m", jitter = 0.0 }
max_attempts = 4
give_up_after = "1h"
on_exhausted = "suppress"
max_delay = "2h"
verdict = "retry"
reason = "Fallback."

[defaults.unknown]
verdict = "retry"
max_attempts = 2
reason = "Unknown code."

[defaults.unknown_permanent]
verdict = "suppress"
reason = "Unknown permanent code."

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
id = "no-credit"
match = { provider = "infobip", kind = "status", product = "general", id = 12 }
verdict = "escalate"
escalate = { route = "billing", severity = "critical" }
reason = "Top up the account."

[[rule]]
id = "error-ok"
match = { provider = "infobip", kind = "error", success = true }
verdict = "done"
reason = "No error."

[[rule]]
id = "absent"
match = { provider = "infobip", kind = "error", product = "general", id = 27 }
verdict = "retry"
reason = "Phone off; retry with backoff."

[[rule]]
id = "unknown-subscriber"
match = { provider = "infobip", kind = "error", product = "general", id = 1 }
verdict = "suppress"
suppress = { scope = "recipient" }
reason = "Number does not exist."

[[rule]]
id = "busy"
match = { provider = "infobip", kind = "error", product = "general", id = 31 }
verdict = "retry"
every = "20s"
give_up_after = "50s"
reason = "Busy; retry every 20s for 50s."

[[rule]]
id = "out-of-credit"
match = { provider = "infobip", kind = "error", product = "general", id = 581 }
verdict = "retry"
every = "24h"
give_up_after = "7d"
reason = "Every 24h for 7 days."

[[rule]]
id = "rate-limit"
match = { provider = "infobip", kind = "error", product = "chat", id = 7017 }
verdict = "retry"
after = "5s"
max_delay = "5m"
reason = "Rate limited."

[[rule]]
id = "whatsapp-to-sms"
match = { provider = "infobip", kind = "error", product = "chat", id = 7002 }
verdict = "retry"
channel = "sms"
reason = "Not on WhatsApp; send an SMS instead."
"""


def build_engine(directory: Path) -> Engine:
    """An engine over a small test catalog with the test policy (written to ``directory``); the examples' tenant
    ``acme`` has no file of its own, so it gets this policy (``default_for_unknown``)."""
    catalog = Catalog.from_tables((name, tomllib.loads(text)) for name, text in CATALOG_TABLES.items())
    path = directory / "loop.toml"
    path.write_text(POLICY, encoding="utf-8")
    return Engine.load([path], catalog=catalog, default_for_unknown=True)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The test engine."""
    return build_engine(tmp_path_factory.mktemp("policy"))


class FakeClock:
    """A clock that only moves when the loop sleeps; records every sleep."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


class CountingEngine:
    """Wraps an engine and counts evaluate calls."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.calls = 0

    def evaluate(self, outcome: Outcome, *, now: datetime, history: History | None = None) -> Decision:
        self.calls += 1
        return self.engine.evaluate(outcome, now=now, history=history)


def sms(*, error: int | None = None, status: int | None = None, channel: str = "sms", **fields: Any) -> Outcome:
    """An Infobip outcome for message m-1 with the given error and/or status ids."""
    return Outcome(
        provider="infobip", channel=channel, message_id="m-1", recipient="+821012345678", tenant="acme",
        error=None if error is None else CodeRef(id=error),
        status=None if status is None else CodeRef(id=status), **fields,
    )


DELIVERED = sms(status=5, error=0)


class ScriptedSender:
    """A send function that plays a script: each call reports the next outcome.

    A delivered outcome is returned as a result (a report dict); any other is raised as DeliveryFailed.
    """

    def __init__(self, *script: Outcome) -> None:
        self.script = list(script)
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        outcome = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if outcome.status is not None and outcome.status.id == 5:
            return {"messageId": outcome.message_id, "outcome": outcome}
        raise DeliveryFailed(outcome)


def report_outcome(result: dict[str, Any]) -> Outcome:
    """outcome_from_result for ScriptedSender's reports."""
    outcome = result["outcome"]
    assert isinstance(outcome, Outcome)
    return outcome


def run_sync(engine: Any, sender: Callable[[], Any], clock: FakeClock, **options: Any) -> Any:
    """Run ``sender`` through the sync integration; return the result or the NotDelivered raised."""
    loop = retrying(engine, clock=clock, sleep=clock.sleep, outcome_from_result=report_outcome, **options)
    try:
        return loop(sender)
    except NotDelivered as exc:
        return exc


def test_absent_then_delivered_sleeps_inline(engine: Engine) -> None:
    """An absent subscriber is retried inline after the backoff; the delivered report ends the loop."""
    clock = FakeClock()
    sender = ScriptedSender(sms(error=27), DELIVERED)
    result = run_sync(engine, sender, clock)
    assert {"messageId": "m-1", "outcome": DELIVERED} == result
    assert [10.0] == clock.sleeps
    assert 2 == sender.calls


def test_plain_success_needs_no_decision(engine: Engine) -> None:
    """Without outcome_from_result a normal return is a success: no evaluation, no event."""
    counting = CountingEngine(engine)
    with capture_logs() as logs:
        result = retrying(counting, clock=FakeClock())(lambda: "accepted")
    assert ("accepted", 0, []) == (result, counting.calls, logs)


def test_done_from_delivery_failed_returns_its_result(engine: Engine) -> None:
    """A raised outcome the engine calls done ends the loop with DeliveryFailed.result."""
    def send() -> None:
        raise DeliveryFailed(DELIVERED, result="duplicate-accepted")

    assert "duplicate-accepted" == retrying(engine, clock=FakeClock())(send)


def test_far_retry_is_deferred(engine: Engine) -> None:
    """A retry due in 24h does not block: RetryLater carries the decision and the history to resume with."""
    clock = FakeClock()
    exc = run_sync(engine, ScriptedSender(sms(error=581)), clock)
    assert isinstance(exc, RetryLater)
    assert ("retry", START + timedelta(hours=24), "out-of-credit") == (
        exc.decision.verdict, exc.decision.retry_at, exc.decision.rule)
    assert History(attempts=1, first_attempt_at=START, channels=("sms",)) == exc.history
    assert sms(error=581) == exc.outcome
    assert [] == clock.sleeps
    assert "send again at 2026-11-25T10:00:00Z" in str(exc)


def test_max_inline_wait_decides_inline_or_deferred(engine: Engine) -> None:
    """The same 10s backoff sleeps inline under the default limit and is deferred under a 5s limit."""
    inline = FakeClock()
    run_sync(engine, ScriptedSender(sms(error=27), DELIVERED), inline)
    deferred = FakeClock()
    exc = run_sync(engine, ScriptedSender(sms(error=27), DELIVERED), deferred, max_inline_wait="5s")
    assert ([10.0], []) == (inline.sleeps, deferred.sleeps)
    assert isinstance(exc, RetryLater)
    assert START + timedelta(seconds=10) == exc.decision.retry_at


def test_max_inline_wait_accepts_timedelta(engine: Engine) -> None:
    """max_inline_wait may be a timedelta."""
    exc = run_sync(engine, ScriptedSender(sms(error=27)), FakeClock(), max_inline_wait=timedelta(0))
    assert isinstance(exc, RetryLater)


def test_suppress_raises_suppressed(engine: Engine) -> None:
    """An unknown subscriber ends the loop with Suppressed, chained to the DeliveryFailed."""
    exc = run_sync(engine, ScriptedSender(sms(error=1)), FakeClock())
    assert isinstance(exc, Suppressed)
    assert ("recipient", "+821012345678") == (exc.decision.suppress.scope, exc.decision.suppress.key)
    assert isinstance(exc.__cause__, DeliveryFailed)


def test_escalate_raises_escalated(engine: Engine) -> None:
    """An account out of credit ends the loop with Escalated to billing."""
    exc = run_sync(engine, ScriptedSender(sms(status=12)), FakeClock())
    assert isinstance(exc, Escalated)
    assert ("billing", "critical") == (exc.decision.escalate.route, exc.decision.escalate.severity)


def test_wait_raises_pending(engine: Engine) -> None:
    """A pending report ends the loop with Pending and a check time."""
    exc = run_sync(engine, ScriptedSender(sms(status=26)), FakeClock())
    assert isinstance(exc, Pending)
    assert START + timedelta(minutes=15) == exc.decision.check_at


def test_endings_share_one_base() -> None:
    """Every ending is a NotDelivered and a DlrpolicyError."""
    assert all(issubclass(cls, NotDelivered) and issubclass(cls, DlrpolicyError)
               for cls in (RetryLater, Suppressed, Escalated, Pending))


def test_gives_up_at_max_attempts(engine: Engine) -> None:
    """Absent on every attempt: 4 attempts (the policy's max), then the on_exhausted verdict."""
    clock = FakeClock()
    counting = CountingEngine(engine)
    sender = ScriptedSender(sms(error=27))
    exc = run_sync(counting, sender, clock)
    assert isinstance(exc, Suppressed)
    assert (4, 4, [10.0, 20.0, 40.0]) == (sender.calls, counting.calls, clock.sleeps)
    assert "attempt limit (4)" in exc.decision.reason
    assert 4 == exc.history.attempts


def test_gives_up_at_the_deadline(engine: Engine) -> None:
    """Busy every 20s with a 50s deadline: attempts at 0s, 20s, 40s; the next would land after the deadline."""
    clock = FakeClock()
    sender = ScriptedSender(sms(error=31))
    exc = run_sync(engine, sender, clock)
    assert isinstance(exc, Suppressed)
    assert (3, [20.0, 20.0]) == (sender.calls, clock.sleeps)
    assert START + timedelta(seconds=50) == exc.decision.give_up_at
    assert "deadline" in exc.decision.reason


def test_resumed_history_counts_earlier_attempts(engine: Engine) -> None:
    """A resumed message with 3 earlier attempts has one left: the first attempt of this loop is the last."""
    sender = ScriptedSender(sms(error=27))
    exc = run_sync(engine, sender, FakeClock(), history=History(attempts=3, first_attempt_at=START))
    assert isinstance(exc, Suppressed)
    assert (1, 5) == (sender.calls, exc.decision.attempt)


def test_resumed_history_keeps_the_first_attempt_deadline(engine: Engine) -> None:
    """The deadline counts from the history's first attempt, not from this loop's start."""
    first = START - timedelta(minutes=59, seconds=55)
    exc = run_sync(engine, ScriptedSender(sms(error=27)), FakeClock(),
                   history=History(attempts=1, first_attempt_at=first))
    assert isinstance(exc, Suppressed)
    assert first + timedelta(hours=1) == exc.decision.give_up_at


def test_resume_with_retry_later_history(engine: Engine) -> None:
    """Resuming with RetryLater.history continues the attempt count and keeps the first-attempt time."""
    clock = FakeClock()
    first = run_sync(engine, ScriptedSender(sms(error=581)), clock)
    clock.now = first.decision.retry_at
    second = run_sync(engine, ScriptedSender(sms(error=581)), clock, history=first.history)
    assert isinstance(second, RetryLater)
    assert (2, START, 3) == (second.history.attempts, second.history.first_attempt_at, second.decision.attempt)
    assert START + timedelta(hours=48) == second.decision.retry_at


def test_retry_after_is_honoured_inline(engine: Engine) -> None:
    """A provider's Retry-After of 30s replaces the rule's 5s delay."""
    clock = FakeClock()
    rate_limited = sms(error=7017, channel="whatsapp", retry_after=timedelta(seconds=30))
    run_sync(engine, ScriptedSender(rate_limited, DELIVERED), clock)
    assert [30.0] == clock.sleeps


def test_retry_after_beyond_the_inline_limit_is_deferred_not_shortened(engine: Engine) -> None:
    """A 4-minute Retry-After (within the rule's max_delay of 5m, beyond the inline 60s) is deferred, as asked."""
    rate_limited = sms(error=7017, channel="whatsapp", retry_after=timedelta(minutes=4))
    exc = run_sync(engine, ScriptedSender(rate_limited), FakeClock())
    assert isinstance(exc, RetryLater)
    assert START + timedelta(minutes=4) == exc.decision.retry_at


def test_retry_after_beyond_max_delay_is_escalated_not_retried_early(engine: Engine) -> None:
    """A 10-minute Retry-After exceeds the rule's max_delay (5m): the loop ends Escalated, never an early retry."""
    rate_limited = sms(error=7017, channel="whatsapp", retry_after=timedelta(minutes=10))
    exc = run_sync(engine, ScriptedSender(rate_limited), FakeClock())
    assert isinstance(exc, Escalated)
    assert exc.decision.retry_at is None


def test_fallback_channel_is_deferred_to_the_caller(engine: Engine) -> None:
    """A retry on another channel always leaves the loop, since only the caller can switch channel."""
    clock = FakeClock()
    exc = run_sync(engine, ScriptedSender(sms(error=7002, channel="whatsapp")), clock)
    assert isinstance(exc, RetryLater)
    assert ("sms", True, []) == (exc.decision.channel, exc.decision.retry_at is not None, clock.sleeps)
    assert ("whatsapp",) == exc.history.channels
    assert "on channel sms" in str(exc)


def test_decision_computed_once_per_attempt(engine: Engine) -> None:
    """retry, wait and stop share one evaluation per attempt; hooks see the same decision."""
    counting = CountingEngine(engine)
    seen: list[AttemptDecision | None] = []
    clock = FakeClock()
    run_sync(counting, ScriptedSender(sms(error=27), sms(error=27), DELIVERED), clock,
             before_sleep=lambda rs: seen.append(attempt_decision(rs)))
    assert 3 == counting.calls
    assert [1, 2] == [judged.attempt_number for judged in seen if judged is not None]
    assert [10.0, 20.0] == [judged.inline_delay for judged in seen if judged is not None]


def test_decision_events_are_logged(engine: Engine) -> None:
    """Each attempt logs one `decision` event with the on-call fields."""
    with capture_logs() as logs:
        run_sync(engine, ScriptedSender(sms(error=27), DELIVERED), FakeClock())
    assert [("decision", "acme", "m-1", 2, "absent", "retry", "2026-11-24T10:00:10Z"),
            ("decision", "acme", "m-1", 3, "delivered", "done", None)] == [
        (e["event"], e["tenant"], e["message_id"], e["attempt"], e["rule"], e["verdict"], e["retry_at"])
        for e in logs]
    assert "infobip:error:general:27" == logs[0]["code"]


def test_custom_logger(engine: Engine) -> None:
    """An injected logger receives the events."""
    events: list[tuple[str, dict[str, Any]]] = []

    class ListLogger:
        def info(self, event: str, **fields: Any) -> None:
            events.append((event, fields))

    run_sync(engine, ScriptedSender(sms(error=1)), FakeClock(), logger=ListLogger())
    assert [("decision", "suppress")] == [(name, fields["verdict"]) for name, fields in events]


def test_attempt_context_manager_form(engine: Engine) -> None:
    """`for attempt in retrying(...): with attempt:` retries inline and ends with the same exceptions."""
    clock = FakeClock()
    sender = ScriptedSender(sms(error=27), sms(error=1))
    def loop() -> None:
        for attempt in retrying(engine, clock=clock, sleep=clock.sleep):
            with attempt:
                sender()

    with pytest.raises(Suppressed):
        loop()
    assert (2, [10.0]) == (sender.calls, clock.sleeps)


def test_attempt_context_manager_success(engine: Engine) -> None:
    """A block that completes normally ends the loop."""
    calls = []
    for attempt in retrying(engine, clock=FakeClock()):
        with attempt:
            calls.append(attempt.retry_state.attempt_number)
    assert [1] == calls


def test_wraps_decorator(engine: Engine) -> None:
    """`.wraps(fn)` passes arguments through and retries the call."""
    clock = FakeClock()
    outcomes = iter([sms(error=27), DELIVERED])

    @retrying(engine, clock=clock, sleep=clock.sleep, outcome_from_result=lambda r: r).wraps
    def send(text: str) -> Outcome:
        outcome = next(outcomes)
        if outcome is DELIVERED:
            return outcome
        raise DeliveryFailed(outcome)

    assert DELIVERED == send("hello")
    assert [10.0] == clock.sleeps


def test_retry_decorator(engine: Engine) -> None:
    """`@retry(engine, ...)` decorates a send function directly."""
    clock = FakeClock()

    @retry(engine, clock=clock, sleep=clock.sleep)
    def send(recipient: str) -> str:
        raise DeliveryFailed(sms(error=1))

    with pytest.raises(Suppressed):
        send("+821012345678")


def test_unmapped_exception_propagates_unchanged(engine: Engine) -> None:
    """An exception that is not a delivery failure is re-raised on the first attempt, without a decision."""
    counting = CountingEngine(engine)
    calls = []

    def send() -> None:
        calls.append(1)
        raise KeyError("bug")

    with pytest.raises(KeyError):
        retrying(counting, clock=FakeClock())(send)
    assert (1, 0) == (len(calls), counting.calls)


class ProviderHTTPError(Exception):
    """What an HTTP client might raise; args[0] is the parsed body."""


def error_outcome(exc: Exception) -> Outcome | None:
    """outcome_from_exception: only ProviderHTTPError carries an outcome."""
    return sms(error=int(exc.args[0]["error"]["id"])) if isinstance(exc, ProviderHTTPError) else None


def test_outcome_from_exception_maps_client_errors(engine: Engine) -> None:
    """A mapped client exception is evaluated like DeliveryFailed; an unmapped one propagates."""
    clock = FakeClock()
    errors = iter([ProviderHTTPError({"error": {"id": 27}}), ValueError("boom")])

    def send() -> None:
        raise next(errors)

    with pytest.raises(ValueError, match="boom"):
        retrying(engine, clock=clock, sleep=clock.sleep, outcome_from_exception=error_outcome)(send)
    assert [10.0] == clock.sleeps


def test_safety_cap_defers_an_endless_inline_retry(engine: Engine) -> None:
    """Past max_loop_attempts the loop ends with RetryLater even if the engine would retry inline."""
    sender = ScriptedSender(sms(error=27))
    exc = run_sync(engine, sender, FakeClock(), max_loop_attempts=2)
    assert isinstance(exc, RetryLater)
    assert 2 == sender.calls


def test_user_before_hook_still_runs(engine: Engine) -> None:
    """A before hook passed through to tenacity runs before every attempt."""
    numbers: list[int] = []
    run_sync(engine, ScriptedSender(sms(error=27), DELIVERED), FakeClock(),
             before=lambda rs: numbers.append(rs.attempt_number))
    assert [1, 2] == numbers


def test_returns_a_tenacity_retrying(engine: Engine) -> None:
    """The configured object is a plain tenacity.Retrying (so tenacity's API works on it)."""
    loop = retrying(engine)
    assert isinstance(loop, tenacity.Retrying)
    assert isinstance(loop.copy(), tenacity.Retrying)


@pytest.mark.parametrize("argument", ["retry", "wait", "stop", "retry_error_callback", "reraise"])
def test_engine_owned_arguments_are_rejected(engine: Engine, argument: str) -> None:
    """Arguments the engine owns are refused with a message naming them."""
    with pytest.raises(LoopConfigError, match=argument):
        retrying(engine, **{argument: None})


def test_bad_limits_are_rejected(engine: Engine) -> None:
    """Invalid max_inline_wait and max_loop_attempts fail with clear errors."""
    with pytest.raises(DurationError):
        retrying(engine, max_inline_wait="soon")
    with pytest.raises(LoopConfigError, match="max_inline_wait"):
        retrying(engine, max_inline_wait=timedelta(seconds=-1))
    with pytest.raises(LoopConfigError, match="max_loop_attempts"):
        retrying(engine, max_loop_attempts=0)
    with pytest.raises(LoopConfigError, match="engine"):
        retrying(object())  # type: ignore[arg-type]


def test_default_logger_is_structlog(engine: Engine) -> None:
    """Without a logger the events go to structlog's `dlrpolicy` logger."""
    with capture_logs() as logs:
        run_sync(engine, ScriptedSender(sms(error=1)), FakeClock())
    assert ["decision"] == [e["event"] for e in logs]


_ENGINES: dict[str, Engine] = {}


@settings(max_examples=40, deadline=None)
@given(script=tenacity_scripts())
def test_loop_always_terminates_with_one_evaluation_per_attempt(
    tmp_path_factory: pytest.TempPathFactory, script: list[tuple[int | None, int | None]]
) -> None:
    """Any script of reports ends within the policy's bounds, evaluating each attempt exactly once."""
    if "engine" not in _ENGINES:
        _ENGINES["engine"] = build_engine(tmp_path_factory.mktemp("shared"))
    counting = CountingEngine(_ENGINES["engine"])
    sender = ScriptedSender(*[sms(error=error, status=status) for error, status in script])
    with capture_logs() as logs:
        run_sync(counting, sender, FakeClock())
    assert sender.calls <= 4
    assert sender.calls == counting.calls == len(logs)
