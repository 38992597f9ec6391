"""Tests for comparing decisions and the replay summary's counts."""

from __future__ import annotations

from typing import Any

from dlrpolicy.report._compare import ReplaySummary, changed_fields


def _decision(verdict: str = "retry", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"verdict": verdict, "retry_at": None, "give_up_at": None, "check_at": None,
                            "attempt": 2, "channel": None, "suppress": None, "escalate": None, "rule": "r",
                            "rule_source": "a.toml", "layers": ["default"], "code": {"id": 1}, "reason": "x",
                            "policy_version": "v1"}
    return {**base, **fields}


def _add(summary: ReplaySummary, old: dict[str, Any], new: dict[str, Any], *, number: int = 1,
         tenant: str | None = "bank") -> None:
    summary.add(old, new, fields=changed_fields(old, new), tenant=tenant, provider="infobip", channel="sms",
                number=number, message_id="m")


def test_provenance_is_not_a_change() -> None:
    """policy_version, rule_source and layers say where a decision came from: not compared."""
    old = _decision()
    new = _decision(policy_version="v2", rule_source="b.toml", layers=["default", "tenant:bank"])
    assert [] == changed_fields(old, new)
    assert ["verdict", "rule"] == changed_fields(old, _decision("suppress", rule="s"))


def test_counts_of_one_summary() -> None:
    """Retries added and avoided, times moved, suppressions and escalations by scope and route."""
    summary = ReplaySummary()
    _add(summary, _decision(retry_at="2026-11-24T10:00:00Z"), _decision(retry_at="2026-11-24T12:00:00Z"))
    _add(summary, _decision(), _decision("suppress", suppress={"scope": "recipient", "key": "+1", "until": None}),
         number=2)
    _add(summary, _decision("done"), _decision(), number=3, tenant=None)
    _add(summary, _decision("escalate", escalate={"route": "support", "severity": "warning"}),
         _decision("escalate", escalate={"route": "bank-oncall", "severity": "warning"}), number=4)
    _add(summary, _decision(), _decision(), number=5)
    data = summary.to_json()
    assert (5, 4, 1, 1, 1, 0) == (data["decisions"], data["changed"], data["retries_added"],
                                  data["retries_avoided"], data["retries_later"], data["retries_earlier"])
    assert ({"recipient": 1}, {"bank-oncall": 1}, {"support": 1}) == (
        data["newly_suppressed_by_scope"], data["escalations_added_by_route"], data["escalations_removed_by_route"])
    assert 2 == summary.transitions[("retry", "retry")]
    assert [[2, 1, 0, 0, 0], [0] * 5, [0, 0, 1, 0, 0], [0] * 5, [1, 0, 0, 0, 0]] == summary.matrix()
    assert {"bank": 4, "(none)": 1} == {k: t.decisions for k, t in summary.by_tenant.items()}
    assert 4 == sum(group["count"] for group in data["biggest_changes"])


def test_a_new_route_for_an_escalation_is_a_reroute_not_an_added_escalation() -> None:
    """Escalations added and removed count decisions that gain or lose one; a change of route is a reroute (the
    by-route counts still say which route gained and which lost it)."""
    summary = ReplaySummary()
    support = {"route": "support", "severity": "warning"}
    _add(summary, _decision("escalate", escalate=support),
         _decision("escalate", escalate={"route": "bank-oncall", "severity": "warning"}))
    _add(summary, _decision(), _decision("escalate", escalate=support), number=2)
    _add(summary, _decision("escalate", escalate=support), _decision(), number=3)
    data = summary.to_json()
    assert (1, 1, 1) == (data["escalations_added"], data["escalations_removed"], data["escalations_rerouted"])
    assert ({"bank-oncall": 1, "support": 1}, {"support": 2}) == (
        data["escalations_added_by_route"], data["escalations_removed_by_route"])


def test_merge_adds_counts_and_shifts_sample_numbers() -> None:
    """Two halves merged equal the whole; sample record numbers move by the offset."""
    whole, first, second = ReplaySummary(), ReplaySummary(), ReplaySummary()
    pairs = [(_decision(), _decision("suppress")), (_decision("done"), _decision()), (_decision(), _decision())]
    for number, (old, new) in enumerate(pairs * 2, start=1):
        _add(whole, old, new, number=number)
    for number, (old, new) in enumerate(pairs, start=1):
        _add(first, old, new, number=number)
        _add(second, old, new, number=number)
    merged = ReplaySummary()
    merged.merge(first)
    merged.merge(second, offset=3)
    assert whole.to_json() == merged.to_json()
