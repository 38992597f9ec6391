"""Tests for policy test expectations: time ranges relative to now, effects, and what a failure says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dlrpolicy import CodeRef, Engine, Outcome
from dlrpolicy.report._expect import ExpectationError, TimeExpectation, check, read_expectations
from tests.conftest import NOW


@pytest.mark.parametrize(("text", "offset", "tolerance"), [
    ("now", timedelta(0), timedelta(0)),
    ("now+24h", timedelta(hours=24), timedelta(0)),
    ("now+24h±1h", timedelta(hours=24), timedelta(hours=1)),
    ("now + 24h +- 1h", timedelta(hours=24), timedelta(hours=1)),
    ("now-30m±1m", timedelta(minutes=-30), timedelta(minutes=1)),
    ("now+1h30m", timedelta(minutes=90), timedelta(0)),
])
def test_relative_times(text: str, offset: timedelta, tolerance: timedelta) -> None:
    """Relative forms give the offset from now and the tolerance."""
    parsed = TimeExpectation.parse(text)
    assert (offset, tolerance, None) == (parsed.offset, parsed.tolerance, parsed.at)


def test_absolute_time_with_tolerance() -> None:
    """An ISO 8601 instant with an offset, optionally ±tolerance."""
    parsed = TimeExpectation.parse("2026-11-25T08:00:00+09:00±5m")
    assert (datetime(2026, 11, 24, 23, 0, tzinfo=UTC), timedelta(minutes=5)) == (parsed.at, parsed.tolerance)


@pytest.mark.parametrize("text", ["tomorrow", "now+24", "now+24h±", "2026-11-25T08:00:00", "none±1h", "now*2"])
def test_bad_times_are_rejected(text: str) -> None:
    """Malformed times raise ValueError."""
    with pytest.raises(ValueError):  # noqa: PT011 (the message is checked by the CLI tests)
        TimeExpectation.parse(text)


def test_range_bounds_are_inclusive() -> None:
    """A value on either edge of the range passes; one second outside fails with the range in the message."""
    expectation = TimeExpectation.parse("now+24h±1h")
    assert expectation.check("retry_at", NOW + timedelta(hours=25), NOW) is None
    assert expectation.check("retry_at", NOW + timedelta(hours=23), NOW) is None
    why = expectation.check("retry_at", NOW + timedelta(hours=25, seconds=1), NOW)
    assert "retry_at 2026-11-25T11:00:01Z is not within now+24h±1h (2026-11-25T09:00:00Z .. " \
           "2026-11-25T11:00:00Z)" == why


def test_none_means_empty() -> None:
    """'none' passes only an empty value."""
    expectation = TimeExpectation.parse("none")
    assert (None, "retry_at is 2026-11-24T10:00:00Z, expected none") == (
        expectation.check("retry_at", None, NOW), expectation.check("retry_at", NOW, NOW))


@pytest.mark.parametrize(("raw", "field"), [
    ({"verdict": "retyr"}, "expect.verdict"),
    ({"colour": "red"}, "expect.colour"),
    ({"retry_at": "soon"}, "expect.retry_at"),
    ({"attempt": 0}, "expect.attempt"),
    ({"suppress": {"scope": "galaxy"}}, "expect.suppress.scope"),
    ({"escalate": {"route": "x", "urgency": 1}}, "expect.escalate.urgency"),
    ({"suppress": "yes"}, "expect.suppress"),
    ({}, "expect"),
])
def test_malformed_expectations_name_the_field(raw: dict[str, object], field: str) -> None:
    """Each malformed expectation names its field and says how to fix it."""
    with pytest.raises(ExpectationError) as caught:
        read_expectations(raw)
    assert field == caught.value.field
    assert caught.value.fix


def test_every_malformed_expectation_is_reported() -> None:
    """Four malformed fields of one case are four problems, each with its field and fix, not only the first."""
    with pytest.raises(ExpectationError) as caught:
        read_expectations({"verdict": "retyr", "channel": "pigeon", "retry_at": "soon", "rule": "ok",
                           "escalate": {"severity": "meh"}, "colour": "red"})
    problems = caught.value.problems
    assert ["expect.colour", "expect.verdict", "expect.channel", "expect.retry_at", "expect.escalate.severity"] == [
        p.field for p in problems]
    assert all(p.fix for p in problems)


def test_check_lists_every_failure(small_engine: Engine) -> None:
    """All failed expectations are reported, not only the first."""
    outcome = Outcome(provider="infobip", channel="sms", error=CodeRef(id=581), message_id="m", recipient="+1")
    decision = small_engine.evaluate(outcome, now=NOW)
    expect = read_expectations({"verdict": "suppress", "rule": "out-of-credit", "retry_at": "now+24h",
                                "channel": "sms", "escalate": "none", "suppress": {"scope": "recipient"}})
    assert ["verdict is 'retry', expected 'suppress'", "channel is 'none', expected 'sms'",
            "suppress is none, expected a suppression"] == check(expect, decision, NOW)


def test_check_effects(small_engine: Engine) -> None:
    """Suppress scope, key and until and escalate route and severity are checked."""
    outcome = Outcome(provider="infobip", channel="email", product="email", error=CodeRef(id=6016),
                      message_id="m", sender="news@acme.example")
    decision = small_engine.evaluate(outcome, now=NOW)
    good = read_expectations({"suppress": {"scope": "sender_domain", "key": "acme.example", "until": "now+24h"},
                              "escalate": {"route": "deliverability", "severity": "error"}})
    bad = read_expectations({"suppress": {"key": "other.example"}, "escalate": {"severity": "critical"}})
    assert [] == check(good, decision, NOW)
    assert ["suppress.key is 'acme.example', expected 'other.example'",
            "escalate.severity is 'error', expected 'critical'"] == check(bad, decision, NOW)
