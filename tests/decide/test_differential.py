"""The fast `evaluate` against the plain reference (tests/decide/reference.py): the same decision, field for field,
over the whole catalog x a grid of `now` (daylight-saving changes in every zone the policies use) x histories,
for the default policy and the example tenants; and on random reports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlrpolicy import CodeRef, Engine, History, Outcome, Resend
from dlrpolicy.decide._evaluate import evaluate
from dlrpolicy.policy._compile import CompiledPolicy
from tests.decide.reference import reference_evaluate
from tests.strategies import aware_datetimes, complete_outcomes, histories, outcome_for, unknown_outcomes

EXAMPLES = Path(__file__).parents[2] / "examples" / "policies"
ENGINE = Engine.default(policy_dir=EXAMPLES)
POLICIES = {"default": ENGINE.policy, "bank": ENGINE.for_tenant("bank").policy,
            "marketing": ENGINE.for_tenant("marketing").policy}

#: Daylight-saving changes of the zones the shipped and example policies use (America/New_York and
#: America/Chicago; Asia/Seoul, Asia/Kolkata and UTC have none), as UTC instants.
CHANGES = [datetime(2026, 3, 8, 7, 0, tzinfo=UTC), datetime(2026, 3, 8, 8, 0, tzinfo=UTC),
           datetime(2026, 11, 1, 6, 0, tzinfo=UTC), datetime(2026, 11, 1, 7, 0, tzinfo=UTC)]
AROUND = [timedelta(hours=-1), timedelta(minutes=-1), timedelta(0), timedelta(seconds=1), timedelta(minutes=59)]
#: An ordinary day every 3h20m, plus the edges of the Seoul day window (08:00 and 20:50 KST) and of the
#: Kolkata one (09:00 and 21:00 IST), a microsecond either side.
DAY = [datetime(2026, 11, 24, tzinfo=UTC) + timedelta(minutes=200 * i) for i in range(8)]
EDGES = [datetime(2026, 11, 24, 23, 0, tzinfo=UTC), datetime(2026, 11, 24, 11, 50, tzinfo=UTC),
         datetime(2026, 11, 24, 3, 30, tzinfo=UTC), datetime(2026, 11, 24, 15, 30, tzinfo=UTC)]
NOWS = [c + d for c in CHANGES for d in AROUND] + DAY + [e + d for e in EDGES
                                                         for d in (timedelta(microseconds=-1), timedelta(0))]
OK = CodeRef(id=0, group_id=0, name="NO_ERROR")
ABSENT = CodeRef(id=27, group_id=1, name="EC_ABSENT_SUBSCRIBER")
PENDING = CodeRef(id=7, group_id=1, name="PENDING_ENROUTE")
UNDELIVERABLE = CodeRef(id=9, group_id=2, name="UNDELIVERABLE_NOT_DELIVERED")
DELIVERED = CodeRef(id=5, group_id=3, name="DELIVERED_TO_HANDSET")


def _histories(now: datetime) -> list[History | None]:
    return [None, History(attempts=2, first_attempt_at=now - timedelta(minutes=10)),
            History(attempts=4, first_attempt_at=now - timedelta(days=3), channels=("sms",)),
            History(attempts=7), History(attempts=3, first_attempt_at=now - timedelta(hours=40))]


def _variants(outcome: Outcome, index: int) -> Iterator[Outcome]:
    """``outcome`` as reported, and with each thing that changes a decision: a Retry-After, the other code slot
    filled (an OK or a failing error; a pending, undeliverable or delivered status), no channel (and, for
    KakaoTalk, a message type), and NHN's own SMS fallback in each state (on every provider: the engine's rules
    for it are generic)."""
    yield outcome
    yield attrs.evolve(outcome, retry_after=timedelta(seconds=90 + index))
    if outcome.provider == "infobip":
        if outcome.error is None:  # a status: with an OK error, and with a failing one
            yield attrs.evolve(outcome, error=OK)
            yield attrs.evolve(outcome, error=ABSENT)
        else:  # an error: with a pending, an undeliverable and a delivered status
            for status in (PENDING, UNDELIVERABLE, DELIVERED):
                yield attrs.evolve(outcome, status=status)
        if outcome.error is None or outcome.error.kind is None:
            yield attrs.evolve(outcome, channel=None, product=None)
    else:
        yield attrs.evolve(outcome, message_type="FRIENDTALK_NORMAL")
    for state in ("pending", "failed", "delivered"):
        yield attrs.evolve(outcome, resend=Resend(state=state, result_code="3015" if index % 2 else None))


def _reports() -> list[Outcome]:
    return [outcome_for(entry, message_id=f"m-{index}", recipient="+821012345678", sender="news@shop.example",
                        tenant="acme") for index, entry in enumerate(ENGINE.catalog)]


REPORTS = _reports()
VARIANTS = [variant for index, outcome in enumerate(REPORTS) for variant in _variants(outcome, index)]


def _differences(policy: CompiledPolicy, reports: list[Outcome], nows: list[datetime]) -> tuple[int, list[str]]:
    checked, differ = 0, []
    for now in nows:
        for history in _histories(now):
            for outcome in reports:
                fast = evaluate(policy, outcome, now=now, history=history)
                plain = reference_evaluate(policy, outcome, now=now, history=history)
                checked += 1
                if fast != plain and len(differ) < 5:
                    differ.append(f"{outcome!r} at {now} with {history!r}:\n  fast  {fast!r}\n  plain {plain!r}")
    return checked, differ


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_fast_path_decides_as_the_reference_over_the_grid(name: str) -> None:
    """Catalog x nows (daylight-saving changes included) x histories: every decision is the reference's."""
    checked, differ = _differences(POLICIES[name], REPORTS, NOWS)
    assert (len(REPORTS) * len(NOWS) * 5, []) == (checked, differ)


