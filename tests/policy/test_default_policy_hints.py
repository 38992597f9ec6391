"""The shipped default policy encodes what the provider documents say, with exact times (issue 4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dlrpolicy import Catalog, Decision, Engine, EscalateEffect, History, SuppressEffect
from tests.strategies import outcome_for

# A Tuesday: 05:00 in New York, 19:00 in Seoul, 15:30 in Kolkata.
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SEOUL = ZoneInfo("Asia/Seoul")
NEW_YORK = ZoneInfo("America/New_York")


def decide(provider: str, kind: str, product: str, code: int, *, group_id: int | None = None,
           now: datetime = NOW, history: History | None = None, **fields: object) -> Decision:
    """The default policy's decision for one catalog code reported alone at ``now``."""
    entry = Catalog.load().lookup(provider, kind, product, code, group_id=group_id)
    fields.setdefault("message_id", "msg-1")
    fields.setdefault("recipient", "+821012345678" if provider == "nhn_kakao" else "+14155550100")
    outcome = outcome_for(entry, **fields)
    return Engine.default().evaluate(outcome, now=now, history=history)


def test_out_of_credit_retries_every_24h() -> None:
    """581: retry 24h later, deadline 7 days after the first attempt."""
    decision = decide("infobip", "error", "general", 581)
    assert ("retry", "sms.user-out-of-credit") == (decision.verdict, decision.rule)
    assert NOW + timedelta(hours=24) == decision.retry_at
    assert NOW + timedelta(days=7) == decision.give_up_at


def test_out_of_credit_keeps_the_daily_rhythm_until_day_seven() -> None:
    """581: the sixth daily retry still lands on the 7-day deadline and is allowed."""
    first = NOW - timedelta(days=6)
    decision = decide("infobip", "error", "general", 581, history=History(attempts=7, first_attempt_at=first))
    assert "retry" == decision.verdict
    assert first + timedelta(days=7) == decision.retry_at == decision.give_up_at


def test_out_of_credit_gives_up_after_seven_days() -> None:
    """581: a retry that would land after the 7-day deadline becomes the give-up verdict."""
    first = NOW - timedelta(days=6, hours=12)
    decision = decide("infobip", "error", "general", 581, history=History(attempts=7, first_attempt_at=first))
    assert "suppress" == decision.verdict
    assert decision.retry_at is None
    assert first + timedelta(days=7) == decision.give_up_at


def test_carrier_daily_quota_retries_next_day_new_york() -> None:
    """542: not before the next day, 00:05 US Eastern."""
    decision = decide("infobip", "error", "general", 542)
    assert ("retry", "sms.carrier-daily-quota") == (decision.verdict, decision.rule)
    assert datetime(2026, 11, 25, 0, 5, tzinfo=NEW_YORK) == decision.retry_at
    assert datetime(2026, 11, 25, 5, 5, tzinfo=UTC) == decision.retry_at


def test_sender_domain_cooling_off() -> None:
    """6016: retry after 24h, sender domain suppressed for 24h, deliverability told."""
    decision = decide("infobip", "error", "email", 6016, sender="news@acme.example", recipient="a@b.example")
    assert ("retry", "email.domain-cooling-off") == (decision.verdict, decision.rule)
    assert NOW + timedelta(hours=24) == decision.retry_at
    assert SuppressEffect("sender_domain", "acme.example", NOW + timedelta(hours=24)) == decision.suppress
    assert "deliverability" == (decision.escalate.route if decision.escalate else None)


@pytest.mark.parametrize(("kind", "code"), [("status", 20), ("error", 4103), ("error", 4104)])
def test_flooding_waits_out_the_hour(kind: str, code: int) -> None:
    """Flooding filter (6 identical / 20 different per hour): retry one hour later."""
    decision = decide("infobip", kind, "general", code)
    assert "retry" == decision.verdict
    assert NOW + timedelta(hours=1) == decision.retry_at


@pytest.mark.parametrize("code", [6050, 6051])
def test_email_warmup_limit_retries_next_day(code: int) -> None:
    """6050/6051: today's warm-up limit is used up; retry the next day."""
    decision = decide("infobip", "error", "email", code, recipient="a@b.example")
    assert ("retry", "email.warmup-daily-limit") == (decision.verdict, decision.rule)
    assert datetime(2026, 11, 25, 0, 5, tzinfo=UTC) == decision.retry_at


