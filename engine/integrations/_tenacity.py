"""tenacity integration: wrap a send call and the engine decides whether, when and how long to retry.

>>> from dlrpolicy import Engine
>>> from dlrpolicy.tenacity import DeliveryFailed, retrying
>>> send_with_policy = retrying(Engine.default()).wraps(send)  # doctest: +SKIP

The send function either raises `DeliveryFailed` with what the provider said, raises an exception that
``outcome_from_exception`` maps to an `Outcome`, or returns normally (a success, unless ``outcome_from_result``
reads an outcome from the result).  Each attempt is evaluated once; the decision is logged as one ``decision``
event and stored on tenacity's retry state, where the ``retry``, ``wait`` and ``stop`` strategies read it.

How a loop ends, by verdict: ``done`` returns the result; a ``retry`` due within ``max_inline_wait`` sleeps
inline and sends again; a ``retry`` due later (or on a fallback channel) raises `RetryLater`; ``suppress``
raises `Suppressed`, ``escalate`` `Escalated` and ``wait`` `Pending`.  All four subclass `NotDelivered` and
carry the decision, the outcome and the `History` to pass when the message is resumed.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, ParamSpec, Protocol, TypeVar, cast

import attrs
import structlog
import tenacity

from ..model._decision import Decision
from ..model._duration import parse_duration
from ..model._outcome import History, Outcome
from ..state._failures import Blocked
from ..state._recorder import Recorder
from ..state._sends import blocking, check_problem, record_send, send_options_problem
from ._log import log_decision
from ._loop_endings import (
    ENDINGS,
    DeliveryFailed,
    LoopConfigError,
    NotDelivered,
)

__all__ = [
    "MAX_LOOP_ATTEMPTS", "AttemptDecision", "Blocked", "DecisionSource", "async_retrying", "attempt_decision",
    "retry", "retrying",
]

P = ParamSpec("P")
R = TypeVar("R")

#: Hard cap on attempts within one loop, whatever the policy says: a policy with a huge ``max_attempts`` and
#: short delays must still not hold a worker indefinitely.  Past the cap the loop ends with `RetryLater`.
MAX_LOOP_ATTEMPTS: Final = 25

# tenacity owns these in a plain Retrying; here the engine does, so accepting them would silently disagree.
_ENGINE_OWNED: Final = ("retry", "wait", "stop", "retry_error_callback", "retry_error_cls", "reraise")
# Where the per-run state lives on tenacity's RetryCallState (which has no __slots__).
_STATE_ATTR: Final = "dlrpolicy"


class DecisionSource(Protocol):
    """Anything with `Engine.evaluate`'s signature (an `Engine`, a tenant's engine, or a test double)."""

    def evaluate(self, outcome: Outcome, *, now: datetime, history: History | None = None) -> Decision:
        """Decide what to do about ``outcome`` at ``now``."""
        ...


@attrs.frozen
class AttemptDecision:
    """One attempt as the loop judged it: the outcome read, the decision, and the inline delay (if any).

    ``decision`` is None when the attempt produced no outcome (a plain success, or an exception nobody mapped).
    ``inline_delay`` is the number of seconds the loop sleeps before the next attempt, or None when it ends.
    ``history`` counts this attempt; it is the history the decision was evaluated with.
    """

    attempt_number: int
    outcome: Outcome | None
    decision: Decision | None
    inline_delay: float | None
    history: History | None


@attrs.define
class _RunState:
    """Mutable per-run state on the RetryCallState: one run is one call of the Retrying object."""

    started_at: datetime
    # Channels tried, the resumed history's first, in order and without repeats (a dict is an ordered set).
    channels: dict[str, None]
    judged: AttemptDecision | None = None
    # What the judged attempt raised (None: it returned); read once, since each read takes the future's lock.
    failure: BaseException | None = None


def attempt_decision(retry_state: tenacity.RetryCallState) -> AttemptDecision | None:
    """The judgement of the current attempt, for ``before_sleep``/``after`` hooks (None before the first)."""
    run = getattr(retry_state, _STATE_ATTR, None)
    return run.judged if isinstance(run, _RunState) else None


def _failure(retry_state: tenacity.RetryCallState) -> BaseException | None:
    run = getattr(retry_state, _STATE_ATTR)
    assert isinstance(run, _RunState)  # set by judge, which every strategy calls first
    return run.failure


def _utc_now() -> datetime:
    return datetime.now(UTC)


@attrs.frozen
class _EngineStrategies:
    """The retry, wait, stop and ending strategies of one configured loop; all state lives on the retry state."""

    engine: DecisionSource
    history: History | None
    max_inline_wait: timedelta
    clock: Callable[[], datetime]
    outcome_from_exception: Callable[[Exception], Outcome | None] | None
    outcome_from_result: Callable[[Any], Outcome | None] | None
    logger: Any
    max_loop_attempts: int
    #: With a recorder (state): attempts are recorded through the ledger under ``key``, and every attempt is
    #: checked against the suppression list (``check``: recipient, channel, sender, template, tenant, and
    #: ``advertising=True`` for a promotion) first.
    recorder: Recorder | None = None
    key: str | None = None
    check: Mapping[str, str | bool] | None = None
    #: An attempt that returned went out: its provider id (and provider) for `Recorder.sent` under ``key``.
    sent_id_from_result: Callable[[Any], str | None] | None = None
    provider: str | None = None

    def start(self, retry_state: tenacity.RetryCallState) -> None:
        """``before`` hook: remember when the run's first attempt started (on the injected clock); with a
        recorder, refuse to send what the suppression list blocks."""
        if not isinstance(getattr(retry_state, _STATE_ATTR, None), _RunState):
            setattr(retry_state, _STATE_ATTR, self._new_run())
        if self.recorder is not None and self.check:
            entry = blocking(self.recorder, self.check, now=self.clock())
            if entry is not None:
                raise Blocked(entry)

    def _new_run(self) -> _RunState:
        return _RunState(self.clock(), dict.fromkeys(self.history.channels if self.history is not None else ()))

    def _read_outcome(self, retry_state: tenacity.RetryCallState, failure: BaseException | None) -> Outcome | None:
        if failure is not None:
            if isinstance(failure, DeliveryFailed):
                return failure.outcome
            if self.outcome_from_exception is not None and isinstance(failure, Exception):
                return self.outcome_from_exception(failure)
            return None
        # In the `with attempt:` form there is no result to read (tenacity records None).
        if self.outcome_from_result is not None and retry_state.fn is not None and retry_state.outcome is not None:
            return self.outcome_from_result(retry_state.outcome.result())
        return None

    def judge(self, retry_state: tenacity.RetryCallState) -> AttemptDecision:
        """Evaluate the current attempt once; later calls for the same attempt return the stored judgement."""
        run = getattr(retry_state, _STATE_ATTR, None)
        if not isinstance(run, _RunState):  # a Retrying whose `before` hook was replaced after construction
            run = self._new_run()
            setattr(retry_state, _STATE_ATTR, run)
        number = retry_state.attempt_number
        if run.judged is not None and run.judged.attempt_number == number:
            return run.judged
        future = retry_state.outcome
        run.failure = future.exception() if future is not None else None
        outcome = self._read_outcome(retry_state, run.failure)
        if run.failure is None and self.recorder is not None and self.key is not None:
            sent_id = None if self.sent_id_from_result is None or retry_state.fn is None or future is None else \
                self.sent_id_from_result(future.result())
            record_send(self.recorder, key=self.key, send=self.check, outcome=outcome, message_id=sent_id,
                        provider=self.provider, at=self.clock())
        if outcome is None:
            run.judged = AttemptDecision(number, None, None, None, None)
            return run.judged
        if outcome.channel is not None:
            run.channels[outcome.channel] = None
        prior = self.history
        if prior is None:
            history = History(attempts=number, first_attempt_at=run.started_at, channels=run.channels)
        else:
            history = History(attempts=prior.attempts + number, first_attempt_at=prior.first_attempt_at or
                              run.started_at, channels=run.channels)
        now = self.clock()
        if self.recorder is not None:  # the ledger's history (every attempt under the key) decides
            recorded = self.recorder.record(outcome, now=now, key=self.key, history=history)
            decision, history = recorded.decision, recorded.history
        else:
            decision = self.engine.evaluate(outcome, now=now, history=history)
        log_decision(self.logger, decision, outcome)
        run.judged = AttemptDecision(number, outcome, decision, self._inline_delay(decision, now), history)
        return run.judged

    def _inline_delay(self, decision: Decision, now: datetime) -> float | None:
        # A fallback channel needs the caller to change how it sends, so it always leaves the loop.
        if decision.verdict != "retry" or decision.retry_at is None or decision.channel is not None:
            return None
        delay = decision.retry_at - now
        if delay > self.max_inline_wait:
            return None
        return max(delay.total_seconds(), 0.0)

    def retry(self, retry_state: tenacity.RetryCallState) -> bool:
        """tenacity ``retry``: False ends the loop with tenacity's own ending (return the result / re-raise)."""
        judged = self.judge(retry_state)
        if judged.decision is None:
            return False
        return judged.decision.verdict != "done" or _failure(retry_state) is not None

    def wait(self, retry_state: tenacity.RetryCallState) -> float:
        """tenacity ``wait``: the seconds until ``retry_at`` for an inline retry, else 0 (the loop ends)."""
        return self.judge(retry_state).inline_delay or 0.0

    def stop(self, retry_state: tenacity.RetryCallState) -> bool:
        """tenacity ``stop``: stop unless the decision is an inline retry and the safety cap is not reached."""
        judged = self.judge(retry_state)
        return judged.inline_delay is None or retry_state.attempt_number >= self.max_loop_attempts

    def finish(self, retry_state: tenacity.RetryCallState) -> Any:
        """tenacity ``retry_error_callback``: turn the last decision into a result or a `NotDelivered`."""
        judged = self.judge(retry_state)
        future = retry_state.outcome
        assert future is not None  # tenacity only ends a run after an attempt
        if judged.decision is None:
            return future.result()  # re-raises an exception nobody mapped, unchanged
        failure = _failure(retry_state)
        if judged.decision.verdict == "done":
            return failure.result if isinstance(failure, DeliveryFailed) else future.result()
        ending = ENDINGS.get(judged.decision.verdict, NotDelivered)
        raise ending(judged.decision, judged.outcome, judged.history) from failure


