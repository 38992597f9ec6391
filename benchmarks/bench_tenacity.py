"""Overhead of `dlrpolicy.tenacity` per attempt, against a plain `tenacity.Retrying` in the same run.

Every contender runs the same send loop: a send function that raises on the first four attempts (an Infobip
EC_ABSENT_SUBSCRIBER report) and succeeds on the fifth, with sleeping replaced by a no-op, so what is measured is
the loop's own work per attempt.

- baseline: ``tenacity.Retrying`` with the equivalent built-in strategies, as a hand-written loop would be
  configured: ``retry_if_exception_type``, ``wait_exponential_jitter``, ``stop_after_attempt | stop_after_delay``
  (the policy's attempt limit and deadline), ``before_sleep_log`` (a log line per retry) and a
  ``retry_error_callback`` re-raising;
- integration, engine stubbed: `dlrpolicy.tenacity.retrying` whose engine returns precomputed decisions, so the
  row isolates what the integration adds (reading the outcome, the once-per-attempt judgement, the inline/
  deferred choice, the structured event) -- this is the row the ``<= 1.2x`` target applies to;
- integration, full: the same with `Engine.default()` evaluating every attempt, for the end-to-end cost
  (the engine's evaluation is measured on its own in bench_engine).

Decision events go to a logger that drops them (a real structlog pipeline's rendering cost is the user's choice).
Times are the best of several interleaved rounds, in microseconds per attempt.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import tenacity

from dlrpolicy import CodeRef, Decision, Engine, History, Outcome
from dlrpolicy.tenacity import DeliveryFailed, NotDelivered, retrying

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))
from _rows import Row, result_row

NAME = "tenacity"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
FAILURES = 4
TARGET = "<= 1.2x"


ABSENT = Outcome(provider="infobip", channel="sms", message_id="bench-1", recipient="+821012345678",
                 status=CodeRef(id=9, group_id=2, name="UNDELIVERABLE_NOT_DELIVERED"),
                 error=CodeRef(id=27, group_id=1, name="EC_ABSENT_SUBSCRIBER", permanent=False))
DELIVERED = Outcome(provider="infobip", channel="sms", message_id="bench-1", recipient="+821012345678",
                    status=CodeRef(id=5, group_id=3, name="DELIVERED_TO_HANDSET"),
                    error=CodeRef(id=0, group_id=0, name="NO_ERROR", permanent=False))


row = functools.partial(result_row, NAME)


class DroppingLogger:
    """Accepts `decision` events and discards them."""

    def info(self, event: str, **fields: Any) -> None:
        """Discard the event."""


class StubEngine:
    """Returns a precomputed decision per reported outcome: the integration's cost without the engine's."""

    def __init__(self, engine: Engine) -> None:
        self._by_outcome = {
            id(outcome): engine.evaluate(outcome, now=NOW, history=History(attempts=1, first_attempt_at=NOW))
            for outcome in (ABSENT, DELIVERED)
        }
        # Keep the retry inline whatever the shipped policy's backoff is: this row measures the loop, not policy.
        absent = self._by_outcome[id(ABSENT)]
        if absent.verdict != "retry" or absent.channel is not None:
            raise RuntimeError(f"the default policy no longer retries {ABSENT.error}; pick another code")
        self._by_outcome[id(ABSENT)] = _with_retry_at(absent, NOW + timedelta(seconds=1))

    def evaluate(self, outcome: Outcome, *, now: datetime, history: History | None = None) -> Decision:
        """The precomputed decision for ``outcome``."""
        return self._by_outcome[id(outcome)]


def _with_retry_at(decision: Decision, retry_at: datetime) -> Decision:
    import attrs

    return attrs.evolve(decision, retry_at=retry_at)


class ScriptedSend:
    """Raises DeliveryFailed(ABSENT) ``failures`` times, then returns the delivered report; reset per loop."""

    __slots__ = ("calls", "failures")

    def __init__(self, failures: int = FAILURES) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self) -> Outcome:
        self.calls += 1
        if self.calls <= self.failures:
            raise DeliveryFailed(ABSENT)
        return DELIVERED


def _no_sleep(seconds: float) -> None:
    return None


def _reraise(retry_state: tenacity.RetryCallState) -> Any:
    assert retry_state.outcome is not None
    return retry_state.outcome.result()


# A stdlib logger that drops INFO, as DroppingLogger drops the integration's events.
_PLAIN_LOGGER = logging.getLogger("bench_tenacity.plain")
_PLAIN_LOGGER.setLevel(logging.WARNING)
_PLAIN_LOGGER.propagate = False


def plain_loop() -> tenacity.Retrying:
    """The baseline: tenacity's built-in strategies doing the equivalent job.

    Jittered exponential backoff, an attempt limit or a deadline (whichever comes first, as the policy's
    max_attempts and give_up_after), and a log line per retry.
    """
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(DeliveryFailed),
        wait=tenacity.wait_exponential_jitter(initial=30, max=3600, jitter=3),
        stop=tenacity.stop_after_attempt(FAILURES + 1) | tenacity.stop_after_delay(48 * 3600),
        before_sleep=tenacity.before_sleep_log(_PLAIN_LOGGER, logging.INFO),
        retry_error_callback=_reraise,
        sleep=_no_sleep,
    )


def integration_loop(engine: Any) -> tenacity.Retrying:
    """The integration, with the clock fixed and sleeping a no-op.

    ``max_inline_wait`` is a week so that every retry the policy allows happens inline, whatever delays the
    shipped policy chooses: the row measures attempts, not deferrals.
    """
    return retrying(engine, clock=lambda: NOW, sleep=_no_sleep, logger=DroppingLogger(), max_inline_wait="7d",
                    outcome_from_result=lambda result: result)


def time_loops(make: Callable[[], tenacity.Retrying], loops: int) -> tuple[float, int]:
    """Wall time in ns of ``loops`` send loops (each with a fresh script) and the attempts they made."""
    retry_loop = make()
    attempts = 0
    start = time.perf_counter_ns()
    for _ in range(loops):
        send = ScriptedSend()
        with contextlib.suppress(NotDelivered):
            retry_loop(send)
        attempts += send.calls
    return time.perf_counter_ns() - start, attempts


def run(quick: bool = False) -> list[Row]:
    """Per-attempt cost of the plain loop, the integration with a stubbed engine, and the full integration."""
    engine = Engine.default()
    stub = StubEngine(engine)
    contenders: dict[str, Callable[[], tenacity.Retrying]] = {
        "plain": plain_loop,
        "stubbed": lambda: integration_loop(stub),
        "full": lambda: integration_loop(engine),
    }
    loops, rounds = (200, 3) if quick else (2000, 7)
    for make in contenders.values():  # warm up caches and the engine's compiled policy
        time_loops(make, 20)
    best = dict.fromkeys(contenders, math.inf)
    attempts_made: dict[str, int] = {}
    for _ in range(rounds):
        for name, make in contenders.items():
            elapsed, attempts = time_loops(make, loops)
            attempts_made[name] = attempts
            best[name] = min(best[name], elapsed / attempts / 1000)
    note = f"{attempts_made['full'] // loops} attempts per loop with the default policy, {loops} loops x {rounds}"
    return [
        row("plain tenacity.Retrying, built-in strategies", best["plain"], "us/attempt"),
        row("dlrpolicy.tenacity.retrying, engine stubbed", best["stubbed"], "us/attempt",
            baseline="plain tenacity.Retrying", ratio=best["stubbed"] / best["plain"], target=TARGET),
        row("dlrpolicy.tenacity.retrying, Engine.default() evaluating", best["full"], "us/attempt",
            baseline="plain tenacity.Retrying", ratio=best["full"] / best["plain"], note=note),
    ]


if __name__ == "__main__":
    for result in run(quick=True):
        print(f"{result['metric']:<60} {result['value']:8.2f} {result['unit']}  ratio={result['ratio']}")
