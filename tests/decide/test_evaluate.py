"""Tests for `evaluate` semantics, with a fixed `now` and the small test policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from dlrpolicy import CodeRef, Engine, History, InvalidOutcomeError, NaiveDatetimeError, Outcome, Resend
from tests.conftest import NOW
from tests.decide.reference import reference_evaluate

SEOUL = timezone(timedelta(hours=9))


def _sms(**fields: object) -> Outcome:
    """An Infobip SMS outcome with a message id and recipient."""
    return Outcome(provider="infobip", channel="sms", message_id="m-1", recipient="+82101234", **fields)  # type: ignore[arg-type]


def test_delivered_status_is_not_overruled_by_a_stray_error(small_engine: Engine) -> None:
    """Status group 3 (delivered) with error 581 is done: resending would be paid twice; the error is noted."""
    decision = small_engine.evaluate(_sms(status=CodeRef(id=5, group_id=3), error=CodeRef(id=581, group_id=1)),
                                     now=NOW)
    assert ("done", "delivered") == (decision.verdict, decision.rule)
    assert "also carries error 581" in decision.reason


def test_pending_status_waits_and_carries_the_error(small_engine: Engine) -> None:
    """Status group 1 (pending) with error 27 waits for the operator's final report; the reason names the error."""
    decision = small_engine.evaluate(_sms(status=CodeRef(id=7, group_id=1), error=CodeRef(id=27, group_id=1,
                                                                                          name="EC_ABSENT_SUBSCRIBER")),
                                     now=NOW)
    assert ("wait", "pending") == (decision.verdict, decision.rule)
    assert "27 EC_ABSENT_SUBSCRIBER" in decision.reason


def test_non_ok_error_decides_over_an_undelivered_status(small_engine: Engine) -> None:
    """For the other groups (undeliverable, expired, rejected) a non-OK error decides."""
    outcome = _sms(status=CodeRef(id=9, group_id=2), error=CodeRef(id=581, group_id=1))
    assert ("retry", "out-of-credit") == (small_engine.evaluate(outcome, now=NOW).verdict,
                                          small_engine.evaluate(outcome, now=NOW).rule)


def test_ok_error_lets_status_decide(small_engine: Engine) -> None:
    """An OK error (NO_ERROR) leaves the decision to the status."""
    outcome = _sms(status=CodeRef(id=5, group_id=3), error=CodeRef(id=0, group_id=0))
    assert ("done", "delivered") == (small_engine.evaluate(outcome, now=NOW).verdict,
                                     small_engine.evaluate(outcome, now=NOW).rule)


def test_pending_waits_with_check_time(small_engine: Engine) -> None:
    """A pending status waits and says when to check again."""
    decision = small_engine.evaluate(_sms(status=CodeRef(id=7, group_id=1)), now=NOW)
    assert ("wait", NOW + timedelta(minutes=15), None) == (decision.verdict, decision.check_at, decision.retry_at)


def test_every_24h_until_7_days(small_engine: Engine) -> None:
    """581 retries 24h later, with the deadline 7 days after the first attempt."""
    first = NOW - timedelta(hours=1)
    decision = small_engine.evaluate(_sms(error=CodeRef(id=581)), now=NOW, history=History(first_attempt_at=first))
    assert (NOW + timedelta(hours=24), first + timedelta(days=7), 2) == (
        decision.retry_at, decision.give_up_at, decision.attempt)


def test_retry_past_deadline_becomes_on_exhausted(small_engine: Engine) -> None:
    """A retry that would land after give_up_at becomes the on_exhausted verdict (suppress message)."""
    first = NOW - timedelta(days=6, hours=1)
    history = History(attempts=7, first_attempt_at=first)
    decision = small_engine.evaluate(_sms(error=CodeRef(id=581)), now=NOW, history=history)
    assert ("suppress", None, "message", "m-1") == (decision.verdict, decision.retry_at, decision.suppress.scope,
                                                    decision.suppress.key)  # type: ignore[union-attr]
    assert "deadline" in decision.reason


def test_max_attempts_exhausts(small_engine: Engine) -> None:
    """With the defaults' 4 attempts used, a backoff retry becomes suppress."""
    decision = small_engine.evaluate(_sms(error=CodeRef(id=27, group_id=1)), now=NOW, history=History(attempts=4))
    assert "suppress" == decision.verdict
    assert "attempt limit (4)" in decision.reason


def test_backoff_without_jitter(small_engine: Engine) -> None:
    """The small policy's backoff doubles from 30s: the third failure waits 2 minutes."""
    decision = small_engine.evaluate(_sms(error=CodeRef(id=27, group_id=1)), now=NOW, history=History(attempts=3))
    assert NOW + timedelta(minutes=2) == decision.retry_at