def _configure(
    engine: DecisionSource, *, history: History | None, max_inline_wait: str | timedelta,
    clock: Callable[[], datetime] | None, outcome_from_exception: Callable[[Exception], Outcome | None] | None,
    outcome_from_result: Callable[[Any], Outcome | None] | None, logger: Any, max_loop_attempts: int,
    tenacity_kwargs: dict[str, Any], recorder: Recorder | None = None, key: str | None = None,
    check: Mapping[str, str | bool] | None = None, sent_id_from_result: Callable[[Any], str | None] | None = None,
    provider: str | None = None,
) -> _EngineStrategies:
    for name in _ENGINE_OWNED:
        if name in tenacity_kwargs:
            raise LoopConfigError(name, "the engine decides retry, wait and stop; remove this argument (use "
                                  "max_inline_wait, max_loop_attempts or the policy's max_attempts instead)")
    if not callable(getattr(engine, "evaluate", None)):
        raise LoopConfigError("engine", f"expected an Engine (something with .evaluate), got {engine!r}")
    if history is not None and not isinstance(history, History):
        raise LoopConfigError("history", f"expected a dlrpolicy.History, got {history!r}")
    wait = parse_duration(max_inline_wait) if isinstance(max_inline_wait, str) else max_inline_wait
    if not isinstance(wait, timedelta) or wait < timedelta(0):
        raise LoopConfigError("max_inline_wait", f'expected a duration such as "60s" or a timedelta >= 0, '
                              f"got {max_inline_wait!r}")
    if type(max_loop_attempts) is not int or max_loop_attempts < 1:
        raise LoopConfigError("max_loop_attempts", f"expected an integer >= 1, got {max_loop_attempts!r}")
    problem = check_problem(check)
    if problem is None and sent_id_from_result is not None:
        problem = send_options_problem(recorder, key, provider, check)
    if problem is not None:
        raise LoopConfigError(*problem)
    return _EngineStrategies(
        engine=engine, history=history, max_inline_wait=wait, clock=clock or _utc_now,
        outcome_from_exception=outcome_from_exception, outcome_from_result=outcome_from_result,
        logger=logger if logger is not None else structlog.get_logger("dlrpolicy"),
        max_loop_attempts=max_loop_attempts, recorder=recorder, key=key, check=check,
        sent_id_from_result=sent_id_from_result, provider=provider,
    )


