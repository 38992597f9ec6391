"""tenacity loops given a recorder: attempts go through the ledger, and the suppression list is checked before
every send (on SQLite and Redis)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from dlrpolicy import Engine, Outcome, Recorder
from dlrpolicy.state._store import Store
from dlrpolicy.tenacity import Blocked, DeliveryFailed, LoopConfigError, Pending, RetryLater, Suppressed, retrying
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


def test_a_plain_successful_send_is_recorded_as_sent(recorder: Recorder) -> None:  # noqa: F811
    """sent_id_from_result names the provider's message id of a send that returned: the ledger records the send
    under the key, and the webhook report that follows (naming only the provider id) lands on the key."""
    clock = Clock()
    loop = retrying(recorder.engine, recorder=recorder, key="order-3", clock=clock, provider="infobip",
                    sent_id_from_result=lambda response: response["messageId"],
                    check={"recipient": "+821012340001", "channel": "sms"})
    assert {"messageId": "p-7"} == loop(lambda: {"messageId": "p-7"})
    history = recorder.history("order-3")
    assert history is not None
    assert [("infobip:p-7", "sms", "send")] == [(s["provider_id"], s["channel"], s["source"]) for s in history.sends]
    report = recorder.record(outcome("p-7", "delivered"), now=NOW + timedelta(minutes=1))
    assert ("order-3", 1) == (report.key, report.attempts)


def test_an_outcome_read_from_the_result_is_recorded_as_sent_too(recorder: Recorder) -> None:  # noqa: F811
    """outcome_from_result's Outcome names the attempt's message id: the send and the report both land on the
    key, one attempt."""
    clock = Clock()
    loop = retrying(recorder.engine, recorder=recorder, key="order-4", clock=clock,
                    outcome_from_result=lambda response: outcome(response["messageId"], "pending"))
    with pytest.raises(Pending):
        loop(lambda: {"messageId": "p-8"})
    history = recorder.history("order-4")
    assert history is not None
    assert (1, "send", 1) == (history.attempts, history.sends[0]["source"], len(history.reports))


def test_sent_id_from_result_needs_what_sent_records(recorder: Recorder) -> None:  # noqa: F811
    """Without a recorder and key, a provider, or the channel (check's), the loop is refused when built."""
    for options, argument in (({}, "sent_id_from_result"), ({"recorder": recorder, "key": "k"}, "provider"),
                              ({"recorder": recorder, "key": "k", "provider": "infobip"}, "check")):
        with pytest.raises(LoopConfigError) as exc:
            retrying(recorder.engine, sent_id_from_result=str, **options)  # type: ignore[arg-type]
        assert argument == exc.value.argument


@pytest.mark.parametrize(("check", "needle"), [({"recipent": "+821012345678"}, "'recipent'"),
                                               ("+821012345678", "a mapping")])
def test_a_check_the_recorder_cannot_ask_is_a_config_error(recorder: Recorder, check: object,  # noqa: F811
                                                           needle: str) -> None:
    """A misspelt check key or a bare string fails when the loop is built, naming the keys to use (it was a
    TypeError at the first attempt)."""
    with pytest.raises(LoopConfigError, match=needle) as exc:
        retrying(recorder.engine, recorder=recorder, key="k", check=check)  # type: ignore[arg-type]
    assert "check" == exc.value.argument
