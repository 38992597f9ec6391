"""Tests for `dlrpolicy.tenacity.async_retrying`: parity with the sync loop, asyncio forms and concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import tenacity
from structlog.testing import capture_logs

from dlrpolicy import Engine, History, Outcome
from dlrpolicy.tenacity import (
    DeliveryFailed,
    NotDelivered,
    RetryLater,
    Suppressed,
    async_retrying,
    retry,
)
from tests.integrations.test_tenacity import (
    DELIVERED,
    START,
    CountingEngine,
    FakeClock,
    ScriptedSender,
    build_engine,
    report_outcome,
    run_sync,
    sms,
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The test engine (same catalog and policy as the sync tests)."""
    return build_engine(tmp_path_factory.mktemp("policy"))


def run_async(engine: Any, sender: Callable[[], Any], clock: FakeClock, **options: Any) -> Any:
    """Run ``sender`` through the async integration; return the result or the NotDelivered raised."""
    async def main() -> Any:
        loop = async_retrying(engine, clock=clock, sleep=clock.sleep, outcome_from_result=report_outcome, **options)
        try:
            return await loop(sender)
        except NotDelivered as exc:
            return exc

    return asyncio.run(main())


def summary(value: Any) -> tuple[Any, ...]:
    """What a run ended with, comparable across sync and async."""
    if isinstance(value, NotDelivered):
        return (type(value).__name__, value.decision, value.outcome, value.history)
    return ("result", value)


SCRIPTS = {
    "absent-then-delivered": [sms(error=27), DELIVERED],
    "out-of-credit": [sms(error=581)],
    "unknown-subscriber": [sms(error=1)],
    "no-credit": [sms(status=12)],
    "pending": [sms(status=26)],
    "absent-forever": [sms(error=27)],
    "busy-until-deadline": [sms(error=31)],
    "retry-after": [sms(error=7017, channel="whatsapp", retry_after=timedelta(seconds=30)), DELIVERED],
    "fallback": [sms(error=7002, channel="whatsapp")],
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_async_matches_sync(engine: Engine, name: str) -> None:
    """For every verdict path, the async loop ends like the sync one, with the same sleeps and evaluations."""
    sync_clock, async_clock = FakeClock(), FakeClock()
    sync_engine, async_engine = CountingEngine(engine), CountingEngine(engine)
    with capture_logs() as sync_logs:
        sync_end = run_sync(sync_engine, ScriptedSender(*SCRIPTS[name]), sync_clock)
    with capture_logs() as async_logs:
        async_end = run_async(async_engine, ScriptedSender(*SCRIPTS[name]), async_clock)
    assert summary(sync_end) == summary(async_end)
    assert sync_clock.sleeps == async_clock.sleeps
    assert sync_engine.calls == async_engine.calls == len(async_logs)
    assert sync_logs == async_logs


def test_async_send_function(engine: Engine) -> None:
    """A coroutine send function is awaited; an async sleep is awaited too."""
    clock = FakeClock()
    outcomes = iter([sms(error=27), sms(error=27), DELIVERED])
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.sleep(seconds)

    async def send() -> Outcome:
        outcome = next(outcomes)
        if outcome is DELIVERED:
            return outcome
        raise DeliveryFailed(outcome)

    loop = async_retrying(engine, clock=clock, sleep=sleep, outcome_from_result=lambda r: r)
    assert DELIVERED == asyncio.run(loop(send))
    assert [10.0, 20.0] == slept


def test_async_for_attempt_form(engine: Engine) -> None:
    """`async for attempt in async_retrying(...): with attempt:` ends with the same exceptions."""
    clock = FakeClock()
    sender = ScriptedSender(sms(error=27), sms(error=581))

    async def main() -> None:
        async for attempt in async_retrying(engine, clock=clock, sleep=clock.sleep):
            with attempt:
                sender()

    with pytest.raises(RetryLater) as info:
        asyncio.run(main())
    assert (2, [10.0]) == (sender.calls, clock.sleeps)
    assert History(attempts=2, first_attempt_at=START, channels=("sms",)) == info.value.history


def test_async_retry_decorator(engine: Engine) -> None:
    """`@retry(engine)` on an `async def` gives an async wrapper."""
    clock = FakeClock()

    @retry(engine, clock=clock, sleep=clock.sleep)
    async def send(text: str) -> str:
        raise DeliveryFailed(sms(error=1))

    with pytest.raises(Suppressed):
        asyncio.run(send("hello"))


def test_async_user_before_hook_may_be_a_coroutine(engine: Engine) -> None:
    """An async before hook passed through to tenacity is awaited before every attempt."""
    numbers: list[int] = []

    async def before(retry_state: tenacity.RetryCallState) -> None:
        numbers.append(retry_state.attempt_number)

    run_async(engine, ScriptedSender(sms(error=27), DELIVERED), FakeClock(), before=before)
    assert [1, 2] == numbers


def test_concurrent_messages_keep_separate_state(engine: Engine) -> None:
    """One AsyncRetrying shared by concurrent messages judges each message on its own attempts."""
    clock = FakeClock()
    counting = CountingEngine(engine)
    scripts = {
        "m-1": [sms(error=27), DELIVERED],
        "m-2": [sms(error=27), sms(error=27), sms(error=1)],
        "m-3": [sms(error=581)],
    }

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(0)  # let the other messages interleave

    loop = async_retrying(counting, clock=clock, sleep=sleep, outcome_from_result=report_outcome)

    async def deliver(message_id: str) -> str:
        sender = ScriptedSender(*[
            Outcome(**{**{f: getattr(o, f) for f in ("provider", "channel", "status", "error")},
                       "message_id": message_id}) for o in scripts[message_id]])
        try:
            await loop.wraps(sender)()
        except NotDelivered as exc:
            return f"{type(exc).__name__}@{exc.history.attempts if exc.history else 0}"
        return f"delivered@{sender.calls}"

    async def main() -> list[str]:
        return await asyncio.gather(*(deliver(m) for m in sorted(scripts)))

    assert ["delivered@2", "Suppressed@3", "RetryLater@1"] == asyncio.run(main())
    assert 6 == counting.calls


def test_async_returns_a_tenacity_async_retrying(engine: Engine) -> None:
    """The configured object is a plain tenacity.AsyncRetrying."""
    assert isinstance(async_retrying(engine), tenacity.AsyncRetrying)