@pytest.mark.parametrize(
    ("product", "code"),
    [("chat", 7017), ("people", 42901), ("general", 541), ("email", 6057), ("email", 6058)],
)
def test_rate_limits_back_off_briefly(product: str, code: int) -> None:
    """Rate limits retry after a short first wait (e-mail's after a longer one) and keep backing off."""
    decision = decide("infobip", "error", product, code)
    assert "retry" == decision.verdict
    assert decision.retry_at is not None
    assert NOW < decision.retry_at <= NOW + timedelta(minutes=20 if product == "email" else 2)
    later = decide("infobip", "error", product, code, history=History(attempts=3, first_attempt_at=NOW))
    assert later.retry_at is not None
    assert later.retry_at - NOW > decision.retry_at - NOW


@pytest.mark.parametrize(
    ("product", "code"),
    [("general", 573), ("general", 603), ("email", 6003), ("email", 6034), ("email", 6035)],
)
def test_opt_outs_suppress_the_recipient_until_lifted(product: str, code: int) -> None:
    """Opt-outs and blocks: stop, and block the recipient with no end date."""
    decision = decide("infobip", "error", product, code, recipient="someone")
    assert "suppress" == decision.verdict
    assert SuppressEffect("recipient", "someone", None) == decision.suppress


@pytest.mark.parametrize(
    ("product", "code"),
    [("general", 1), ("general", 3041), ("email", 6006), ("email", 6012), ("email", 6037)],
)
def test_dead_numbers_and_hard_bounces_suppress_the_recipient(product: str, code: int) -> None:
    """Dead numbers and hard bounces: stop and block the recipient."""
    decision = decide("infobip", "error", product, code, recipient="someone")
    assert "suppress" == decision.verdict
    assert SuppressEffect("recipient", "someone", None) == decision.suppress


@pytest.mark.parametrize(
    ("provider", "kind", "product", "code"),
    [
        ("infobip", "status", "general", 2),
        ("infobip", "status", "general", 5),
        ("infobip", "error", "general", 0),
        ("infobip", "error", "voice_legacy", 5000),
        ("infobip", "error", "voice_legacy", 5001),
        ("infobip", "error", "voice", 10000),
        ("infobip", "error", "voice", 10003),
        ("nhn_kakao", "delivery", "bizmessage", 1000),
        ("nhn_kakao", "api", "bizmessage", 0),
    ],
)
def test_success_codes_are_done(provider: str, kind: str, product: str, code: int) -> None:
    """Delivered, answered and accepted codes need nothing more."""
    decision = decide(provider, kind, product, code)
    assert ("done", None, None) == (decision.verdict, decision.suppress, decision.escalate)


@pytest.mark.parametrize("code", [3, 7, 26])
def test_pending_statuses_wait(code: int) -> None:
    """Pending statuses wait and check again in 15 minutes."""
    decision = decide("infobip", "status", "general", code)
    assert "wait" == decision.verdict
    assert NOW + timedelta(minutes=15) == decision.check_at


def test_kakao_receipt_unconfirmed_waits_three_days() -> None:
    """NHN 3005: success uncertain but receivable within 3 days, so wait, never resend."""
    decision = decide("nhn_kakao", "delivery", "bizmessage", 3005)
    assert ("wait", "kakao.receipt-unconfirmed") == (decision.verdict, decision.rule)
    assert NOW + timedelta(hours=24) == decision.check_at
    assert NOW + timedelta(days=3) == decision.give_up_at
    expired = decide("nhn_kakao", "delivery", "bizmessage", 3005,
                     history=History(attempts=3, first_attempt_at=NOW - timedelta(days=3)))
    assert ("suppress", None) == (expired.verdict, expired.retry_at)


def test_friendtalk_outside_hours_retries_at_next_0800_seoul() -> None:
    """NHN 3022 at 19:00 KST: retry at 08:00 KST the next morning."""
    decision = decide("nhn_kakao", "delivery", "bizmessage", 3022)
    assert ("retry", "kakao.friendtalk-night") == (decision.verdict, decision.rule)
    assert datetime(2026, 11, 25, 8, 0, tzinfo=SEOUL) == decision.retry_at


def test_friendtalk_before_dawn_retries_the_same_morning() -> None:
    """NHN 3022 at 06:30 KST: retry at 08:00 KST the same day."""
    now = datetime(2026, 11, 24, 6, 30, tzinfo=SEOUL)
    decision = decide("nhn_kakao", "delivery", "bizmessage", 3022, now=now)
    assert datetime(2026, 11, 24, 8, 0, tzinfo=SEOUL) == decision.retry_at


