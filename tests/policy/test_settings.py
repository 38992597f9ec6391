"""State settings in policies: rule flags (liftable, hold, flood) and the [budgets], [breakers], [incidents],
[suppressions] tables, with tenant overrides and every problem reported."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dlrpolicy import Engine, PolicyError
from dlrpolicy.policy._layers import compile_layers, default_layer
from dlrpolicy.policy._read import Layer


def _tenant(text: str) -> Engine:
    return Engine(compile_layers([default_layer(), Layer.from_text(text, source="acme.toml", name="tenant:acme")]))


def test_default_policy_marks_opt_outs_holds_and_flood_codes() -> None:
    """Opt-outs refuse lifting, credit and credential escalations hold, rate limits count for the breaker."""
    settings = Engine.default().policy.spec.settings
    assert {"sms.recipient-opted-out", "email.recipient-opted-out", "kakao.notice-refused"} <= settings.unliftable
    assert {"status.rejected-out-of-credit", "voice.unauthenticated"} <= settings.holds
    assert {"chat.rate-limited", "people.rate-limited", "sms.carrier-throughput-limit"} <= settings.flood
    assert (0.2, timedelta(seconds=60), 10) == (settings.budget.ratio, settings.budget.window, settings.budget.floor)
    assert (0.5, 100, timedelta(seconds=30)) == (settings.breaker.failure_ratio, settings.breaker.min_reports,
                                                 settings.breaker.break_for)
    assert timedelta(days=7) == settings.incidents.max_hold


def test_a_tenant_overrides_single_keys_and_rule_flags() -> None:
    """[budgets] ratio alone, a region, and a patched rule flag; everything else stays the default's."""
    settings = _tenant("""
[budgets]
ratio = 0.05

[suppressions]
region = "KR"

[[patch]]
id = "sms.recipient-opted-out"
liftable = true
""").policy.spec.settings
    assert (0.05, 10, "KR") == (settings.budget.ratio, settings.budget.floor, settings.region)
    assert "sms.recipient-opted-out" not in settings.unliftable
    assert "email.recipient-opted-out" in settings.unliftable


def test_bad_settings_are_all_reported() -> None:
    """Each bad value names its table and key; a hold on a non-escalation is refused."""
    with pytest.raises(PolicyError) as exc:
        _tenant("""
[budgets]
ratio = 2
window = "soon"

[breakers]
min_reports = 0
colour = "red"

[suppressions]
region = "Korea"

[[patch]]
id = "sms.user-out-of-credit"
hold = true
""")
    text = str(exc.value)
    for fragment in ("budgets.ratio", "budgets.window", "breakers.min_reports", "unknown key breakers.colour",
                     "suppressions.region", "hold applies only to escalations"):
        assert fragment in text


@pytest.mark.parametrize(("table", "key"), [("budgets", "ratio"), ("breakers", "failure_ratio"),
                                            ("incidents", "release_rate")])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_settings_refuse_nan_and_infinity(table: str, key: str, value: str) -> None:
    """TOML's nan and inf are numbers no comparison holds them to: each is a problem naming the key."""
    with pytest.raises(PolicyError, match=rf"{table}\.{key}"):
        _tenant(f"[{table}]\n{key} = {value}\n")
