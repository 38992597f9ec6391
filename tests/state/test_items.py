"""How a report becomes an Item: the route of a report that names no channel is the one its code implies, whatever
the item builder remembered from reports before it."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from dlrpolicy import DlrpolicyError, Engine, Outcome, Report
from dlrpolicy.decide._resolve import channel_for
from dlrpolicy.policy._compile import CompiledPolicy
from dlrpolicy.policy._layers import compile_layers, default_layer
from dlrpolicy.policy._read import Layer
from dlrpolicy.state._apply import route_of
from dlrpolicy.state._items import item_of
from tests.strategies import catalog_outcomes, unknown_outcomes

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
DEFAULT = Engine.default().policy
#: A second policy: the memo must not hand one policy's answer to another.
OTHER = compile_layers([default_layer(), Layer.from_text("[budgets]\nenabled = false\n", source="other.toml",
                                                         name="other")])


def _expected(policy: CompiledPolicy, outcome: Outcome) -> str:
    try:
        return route_of(outcome, channel_for(policy, outcome))
    except DlrpolicyError:
        return route_of(outcome, "sms")


@settings(max_examples=300)
@given(st.one_of(catalog_outcomes(), unknown_outcomes()), st.sampled_from([DEFAULT, OTHER]))
def test_a_report_without_a_channel_is_routed_on_the_channel_its_code_implies(outcome: Outcome,
                                                                              policy: CompiledPolicy) -> None:
    """Asked twice (the second answer may come from memory), with the same code objects under either policy, and
    with the codes on another product: the route is `channel_for`'s every time."""
    bare = attrs.evolve(outcome, channel=None, channel_source=None)
    moved = attrs.evolve(bare, product=None)
    for report_outcome, report_policy in ((bare, policy), (bare, policy), (bare, DEFAULT), (bare, OTHER),
                                          (moved, policy)):
        item = item_of(Report(outcome=report_outcome, policy=report_policy), NOW, lambda tenant: DEFAULT)
        assert item.route == _expected(report_policy, report_outcome)
