"""Tests for the realistic tenants in examples/policies/: the bank and the marketing sender."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dlrpolicy import CodeRef, Engine, History, Outcome
from dlrpolicy.cli._main import main
from dlrpolicy.policy._reports import diff

POLICY_DIR = Path(__file__).resolve().parents[2] / "examples" / "policies"
SEOUL = ZoneInfo("Asia/Seoul")
CHICAGO = ZoneInfo("America/Chicago")
ENGINE = Engine.default(policy_dir=POLICY_DIR)


def test_bank_night_window_moves_retry_to_0800() -> None:
    """An SMS absent-subscriber failure at 22:30 KST retries at 08:00 KST, not during the night."""
    outcome = Outcome(provider="infobip", channel="sms", error=CodeRef(id=27, group_id=1), message_id="b-1")
    now = datetime(2026, 11, 24, 22, 30, tzinfo=SEOUL)
    decision = ENGINE.for_tenant("bank").evaluate(outcome, now=now, history=History(first_attempt_at=now))
    assert ("retry", datetime(2026, 11, 25, 8, 0, tzinfo=SEOUL)) == (decision.verdict, decision.retry_at)
    assert "bank-daytime" in decision.reason


def test_default_retries_at_night() -> None:
    """Without the tenant file the same failure retries during the night."""
    outcome = Outcome(provider="infobip", channel="sms", error=CodeRef(id=27, group_id=1), message_id="b-1")
    now = datetime(2026, 11, 24, 22, 30, tzinfo=SEOUL)
    decision = ENGINE.evaluate(outcome, now=now)
    assert decision.retry_at is not None
    assert decision.retry_at.astimezone(SEOUL).hour in (22, 23)


@pytest.mark.parametrize("code", [2005, 3012, 3020, 3015, 1021, 1025, 4138, 4143, 4137])
def test_bank_falls_back_to_sms(code: int) -> None:
    """KakaoTalk failures that allow it go out by SMS for the bank."""
    outcome = Outcome(provider="nhn_kakao", channel="kakao", status=CodeRef(id=code), message_id="k",
                      recipient="01012345678")
    now = datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL)
    decision = ENGINE.for_tenant("bank").evaluate(outcome, now=now)
    assert ("retry", "sms", now) == (decision.verdict, decision.channel, decision.retry_at)
    assert "tenant:bank" in decision.layers


def test_bank_escalates_to_its_own_routes() -> None:
    """A credential problem escalates to the bank's security queue."""
    outcome = Outcome(provider="nhn_kakao", channel="kakao", error=CodeRef(id=-1000), message_id="k")
    decision = ENGINE.for_tenant("bank").evaluate(outcome, now=datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL))
    assert ("escalate", "bank-security") == (decision.verdict, decision.escalate.route)  # type: ignore[union-attr]


def test_marketing_at_most_two_attempts() -> None:
    """581 would retry daily for a week; the marketing tenant stops after its second attempt."""
    outcome = Outcome(provider="infobip", channel="sms", error=CodeRef(id=581), message_id="m")
    now = datetime(2026, 11, 24, 9, 0, tzinfo=CHICAGO)
    decision = ENGINE.for_tenant("marketing").evaluate(outcome, now=now, history=History(attempts=2))
    assert "suppress" == decision.verdict
    assert "attempt limit (2)" in decision.reason


def test_marketing_no_retry_the_next_day() -> None:
    """A first-attempt failure late in the day cannot be retried tomorrow: it is given up instead."""
    outcome = Outcome(provider="infobip", channel="sms", error=CodeRef(id=581), message_id="m")
    now = datetime(2026, 11, 24, 18, 0, tzinfo=CHICAGO)
    decision = ENGINE.for_tenant("marketing").evaluate(outcome, now=now, history=History(first_attempt_at=now))
    assert (None, datetime(2026, 11, 25, 0, 0, tzinfo=CHICAGO)) == (decision.retry_at, decision.give_up_at)
    assert "deadline" in decision.reason


def test_marketing_same_day_retry_still_allowed() -> None:
    """A short backoff retry on the same day still goes ahead."""
    outcome = Outcome(provider="infobip", channel="sms", error=CodeRef(id=27, group_id=1), message_id="m")
    now = datetime(2026, 11, 24, 10, 0, tzinfo=CHICAGO)
    decision = ENGINE.for_tenant("marketing").evaluate(outcome, now=now, history=History(first_attempt_at=now))
    assert "retry" == decision.verdict
    assert decision.retry_at is not None
    assert decision.retry_at - now < timedelta(hours=12)


def test_diff_lists_the_changed_codes() -> None:
    """`policy diff` for the bank lists changed codes with rule ids on both sides."""
    rows = list(diff(ENGINE.policy, ENGINE.for_tenant("bank").policy))
    changed = {(d.entry.kind, d.entry.id) for d in rows}
    assert {("delivery", 3020), ("delivery", 4138), ("api", -7000)} <= changed


def test_diff_command_prints_both_sides(capsys: pytest.CaptureFixture[str]) -> None:
    """The acceptance command prints the changed codes with default and tenant rules."""
    assert 0 == main(["policy", "diff", "--tenant", "bank", "--policy-dir", str(POLICY_DIR)])
    out = capsys.readouterr().out
    assert "kakao.notice-refused" in out
    assert "tenant bank" in out


@pytest.mark.parametrize("tenant", ["bank", "marketing"])
def test_examples_lint_clean(tenant: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Both example tenants validate."""
    assert 0 == main(["policy", "lint", "--tenant", tenant, "--policy-dir", str(POLICY_DIR)])
    assert "valid" in capsys.readouterr().out
