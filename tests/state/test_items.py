"""How a report becomes an Item: the route of a report that names no channel is the one its code implies, whatever
was remembered from reports before it."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from dlrpolicy import CodeRef, DlrpolicyError, Engine, Outcome, Report
from dlrpolicy.decide._resolve import deciding_code
from dlrpolicy.model._vocabulary import DEFAULT_CHANNEL
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
    """The route on the channel the outcome's deciding code implies, worked out afresh (no memo)."""
    try:
        candidate = None if outcome.event is not None else deciding_code(policy, outcome)[0].candidate
    except DlrpolicyError:
        candidate = None
    return route_of(outcome, "sms" if candidate is None else DEFAULT_CHANNEL.get(candidate.entry.product, "sms"))


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


def test_the_same_code_objects_on_another_product_are_routed_anew() -> None:
    """Infobip error 1031 on Live Chat implies the live_chat channel; the same code objects with no product do not:
    the second report is not handed the first one's channel."""
    on_live_chat = Outcome(provider="infobip", product="live_chat", message_id="m-1",
                           error=CodeRef(id=1031, group_id=None))
    no_product = attrs.evolve(on_live_chat, product=None)
    routes = [item_of(Report(outcome=o, policy=DEFAULT), NOW, lambda tenant: DEFAULT).route
              for o in (on_live_chat, no_product)]
    assert [_expected(DEFAULT, on_live_chat), _expected(DEFAULT, no_product)] == routes
    assert routes[0] != routes[1]