def test_group_plus_permanent_beats_group(small_engine: Engine) -> None:
    """A permanent handset error (EC_UNKNOWN_SUBSCRIBER) hits the group+permanent rule."""
    decision = small_engine.evaluate(_sms(error=CodeRef(id=1, group_id=1)), now=NOW)
    assert ("handset-permanent", "suppress", "recipient", "+82101234") == (
        decision.rule, decision.verdict, decision.suppress.scope, decision.suppress.key)  # type: ignore[union-attr]


def test_next_day_in_zone(small_engine: Engine) -> None:
    """542 retries at the next day's 00:05 in New York."""
    decision = small_engine.evaluate(_sms(error=CodeRef(id=542)), now=NOW)
    assert datetime(2026, 11, 25, 5, 5, tzinfo=UTC) == decision.retry_at


def test_window_moves_retry(small_engine: Engine) -> None:
    """A KakaoTalk night failure at 22:00 KST retries at 08:00 KST."""
    now = datetime(2026, 11, 24, 22, 0, tzinfo=SEOUL)
    outcome = Outcome(provider="nhn_kakao", channel="kakao", status=CodeRef(id=3022), message_id="k")
    decision = small_engine.evaluate(outcome, now=now)
    assert datetime(2026, 11, 25, 8, 0, tzinfo=SEOUL) == decision.retry_at
    assert "window seoul_day" in decision.reason


def test_weekend_window(small_engine: Engine) -> None:
    """A Friday-evening failure under an office-hours window retries Monday 09:00 Berlin."""
    friday = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    decision = small_engine.evaluate(_sms(error=CodeRef(id=6, group_id=1)), now=friday,
                                     history=History(first_attempt_at=friday - timedelta(hours=1)))
    assert datetime(2026, 11, 30, 8, 0, tzinfo=UTC) == decision.retry_at


def test_suppress_with_duration_and_escalation(small_engine: Engine) -> None:
    """6016 suppresses the sender domain for 24h and escalates to deliverability."""
    outcome = Outcome(provider="infobip", channel="email", error=CodeRef(id=6016), message_id="e",
                      sender="news@acme.example", recipient="a@b.example")
    d = small_engine.evaluate(outcome, now=NOW)
    assert ("retry", "sender_domain", "acme.example", NOW + timedelta(hours=24), "deliverability") == (
        d.verdict, d.suppress.scope, d.suppress.key, d.suppress.until, d.escalate.route)  # type: ignore[union-attr]


def test_channel_fallback_then_exhausted(small_engine: Engine) -> None:
    """-3010 falls back to SMS; once SMS was tried, the fallback is exhausted."""
    outcome = Outcome(provider="nhn_kakao", channel="kakao", error=CodeRef(id=-3010), message_id="k")
    first = small_engine.evaluate(outcome, now=NOW)
    again = small_engine.evaluate(outcome, now=NOW, history=History(attempts=2, channels=("kakao", "sms")))
    assert ("retry", "sms", NOW) == (first.verdict, first.channel, first.retry_at)
    assert ("suppress", None) == (again.verdict, again.channel)


def test_provider_retry_after_is_never_retried_early(small_engine: Engine) -> None:
    """Retry-After longer than the rule's delay wins; one beyond max_delay goes to a person, never retried early."""
    chat = lambda delay: Outcome(provider="infobip", channel="whatsapp", error=CodeRef(id=7017),  # noqa: E731
                                 message_id="w", retry_after=delay)
    assert NOW + timedelta(seconds=90) == small_engine.evaluate(chat(timedelta(seconds=90)), now=NOW).retry_at
    assert NOW + timedelta(seconds=10) == small_engine.evaluate(chat(timedelta(seconds=1)), now=NOW).retry_at
    too_long = small_engine.evaluate(chat(timedelta(hours=2)), now=NOW)
    assert ("escalate", None, "support") == (too_long.verdict, too_long.retry_at,
                                             too_long.escalate.route if too_long.escalate else None)


def test_retry_after_as_an_instant(small_engine: Engine) -> None:
    """A Retry-After date (retry_not_before) is compared with now: the retry waits for it."""
    outcome = Outcome(provider="infobip", channel="whatsapp", error=CodeRef(id=7017), message_id="w",
                      retry_not_before=NOW + timedelta(minutes=3))
    assert NOW + timedelta(minutes=3) == small_engine.evaluate(outcome, now=NOW).retry_at


