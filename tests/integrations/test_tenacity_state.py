"""tenacity loops given a recorder: attempts go through the ledger, and the suppression list is checked before
every send (on SQLite and Redis)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from dlrpolicy import Engine, Outcome, Recorder
from dlrpolicy.state._store import Store
from dlrpolicy.tenacity import Blocked, DeliveryFailed, RetryLater, Suppressed, retrying
from tests.state.conftest import recorder, redis_url, state_url, store  # noqa: F401  (store fixtures)
from tests.state.reports import NOW, outcome


class Clock:
    """A clock that only moves when the loop sleeps."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_attempts_are_recorded_under_the_key(recorder: Recorder) -> None:  # noqa: F811
    """Each attempt's report lands on the key's history; a later loop continues its count."""
    clock = Clock()
    sends = iter(["p-1", "p-2"])

    def send() -> None:
        raise DeliveryFailed(outcome(next(sends), "absent", sent=clock()))

    for expected in (1, 2):
        loop = retrying(recorder.engine, recorder=recorder, key="order-1", clock=clock, sleep=clock.sleep,
                        max_inline_wait="0s")
        with pytest.raises(RetryLater) as exc:
            loop(send)
        assert exc.value.history is not None
        assert expected == exc.value.history.attempts
    history = recorder.history("order-1")
    assert history is not None
    assert 2 == history.attempts


def test_a_suppressed_recipient_is_never_sent_to(recorder: Recorder) -> None:  # noqa: F811
    """After an opt-out, the next loop for that recipient raises Blocked before calling send."""
    clock = Clock()
    first: Outcome = outcome("p-1", "opted-out", to="821012340001")
    with pytest.raises(Suppressed):
        retrying(recorder.engine, recorder=recorder, key="a", clock=clock)(lambda: (_ for _ in ()).throw(
            DeliveryFailed(first)))
    calls = []
    loop = retrying(recorder.engine, recorder=recorder, key="b", clock=clock,
                    check={"recipient": "+821012340001", "channel": "sms"})
    with pytest.raises(Blocked) as exc:
        loop(lambda: calls.append(1))
    assert ([], "recipient") == (calls, exc.value.entry.scope)


def test_without_a_recorder_nothing_is_checked(store: Store) -> None:  # noqa: F811
    """The stateless loop is unchanged: no store is consulted."""
    result = retrying(Engine.default(), check={"recipient": "+15550100"})(lambda: "sent")
    assert "sent" == result
