"""The policy's data model: what a rule matches, what it decides, and the merged, validated policy."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Final
from zoneinfo import ZoneInfo

import attrs

from ..model._decision import EscalateEffect
from ..model._time_rules import Backoff, CalendarTime, Window
from ._settings import DEFAULT_SETTINGS, StateSettings

#: Specificity tiers, most specific first; a rule's tier is its most specific key.
TIERS: Final[tuple[str, ...]] = ("id", "name", "group_id", "product", "kind", "provider", "any")


@attrs.frozen
class Match:
    """Which codes (and channels) a rule applies to.  Every field that is set must hold."""

    provider: str | None = None
    kind: str | None = None
    product: str | None = None
    group_id: int | None = None
    ids: frozenset[int] | None = None
    name: str | None = None
    permanent: bool | None = None
    success: bool | None = None
    channels: frozenset[str] | None = None
    _name_re: re.Pattern[str] | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def tier(self) -> str:
        """The most specific key present (see `TIERS`)."""
        for key, value in (
            ("id", self.ids), ("name", self.name), ("group_id", self.group_id), ("product", self.product),
            ("kind", self.kind), ("provider", self.provider),
        ):
            if value is not None:
                return key
        return "any"

    @property
    def specificity(self) -> tuple[int, int]:
        """Higher wins: (tier rank, number of refining keys among permanent, success and channel)."""
        return self._specificity

    # Computed once: compilation sorts every entry's matching rules by it.
    _specificity: tuple[int, int] = attrs.field(init=False, eq=False, repr=False)

    @_specificity.default
    def _compute_specificity(self) -> tuple[int, int]:
        extras = sum(v is not None for v in (self.permanent, self.success, self.channels))
        return (len(TIERS) - TIERS.index(self.tier), extras)

    def matches_code(self, provider: str, kind: str, product: str, group_id: int | None, id: int,
                     name: str, permanent: bool | None, success: bool) -> bool:
        """True when every code-level field holds (channel is checked at evaluation time)."""
        return (
            (self.provider is None or self.provider == provider)
            and (self.kind is None or self.kind == kind)
            and (self.product is None or self.product == product)
            and (self.group_id is None or self.group_id == group_id)
            and (self.ids is None or id in self.ids)
            and (self._name_re is None or self._name_re.fullmatch(name) is not None)
            and (self.permanent is None or self.permanent == permanent)
            and (self.success is None or self.success == success)
        )

    def describe(self) -> str:
        """``provider=infobip kind=error product=general id=581``."""
        parts = []
        for key in ("provider", "kind", "product", "group_id"):
            value = getattr(self, key)
            if value is not None:
                parts.append(f"{key}={value}")
        if self.ids is not None:
            parts.append("id=" + ",".join(str(i) for i in sorted(self.ids)))
        if self.name is not None:
            parts.append(f"name={self.name}")
        for key in ("permanent", "success"):
            value = getattr(self, key)
            if value is not None:
                parts.append(f"{key}={str(value).lower()}")
        if self.channels is not None:
            parts.append("channel=" + ",".join(sorted(self.channels)))
        return " ".join(parts) or "(everything)"


@attrs.frozen
class SuppressSpec:
    """``suppress = {scope, for}``: what to block and for how long (None: until lifted)."""

    scope: str
    duration: timedelta | None = None


@attrs.frozen
class Body:
    """What a rule decides; unset timing and limits fall back to ``[defaults]`` when compiled."""

    verdict: str
    reason: str
    after: timedelta | None = None
    every: timedelta | None = None
    backoff: Backoff | None = None
    at: CalendarTime | None = None
    window: Window | None = None
    give_up_after: timedelta | None = None
    max_attempts: int | None = None
    on_exhausted: str | None = None
    channel: str | None = None
    suppress: SuppressSpec | None = None
    escalate: EscalateEffect | None = None
    max_delay: timedelta | None = None


@attrs.frozen
class Rule:
    """A policy rule: an id, a match, a body, and where it came from.

    ``override`` is 0 for an ordinary rule and, for a rule written with ``override = true``, the position of its
    layer in the stack (1 for a tenant file on the default): such a rule outranks every rule of the layers below
    it that matches the same codes, whatever their specificity.
    """

    id: str
    match: Match
    body: Body
    source: str
    layers: tuple[str, ...]
    line: int | None = None
    override: int = 0

    @property
    def rank(self) -> tuple[int, int, int]:
        """Higher wins: (override layer, tier rank, refinements); equal ranks matching one code conflict."""
        return (self.override, *self.match.specificity)


@attrs.frozen
class Defaults:
    """``[defaults]``: the timing and limits rules inherit, the decision when no rule matches, and the decision
    for codes the catalog does not know (``unknown``; ``unknown_permanent`` when the report says permanent)."""

    timezone: ZoneInfo
    backoff: Backoff
    max_attempts: int
    give_up_after: timedelta
    on_exhausted: str
    max_delay: timedelta
    fallback: Body
    unknown: Body
    unknown_permanent: Body
    source: str
    layers: tuple[str, ...]
    #: Send window for every retry whose rule names none (e.g. a tenant's "no retries at night").
    window: Window | None = None
    #: Standard escalation route -> the tenant's own route ("billing" -> "bank-finance").
    routes: Mapping[str, str] = attrs.field(factory=dict)
    #: No rule may make more attempts than this, whatever it says.
    attempts_ceiling: int | None = None
    #: Retries must land on the first attempt's calendar day in ``timezone`` (no next-day resends).
    same_day: bool = False
    #: Decisions for reports that are events, not delivery results: ``seen`` (read) and ``cancelled``.
    seen: Body | None = None
    cancelled: Body | None = None
    #: Windows that govern every retry of a message type (glob, e.g. ``FRIENDTALK_*``) whose rule names none.
    type_windows: tuple[tuple[str, Window], ...] = ()
    #: When to look again at a message the provider is resending itself (NHN's SMS resend, RSC02/RSC03).
    resend_check: timedelta = timedelta(minutes=15)
    #: The provider resends failed KakaoTalk messages by SMS itself (NHN's resend setting is on): a report that
    #: does not say (webhooks carry no resendStatus) is taken as a resend target, never SMSed by us too.
    provider_resends: bool = False
    #: The layer that set each key (``"window"`` -> ``"tenant:bank"``), so decisions those keys shaped say so.
    key_layers: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class PolicySpec:
    """A validated, merged policy (all layers applied), ready to compile."""

    defaults: Defaults
    windows: Mapping[str, Window]
    rules: tuple[Rule, ...]
    layers: tuple[str, ...]
    disabled: tuple[str, ...] = ()
    #: What the state layer does with decisions: flood control, holds, unliftable suppressions (issue 14/15).
    settings: StateSettings = DEFAULT_SETTINGS
