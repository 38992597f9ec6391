"""Daylight-saving properties over every time zone the shipped policies use: for every ``now`` around a UTC-offset
change, retries are never before now, land inside their window, and deadlines are exact in elapsed time."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlrpolicy import CodeEntry, Engine, History, InvalidOutcomeError
from dlrpolicy.model._time_rules import CalendarTime, Window
from dlrpolicy.model._vocabulary import DEFAULT_CHANNEL
from tests.strategies import day_ranges, outcome_for, transition_moments

ROOT = Path(__file__).resolve().parents[2]
POLICY_FILES = [ROOT / "policies" / "default.toml", *sorted((ROOT / "examples" / "policies").glob("*.toml"))]


def _zones(value: object) -> set[str]:
    """Every ``timezone`` value in a TOML document."""
    if isinstance(value, dict):
        found = {v for k, v in value.items() if k == "timezone" and isinstance(v, str)}
        return found.union(*(_zones(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_zones(v) for v in value))
    return set()


ZONES = sorted(set().union(*(_zones(tomllib.loads(p.read_text(encoding="utf-8"))) for p in POLICY_FILES)))
MOMENTS = transition_moments(ZONES)
ENGINE = Engine.default(policy_dir=ROOT / "examples" / "policies")
ENGINES = {"default": ENGINE, **{t: ENGINE.for_tenant(t) for t in ("bank", "marketing")}}


def _timed(engine: Engine) -> list[CodeEntry]:
    """Catalog entries whose plan (on the product's channel) retries or waits with a window, a calendar time or a
    deadline: the plans whose arithmetic daylight saving can break."""
    out = []
    for entry in engine.catalog:
        plan = engine.policy.candidate(entry).plan_for(DEFAULT_CHANNEL[entry.product])
        if plan.verdict in ("retry", "wait") and (plan.window or plan.at or plan.give_up_after):
            out.append(entry)
    return out


TIMED = {name: _timed(engine) for name, engine in ENGINES.items()}


def test_the_zones_include_daylight_saving_ones() -> None:
    """The policies use zones with and without daylight saving (so the properties below test something)."""
    assert {"America/New_York", "America/Chicago", "Asia/Seoul", "UTC"} <= set(ZONES)


@settings(max_examples=400)
@given(MOMENTS, st.sampled_from(ZONES), st.lists(day_ranges, min_size=1, max_size=3))
def test_window_openings_around_transitions(now: datetime, zone: str, ranges: list[tuple[int, int]]) -> None:
    """The next opening is never before now and always inside the window, whatever the ranges."""
    window = Window("w", ZoneInfo(zone), (tuple(ranges),) * 7)
    opening = window.next_opening(now)
    assert opening >= now
    assert window.contains(opening)
    if window.contains(now):  # compared in UTC: an instant in a repeated hour never equals one in another zone
        assert now.astimezone(UTC) == opening


@settings(max_examples=400)
@given(MOMENTS, st.sampled_from(ZONES), st.sampled_from(["next", "next_day"]), st.integers(0, 1439))
def test_calendar_times_around_transitions(now: datetime, zone: str, mode: str, minute: int) -> None:
    """A calendar time is strictly after now, within two days, and `next_day` lands on the next local date."""
    at = CalendarTime(mode, minute, ZoneInfo(zone))
    due = at.after(now)
    assert now < due <= now + timedelta(hours=50)
    if mode == "next_day":
        assert now.astimezone(ZoneInfo(zone)).date() + timedelta(days=1) == due.astimezone(ZoneInfo(zone)).date()


@settings(max_examples=500, deadline=None)
@given(MOMENTS, st.sampled_from(sorted(ENGINES)), st.data())
def test_decisions_around_transitions(now: datetime, tenant: str, data: st.DataObject) -> None:
    """retry_at is never before now and inside its window; give_up_at is the first attempt plus give_up_after in
    elapsed time (or the end of the first attempt's day when same_day shortens it)."""
    engine = ENGINES[tenant]
    entry = data.draw(st.sampled_from(TIMED[tenant]))
    outcome = outcome_for(entry, message_id="m-dst", recipient="+12025550100", sender="ACME")
    plan = engine.policy.candidate(entry).plan_for(outcome.channel)
    back = data.draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)))
    first = (now - back).astimezone(now.tzinfo)  # wall-clock arithmetic in `now`'s zone would be wrong here
    decision = engine.evaluate(outcome, now=now, history=History(attempts=1, first_attempt_at=first))
    if decision.retry_at is not None:
        assert decision.retry_at >= now
        if plan.window is not None:
            assert plan.window.contains(decision.retry_at)
    if decision.check_at is not None:
        assert decision.check_at >= now
    if decision.give_up_at is not None and plan.give_up_after is not None:
        elapsed = decision.give_up_at.astimezone(UTC) - first.astimezone(UTC)
        if plan.same_day_zone is None:
            assert plan.give_up_after == elapsed
        else:
            assert elapsed <= plan.give_up_after


def test_48h_deadline_across_the_fall_back_is_48h() -> None:
    """A first attempt in New York the day before clocks go back: the 48h deadline is 48 elapsed hours, not 49."""
    ny = ZoneInfo("America/New_York")
    entry = ENGINE.catalog.lookup("infobip", "error", "general", 27, group_id=1)
    first = datetime(2026, 10, 31, 12, 0, tzinfo=ny)
    decision = ENGINE.evaluate(outcome_for(entry, message_id="m"), now=first, history=History(first_attempt_at=first))
    assert decision.give_up_at is not None
    assert timedelta(hours=48) == decision.give_up_at.astimezone(UTC) - first.astimezone(UTC)


@pytest.mark.parametrize("now", [datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, tzinfo=UTC),
                                 datetime(1, 1, 2, tzinfo=ZoneInfo("Asia/Seoul"))])
def test_now_at_the_ends_of_time_is_an_invalid_outcome_error(now: datetime) -> None:
    """evaluate with now near year 1 or 9999 (Window.contains and the same_day end of day overflowed there) is
    an InvalidOutcomeError naming the supported range."""
    entry = ENGINE.catalog.lookup("nhn_kakao", "delivery", "bizmessage", 3022)
    for engine in ENGINES.values():
        with pytest.raises(InvalidOutcomeError, match="1970-01-01T00:00:00Z"):
            engine.evaluate(outcome_for(entry, message_id="m"), now=now)


def test_same_day_near_the_end_of_the_range_decides() -> None:
    """The marketing tenant's same_day end of day for a first attempt on the last supported day still decides."""
    entry = ENGINE.catalog.lookup("infobip", "error", "general", 581)
    first = datetime(8999, 12, 31, 20, 0, tzinfo=UTC)
    decision = ENGINES["marketing"].evaluate(outcome_for(entry, message_id="m"), now=first,
                                            history=History(first_attempt_at=first))
    assert decision.give_up_at is not None