def retrying(
    engine: DecisionSource,
    *,
    history: History | None = None,
    max_inline_wait: str | timedelta = "60s",
    clock: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] | None = None,
    outcome_from_exception: Callable[[Exception], Outcome | None] | None = None,
    outcome_from_result: Callable[[Any], Outcome | None] | None = None,
    logger: Any = None,
    max_loop_attempts: int = MAX_LOOP_ATTEMPTS,
    recorder: Recorder | None = None,
    key: str | None = None,
    check: Mapping[str, str | bool] | None = None,
    sent_id_from_result: Callable[[Any], str | None] | None = None,
    provider: str | None = None,
    **tenacity_kwargs: Any,
) -> tenacity.Retrying:
    """A `tenacity.Retrying` whose retry, wait and stop strategies ask ``engine``.

    Use it as ``retrying(engine)(send, *args)``, as a decorator through ``.wraps(send)`` (or `retry`), or as
    ``for attempt in retrying(engine): with attempt: ...``.  ``history`` is what happened to the message before
    this loop (pass ``exc.history`` from a `RetryLater` when resuming).  ``clock`` returns the aware current
    time (default: UTC now); ``sleep`` replaces tenacity's sleep.  ``outcome_from_exception`` maps other
    exceptions to an `Outcome` (None: not a delivery failure, re-raised unchanged); ``outcome_from_result``
    reads an `Outcome` from a returned result (None, or no function: a plain success).  ``logger`` gets one
    ``decision`` event per attempt (default ``structlog.get_logger("dlrpolicy")``).  Other keyword arguments
    (``before``, ``after``, ``before_sleep``, ``name``) go to tenacity.

    With ``recorder`` (a `dlrpolicy.Recorder` over a store), each attempt's outcome is recorded in the ledger
    under ``key`` (so attempts, deadlines and effects are the ledger's, across loops and processes), and before
    each attempt ``check`` (``recipient``, ``channel``, ``sender``, ``template``, ``tenant``; ``advertising=True``
    for a promotion) is looked up in the suppression list: a blocked send raises `Blocked` and nothing is sent.
    An attempt that returns went out: when its provider message id is known — the `Outcome` ``outcome_from_result``
    reads, or ``sent_id_from_result(result)`` with ``provider`` and ``check``'s channel — the loop records it with
    `Recorder.sent`, so the webhook reports that name only that id land on ``key``.
    """
    strategies = _configure(
        engine, history=history, max_inline_wait=max_inline_wait, clock=clock,
        outcome_from_exception=outcome_from_exception, outcome_from_result=outcome_from_result, logger=logger,
        max_loop_attempts=max_loop_attempts, tenacity_kwargs=tenacity_kwargs, recorder=recorder, key=key,
        check=check, sent_id_from_result=sent_id_from_result, provider=provider,
    )
    user_before = tenacity_kwargs.pop("before", None)

    def before(retry_state: tenacity.RetryCallState) -> None:
        strategies.start(retry_state)
        if user_before is not None:
            user_before(retry_state)

    if sleep is not None:
        tenacity_kwargs["sleep"] = sleep
    return tenacity.Retrying(
        retry=strategies.retry, wait=strategies.wait, stop=strategies.stop,
        retry_error_callback=strategies.finish, before=before, **tenacity_kwargs,
    )