def test_channel_specific_rule(small_engine: Engine) -> None:
    """A rule limited to viber decides only viber reports."""
    viber = Outcome(provider="infobip", channel="viber", error=CodeRef(id=7050), message_id="v")
    line = Outcome(provider="infobip", channel="line", error=CodeRef(id=7050), message_id="v")
    assert ("viber-only", "defaults") == (small_engine.evaluate(viber, now=NOW).rule,
                                          small_engine.evaluate(line, now=NOW).rule)


def test_unknown_code_is_labelled(small_engine: Engine) -> None:
    """A code the catalog does not know gets the unknown decision, labelled unknown."""
    decision = small_engine.evaluate(_sms(error=CodeRef(id=123456)), now=NOW)
    assert ("retry", "defaults.unknown", True, "support") == (
        decision.verdict, decision.rule, decision.code.unknown, decision.escalate.route)  # type: ignore[union-attr]
    assert "not in the catalog" in decision.reason


def test_unknown_permanent_code(small_engine: Engine) -> None:
    """An unknown code reported permanent is suppressed, not retried."""
    decision = small_engine.evaluate(_sms(error=CodeRef(id=123456, permanent=True)), now=NOW)
    assert ("suppress", "defaults.unknown_permanent") == (decision.verdict, decision.rule)


def test_ambiguous_id_with_one_answer_is_decided(small_engine: Engine) -> None:
    """Status 87 without a group: both entries (groups 4 and 5) share one plan here, so that plan decides."""
    decision = small_engine.evaluate(_sms(status=CodeRef(id=87)), now=NOW)
    assert (False, "defaults", "SIGNALS_BLOCKED", None) == (decision.code.unknown, decision.rule, decision.code.name,
                                                            decision.code.group_id)


def test_ambiguous_id_with_different_answers_is_safe() -> None:
    """When the entries of an ambiguous id are decided differently, the safe unknown decision applies, explained."""
    from dlrpolicy.policy._layers import compile_layers
    from tests.conftest import SMALL_POLICY, small_layer

    rule = ('\n[[rule]]\nid = "signals-expired"\nmatch = { provider = "infobip", kind = "status", group_id = 4, '
            'id = 87 }\nverdict = "suppress"\nreason = "Expired."\n')
    engine = Engine(compile_layers([small_layer(SMALL_POLICY + rule)]))
    decision = engine.evaluate(_sms(status=CodeRef(id=87)), now=NOW)
    assert (True, "defaults.unknown") == (decision.code.unknown, decision.rule)
    assert "ambiguous" in decision.reason


def test_reported_group_that_contradicts_the_table_looks_in_the_next(small_engine: Engine) -> None:
    """A voice report's status 87 in group 4 named SIGNALS_BLOCKED is the general entry, not voice's single 87."""
    outcome = Outcome(provider="infobip", channel="voice", message_id="v",
                      status=CodeRef(id=87, group_id=4, name="SIGNALS_BLOCKED"))
    decision = small_engine.evaluate(outcome, now=NOW)
    assert ("general", 4, "SIGNALS_BLOCKED") == (decision.code.product, decision.code.group_id, decision.code.name)
    voice = small_engine.evaluate(Outcome(provider="infobip", channel="voice", message_id="v",
                                          status=CodeRef(id=87, group_id=5)), now=NOW)
    assert ("voice", "REJECTED_INVALID_DELIVERY_TIME_WINDOW") == (voice.code.product, voice.code.name)


def test_name_disambiguates(small_engine: Engine) -> None:
    """Status 87 with a name but no group still needs the group (same name in both): with group it resolves."""
    decision = small_engine.evaluate(_sms(status=CodeRef(id=87, group_id=5)), now=NOW)
    assert (5, False) == (decision.code.group_id, decision.code.unknown)


def test_product_table_then_general(small_engine: Engine) -> None:
    """An email report's status 5 is found in the general status table."""
    outcome = Outcome(provider="infobip", channel="email", status=CodeRef(id=5, group_id=3), message_id="e")
    decision = small_engine.evaluate(outcome, now=NOW)
    assert ("done", "general") == (decision.verdict, decision.code.product)


def test_naive_now_rejected(small_engine: Engine) -> None:
    """A naive `now` raises NaiveDatetimeError that says how to fix it."""
    with pytest.raises(NaiveDatetimeError, match="timezone-aware"):
        small_engine.evaluate(_sms(error=CodeRef(id=581)), now=datetime(2026, 11, 24, 10, 0))