@pytest.mark.parametrize("name", ["bank", "default"])
def test_fast_path_decides_as_the_reference_on_every_variant(name: str) -> None:
    """Catalog x every report variant x a few nows x histories: every decision is the reference's."""
    nows = [NOWS[0], NOWS[12], DAY[3], EDGES[0]]
    checked, differ = _differences(POLICIES[name], VARIANTS, nows)
    assert (len(VARIANTS) * len(nows) * 5, []) == (checked, differ)


@settings(max_examples=400)
@given(st.one_of(complete_outcomes(), unknown_outcomes()), aware_datetimes, st.sampled_from(sorted(POLICIES)),
       st.data())
def test_fast_path_decides_as_the_reference_on_random_reports(outcome: Outcome, now: datetime, name: str,
                                                               data: st.DataObject) -> None:
    """Random reports (every Outcome field drawn), times and histories: the reference's decision."""
    history = data.draw(st.one_of(st.none(), histories(before=now)))
    policy = POLICIES[name]
    assert reference_evaluate(policy, outcome, now=now, history=history) == evaluate(policy, outcome, now=now,
                                                                                      history=history)


def test_memoised_times_match_the_computed_ones_minute_by_minute() -> None:
    """Every window and calendar time of the policies, asked every 7 minutes and 13 seconds across both 2026
    daylight-saving changes in the US: the memo answers what the zone rules compute."""
    plans = {plan for policy in POLICIES.values() for entry in ENGINE.catalog
             for plan in policy.candidate(entry).plans}
    windows = {plan.window for plan in plans if plan.window is not None}
    windows |= {window for policy in POLICIES.values() for _, window in policy.spec.defaults.type_windows}
    calendar = {plan.at for plan in plans if plan.at is not None}
    assert (windows, calendar) != (set(), set())
    for change in (CHANGES[0], CHANGES[2]):
        moment = change - timedelta(hours=30)
        while moment < change + timedelta(hours=30):
            for window in windows:
                assert window.next_opening_computed(moment) == window.next_opening(moment)
            for at in calendar:
                assert at.after_computed(moment) == at.after(moment)
            moment += timedelta(minutes=7, seconds=13)