@pytest.mark.parametrize("code", [-3010, -3011, -3042, -3043, -3046])
def test_kakao_template_mismatch_is_held_not_sent_twice(code: int) -> None:
    """NHN API codes that NHN itself can resend by SMS: the default holds the message for content, no own SMS."""
    decision = decide("nhn_kakao", "api", "bizmessage", code)
    assert ("escalate", None, "content") == (decision.verdict, decision.channel,
                                             decision.escalate.route if decision.escalate else None)


@pytest.mark.parametrize("code", [3018, 3019])
def test_kakao_unreachable_user_falls_back_to_sms(code: int) -> None:
    """NHN 3018/3019: the user cannot get KakaoTalk messages; send by SMS and skip KakaoTalk for them."""
    decision = decide("nhn_kakao", "delivery", "bizmessage", code, recipient="+821012345678")
    assert ("retry", "sms") == (decision.verdict, decision.channel)
    assert decision.suppress is not None
    assert ("recipient_channel", "kakao:+821012345678") == (decision.suppress.scope, decision.suppress.key)


def test_sms_fallback_is_not_repeated() -> None:
    """Once SMS was tried, a fallback rule gives up instead of looping."""
    decision = decide("nhn_kakao", "delivery", "bizmessage", 3019,
                      history=History(attempts=2, first_attempt_at=NOW, channels=("kakao", "sms")))
    assert ("suppress", None) == (decision.verdict, decision.channel)


def test_idempotency_key_reuse_is_done() -> None:
    """NHN -1005: the same idempotency key within 10 minutes means the original was accepted."""
    assert "done" == decide("nhn_kakao", "api", "bizmessage", -1005).verdict


def test_kakao_notice_refusal_blocks_only_kakao() -> None:
    """NHN 3020: a KakaoTalk-only opt-out suppresses the recipient on that channel; the message goes by SMS."""
    decision = decide("nhn_kakao", "delivery", "bizmessage", 3020, recipient="+821012345678")
    assert ("retry", "sms") == (decision.verdict, decision.channel)
    assert SuppressEffect("recipient_channel", "kakao:+821012345678", None) == decision.suppress


@pytest.mark.parametrize(
    ("provider", "kind", "product", "code", "route"),
    [
        ("infobip", "error", "chat", 7004, "credentials"),
        ("nhn_kakao", "api", "bizmessage", -1000, "credentials"),
        ("infobip", "status", "general", 12, "billing"),
        ("infobip", "error", "general", 4099, "billing"),
        ("infobip", "error", "general", 572, "provisioning"),
        ("infobip", "error", "email", 6020, "content"),
        ("nhn_kakao", "delivery", "bizmessage", 4133, "content"),
        ("infobip", "error", "dlt", 4106, "compliance"),
        ("infobip", "error", "email", 6049, "deliverability"),
        ("nhn_kakao", "api", "bizmessage", -9996, "support"),
    ],
)
def test_sender_side_problems_escalate(provider: str, kind: str, product: str, code: int, route: str) -> None:
    """Credentials, credit, provisioning, template and compliance problems go to a person."""
    decision = decide(provider, kind, product, code)
    assert "escalate" == decision.verdict
    assert decision.escalate is not None
    assert route == decision.escalate.route


def test_out_of_credit_account_is_held() -> None:
    """Status 12 (no credit): billing is paged and the whole account is held until topped up."""
    decision = decide("infobip", "status", "general", 12, tenant="acme")
    assert EscalateEffect("billing", "critical") == decision.escalate
    assert SuppressEffect("account", "acme", None) == decision.suppress


def test_template_problem_holds_the_template() -> None:
    """Email 6040 (template expired): the template is held, not the recipient."""
    decision = decide("infobip", "error", "email", 6040, template="welcome-v2")
    assert SuppressEffect("template", "welcome-v2", None) == decision.suppress


def test_dlt_promotional_hours_retry_at_next_opening() -> None:
    """DLT 4138 at 22:00 IST: retry at 10:00 IST the next day."""
    now = datetime(2026, 11, 24, 22, 0, tzinfo=ZoneInfo("Asia/Kolkata"))
    decision = decide("infobip", "error", "dlt", 4138, now=now)
    assert datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Kolkata")) == decision.retry_at