def test_naive_history_rejected() -> None:
    """History and Outcome reject naive datetimes at construction."""
    with pytest.raises(NaiveDatetimeError):
        History(first_attempt_at=datetime(2026, 1, 1))
    with pytest.raises(NaiveDatetimeError):
        _sms(error=CodeRef(id=1), sent_at=datetime(2026, 1, 1))


def test_outcome_needs_a_code() -> None:
    """An outcome with neither status nor error is rejected."""
    with pytest.raises(InvalidOutcomeError, match="status"):
        Outcome(provider="infobip", channel="sms")


@pytest.mark.parametrize("attempts", [0, -1, True])
def test_history_attempts_at_least_one(attempts: object) -> None:
    """History needs at least one attempt."""
    with pytest.raises(InvalidOutcomeError):
        History(attempts=attempts)  # type: ignore[arg-type]


def test_decision_json_keys_and_format(small_engine: Engine) -> None:
    """to_json has exactly the documented keys, datetimes in UTC with Z."""
    decision = small_engine.evaluate(_sms(error=CodeRef(id=581)), now=datetime(2026, 11, 24, 19, 0, tzinfo=SEOUL))
    data = decision.to_json()
    assert ["verdict", "retry_at", "give_up_at", "check_at", "attempt", "channel", "suppress", "escalate", "rule",
            "rule_source", "layers", "code", "reason", "policy_version"] == list(data)
    assert ("2026-11-25T10:00:00Z", None) == (data["retry_at"], data["check_at"])
    assert ["small"] == data["layers"]


def test_provider_fallback_drops_the_window_note_of_a_retry_it_replaced() -> None:
    """A retry moved into the bank's window that NHN's own SMS resend made done (RSC04) or wait (RSC03) says
    nothing about a window: no retry is sent, so nothing was moved."""
    root = Path(__file__).resolve().parents[2]
    bank = Engine.default(policy_dir=root / "examples" / "policies").for_tenant("bank")
    night = datetime(2026, 11, 24, 13, 30, tzinfo=UTC)  # 22:30 in Seoul, outside bank-daytime (08:00-21:00)
    for state, verdict in (("delivered", "done"), ("pending", "wait")):
        outcome = Outcome(provider="nhn_kakao", channel="kakao", message_id="r-1:1", recipient="01012345678",
                          status=CodeRef(id=3019), resend=Resend(state=state, reported="RSC0x"))
        decision = bank.evaluate(outcome, now=night)
        assert (verdict, None) == (decision.verdict, decision.retry_at)
        assert "window" not in decision.reason


@pytest.mark.parametrize(("outcome", "now", "history", "field"), [
    ({"provider": "infobip"}, NOW, None, "outcome"),
    (None, NOW, None, "outcome"),
    ("good", None, None, "now"),
    ("good", "2026-11-24T10:00:00Z", None, "now"),
    ("good", NOW, {"attempts": 2}, "history"),
])
def test_arguments_of_the_wrong_type_are_invalid_outcome_errors(small_engine: Engine, outcome: object, now: object,
                                                                history: object, field: str) -> None:
    """A dict for an outcome, None for now, a dict for a history: an InvalidOutcomeError naming the argument (an
    AttributeError came out of the engine before)."""
    real = _sms(error=CodeRef(id=581, group_id=1)) if outcome == "good" else outcome
    with pytest.raises(InvalidOutcomeError) as caught:
        small_engine.evaluate(real, now=now, history=history)  # type: ignore[arg-type]
    assert field == caught.value.field


def test_one_code_object_on_other_channels_and_products_is_decided_afresh() -> None:
    """The route memo is keyed by the code objects: the same CodeRef reported on another channel, by another
    provider's table or with a product named is decided as a fresh policy decides it, whatever came first."""
    ref = CodeRef(id=27, group_id=1, name="EC_ABSENT_SUBSCRIBER")
    reports = [Outcome(provider="infobip", channel="sms", error=ref, message_id="m-1"),
               Outcome(provider="infobip", channel="whatsapp", error=ref, message_id="m-1"),
               Outcome(provider="infobip", channel=None, error=ref, message_id="m-1"),
               Outcome(provider="infobip", channel="sms", product="general", error=ref, message_id="m-1"),
               Outcome(provider="nhn_kakao", channel="kakao", error=ref, message_id="m-1"),
               Outcome(provider="infobip", channel="sms", error=ref, message_id="m-1", event="seen")]
    engine = Engine.default()
    expected = [reference_evaluate(engine.policy, outcome, now=NOW) for outcome in reports for _ in range(2)]
    actual = [engine.evaluate(outcome, now=NOW) for outcome in reports for _ in range(2)]
    assert expected == actual