def async_retrying(
    engine: DecisionSource,
    *,
    history: History | None = None,
    max_inline_wait: str | timedelta = "60s",
    clock: Callable[[], datetime] | None = None,
    sleep: Callable[[float], Awaitable[None] | None] | None = None,
    outcome_from_exception: Callable[[Exception], Outcome | None] | None = None,
    outcome_from_result: Callable[[Any], Outcome | None] | None = None,
    logger: Any = None,
    max_loop_attempts: int = MAX_LOOP_ATTEMPTS,
    recorder: Recorder | None = None,
    key: str | None = None,
    check: Mapping[str, str | bool] | None = None,
    sent_id_from_result: Callable[[Any], str | None] | None = None,
    provider: str | None = None,
    **tenacity_kwargs: Any,
) -> tenacity.AsyncRetrying:
    """The asyncio twin of `retrying`: a `tenacity.AsyncRetrying` with the same strategies and endings.

    Use it as ``await async_retrying(engine)(send, *args)``, through ``.wraps``, or as
    ``async for attempt in async_retrying(engine): with attempt: ...``.  ``sleep`` may be a coroutine
    function (default: ``asyncio.sleep``) or a plain function (a test's fake clock).  tenacity keeps a call's
    bookkeeping on the Retrying object (per thread, not per task), so concurrent tasks should share a loop
    through ``.wraps`` (which copies it per call) rather than by awaiting the same object at once.
    """
    strategies = _configure(
        engine, history=history, max_inline_wait=max_inline_wait, clock=clock,
        outcome_from_exception=outcome_from_exception, outcome_from_result=outcome_from_result, logger=logger,
        max_loop_attempts=max_loop_attempts, tenacity_kwargs=tenacity_kwargs, recorder=recorder, key=key,
        check=check, sent_id_from_result=sent_id_from_result, provider=provider,
    )
    user_before = tenacity_kwargs.pop("before", None)

    async def before(retry_state: tenacity.RetryCallState) -> None:
        strategies.start(retry_state)
        if user_before is not None:
            returned = user_before(retry_state)
            if inspect.isawaitable(returned):
                await returned

    if sleep is not None:
        user_sleep = sleep

        # tenacity awaits whatever sleep returns, so a plain function (a fake clock) needs wrapping.
        async def awaitable_sleep(seconds: float) -> None:
            returned = user_sleep(seconds)
            if inspect.isawaitable(returned):
                await returned

        tenacity_kwargs["sleep"] = awaitable_sleep
    return tenacity.AsyncRetrying(
        retry=strategies.retry, wait=strategies.wait, stop=strategies.stop,
        retry_error_callback=strategies.finish, before=before, **tenacity_kwargs,
    )


def retry(engine: DecisionSource, **options: Any) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator form: ``@retry(engine, clock=..., ...)`` on a send function, sync or ``async def``.

    Takes the keyword arguments of `retrying`; coroutine functions get `async_retrying`.
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        if inspect.iscoroutinefunction(fn):
            return cast("Callable[P, R]", async_retrying(engine, **options).wraps(fn))
        return cast("Callable[P, R]", retrying(engine, **options).wraps(fn))

    return decorate
