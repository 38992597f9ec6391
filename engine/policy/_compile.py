"""Compilation: catalog + merged policy -> an immutable index from reported code to decision plan.

Evaluation cost does not depend on the number of rules: every (provider, kind, product, id) a report can name is
resolved here, once, to the catalog entries it may mean and, per entry, the rules that can win in specificity
order (channel-specific rules first, then the single channel-agnostic winner)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Final
from zoneinfo import ZoneInfo

import attrs

from .._errors import PolicyError, PolicyProblem
from ..model._decision import CodeIdentity, EscalateEffect
from ..model._duration import format_duration as fmt
from ..model._time_rules import Backoff, CalendarTime, Window
from ..model._vocabulary import VOCABULARY
from ._catalog import Catalog, CodeEntry, lookup_chain
from ._rules import Body, Defaults, Match, PolicySpec, Rule, SuppressSpec

# (provider, kind, requested product, id): what a report names.
IndexKey = tuple[str, str, str, int]


_SUPPORT: Final = EscalateEffect("support", "warning")


@attrs.frozen(cache_hash=True)
class Plan:
    """A rule body resolved against the defaults: everything `evaluate` needs, nothing left to look up."""

    rule: str
    source: str
    layers: tuple[str, ...]
    verdict: str
    reason: str
    after: timedelta | None
    every: timedelta | None
    backoff: Backoff | None
    at: CalendarTime | None
    window: Window | None
    give_up_after: timedelta | None
    max_attempts: int | None
    on_exhausted: str
    channel: str | None
    suppress: SuppressSpec | None
    escalate: EscalateEffect | None
    max_delay: timedelta
    #: Escalation used when the verdict (or the exhausted verdict) is escalate and the rule names no route.
    default_escalation: EscalateEffect = _SUPPORT
    #: When set, retries may not land after the end of the first attempt's calendar day in this zone.
    same_day_zone: ZoneInfo | None = None
    channels: frozenset[str] | None = None

    def describe_timing(self) -> str:
        """One line: ``every 24h, give up after 7d`` / ``next_day 00:05 America/New_York`` / ``-``."""
        parts = []
        if self.verdict in ("retry", "wait"):
            if self.at is not None:
                parts.append(self.at.describe())
            if self.after is not None:
                parts.append(f"after {fmt(self.after)}")
            if self.every is not None:
                parts.append(f"every {fmt(self.every)}")
            if self.backoff is not None and self.verdict == "retry":
                parts.append(self.backoff.describe())
            if self.window is not None:
                parts.append(f"within {self.window.describe()}")
            if self.channel is not None:
                parts.append(f"on {self.channel}")
            if self.max_attempts is not None:
                parts.append(f"at most {self.max_attempts} attempts")
            if self.give_up_after is not None:
                same_day = " or at the end of the first attempt's day" if self.same_day_zone is not None else ""
                parts.append(f"give up after {fmt(self.give_up_after)}{same_day} then {self.on_exhausted}")
        if self.suppress is not None:
            span = f" for {fmt(self.suppress.duration)}" if self.suppress.duration else " until lifted"
            parts.append(f"suppress {self.suppress.scope}{span}")
        if self.escalate is not None:
            parts.append(f"escalate to {self.escalate.route} ({self.escalate.severity})")
        return ", ".join(parts) or "-"


@attrs.frozen
class Candidate:
    """One catalog entry a reported id may mean, with its identity and the plans that can decide it."""

    entry: CodeEntry
    identity: CodeIdentity
    #: ``"NAME: "``, the start of every reason for this code, built once rather than on every evaluation.
    reason_prefix: str
    #: Plans in the order they are tried; each applies to ``plan.channels`` (None: any), the last to any.
    plans: tuple[Plan, ...]
    matched: tuple[Rule, ...] = attrs.field(eq=False, repr=False)

    def plan_for(self, channel: str) -> Plan:
        """The winning plan for a report on ``channel``."""
        for plan in self.plans:
            if plan.channels is None or channel in plan.channels:
                return plan
        return self.plans[-1]


def make_plan(rule: str, source: str, layers: tuple[str, ...], body: Body, defaults: Defaults,
              match: Match | None = None) -> Plan:
    """Resolve ``body`` against ``defaults``.

    A rule that sets its own ``give_up_after`` is bounded by that deadline alone unless it also sets
    ``max_attempts``; a rule that sets neither inherits both limits from the defaults.
    """
    # A channel fallback with no timing of its own goes out at once: the other channel is not the one that failed.
    timed = body.after is not None or body.every is not None or body.at is not None or body.channel is not None
    backoff = body.backoff if body.backoff is not None else (None if timed else defaults.backoff)
    give_up_after: timedelta | None
    window = body.window
    if body.verdict == "retry":
        give_up_after = body.give_up_after or defaults.give_up_after
        max_attempts = body.max_attempts or (None if body.give_up_after is not None else defaults.max_attempts)
        window = window or defaults.window
        if defaults.attempts_ceiling is not None:
            max_attempts = min(max_attempts or defaults.attempts_ceiling, defaults.attempts_ceiling)
    else:
        give_up_after = body.give_up_after
        max_attempts = body.max_attempts
        backoff = body.backoff
    routes = defaults.routes
    escalate = body.escalate
    if escalate is not None and escalate.route in routes:
        escalate = EscalateEffect(routes[escalate.route], escalate.severity)
    layers = _shaped_by(layers, body, defaults, window, max_attempts, escalate)
    return Plan(
        rule=rule, source=source, layers=layers, verdict=body.verdict, reason=body.reason, after=body.after,
        every=body.every, backoff=backoff, at=body.at, window=window, give_up_after=give_up_after,
        max_attempts=max_attempts, on_exhausted=body.on_exhausted or defaults.on_exhausted, channel=body.channel,
        suppress=body.suppress, escalate=escalate, max_delay=body.max_delay or defaults.max_delay,
        default_escalation=EscalateEffect(routes.get("support", "support"), "warning"),
        same_day_zone=defaults.timezone if defaults.same_day and body.verdict == "retry" else None,
        channels=match.channels if match is not None else None,
    )


def _shaped_by(layers: tuple[str, ...], body: Body, defaults: Defaults, window: Window | None,
               max_attempts: int | None, escalate: EscalateEffect | None) -> tuple[str, ...]:
    """``layers`` plus the layers whose policy-wide ``[defaults]`` (window, attempts_ceiling, same_day, routes)
    changed what this rule decides: a decision shaped by a tenant's ``[defaults]`` says so."""
    named = defaults.key_layers
    extra = []
    if body.verdict == "retry":
        if body.window is None and window is not None:
            extra.append(named.get("window"))
        if defaults.attempts_ceiling is not None and max_attempts != body.max_attempts:
            extra.append(named.get("attempts_ceiling"))
        if defaults.same_day:
            extra.append(named.get("same_day"))
    escalates = body.verdict == "escalate" or body.on_exhausted == "escalate" or (
        body.on_exhausted is None and defaults.on_exhausted == "escalate")
    if escalate is not body.escalate or (escalates and body.escalate is None and "support" in defaults.routes):
        extra.append(named.get("routes"))
    found = [name for name in extra if name is not None and name not in layers]
    return (*layers, *dict.fromkeys(found)) if found else layers


def _identity(entry: CodeEntry) -> CodeIdentity:
    return CodeIdentity(entry.provider, entry.kind, entry.product, entry.id, entry.name, entry.group_id)


_NO_CANDIDATES: Final[tuple[Candidate, ...]] = ()


class CompiledPolicy:
    """An immutable, indexed policy.  Build with `compile_policy`; evaluate with `dlrpolicy.evaluate`.

    A policy compiled on a ``base`` (a tenant on the default) stores only what differs from the base and falls
    back to the base's index and candidates for the rest.
    """

    __slots__ = ("_base", "_base_index", "_candidates", "_index", "catalog", "fallback", "spec", "unknown",
                 "unknown_permanent")

    def __init__(self, spec: PolicySpec, catalog: Catalog, candidates: Mapping[CodeEntry, Candidate],
                 index: Mapping[IndexKey, tuple[Candidate, ...]], fallback: Plan, unknown: Plan,
                 unknown_permanent: Plan, base: CompiledPolicy | None = None) -> None:
        self.spec = spec
        self.catalog = catalog
        self._candidates = candidates
        self._index = index
        self._base = base
        self._base_index: Mapping[IndexKey, tuple[Candidate, ...]] = base._index if base is not None else {}
        self.fallback = fallback
        self.unknown = unknown
        self.unknown_permanent = unknown_permanent

    def resolve(self, provider: str, kind: str, product: str, id: int) -> tuple[Candidate, ...]:
        """The candidates a reported code may mean, searching the product's lookup chain; () when unknown."""
        key = (provider, kind, product, id)
        found = self._index.get(key)
        if found is None:
            return self._base_index.get(key, _NO_CANDIDATES)
        return found

    def candidate(self, entry: CodeEntry) -> Candidate:
        """The compiled candidate of a catalog entry."""
        found = self._candidates.get(entry)
        if found is None and self._base is not None:
            return self._base.candidate(entry)
        if found is None:
            raise KeyError(entry.label)
        return found

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The merged rules, in file order."""
        return self.spec.rules


_FALLBACK_ID: Final = "defaults"


def _table_index(candidates: Mapping[CodeEntry, Candidate]) -> dict[IndexKey, tuple[Candidate, ...]]:
    """(provider, kind, requested product, id) -> candidates, following each product's lookup chain."""
    by_table: dict[tuple[str, str, str], dict[int, list[Candidate]]] = {}
    for entry, cand in candidates.items():
        by_table.setdefault((entry.provider, entry.kind, entry.product), {}).setdefault(entry.id, []).append(cand)
    index: dict[IndexKey, tuple[Candidate, ...]] = {}
    for provider, kinds in VOCABULARY.items():
        for kind, products in kinds.items():
            for requested in products:
                # Walk the chain backwards so the first table in the chain wins.
                for product in reversed(lookup_chain(provider, kind, requested)):
                    for code_id, cands in by_table.get((provider, kind, product), {}).items():
                        index[(provider, kind, requested, code_id)] = tuple(cands)
    return index


def compile_policy(spec: PolicySpec, catalog: Catalog, *, base: CompiledPolicy | None = None) -> CompiledPolicy:
    """Index ``spec`` over ``catalog``; raise `PolicyError` on equal-specificity conflicts and on rules that no
    catalog code can satisfy.  With ``base`` (the default policy, compiled over the same catalog), only what
    differs from it is stored, so a thousand tenants cost little more than their own rules."""
    if base is not None and base.catalog is not catalog:
        base = None
    defaults = spec.defaults
    plan_cache: dict[Plan, Plan] = {}
    if base is not None:
        for entry in catalog:
            for plan in base.candidate(entry).plans:
                plan_cache.setdefault(plan, plan)

    def intern(plan: Plan) -> Plan:
        return plan_cache.setdefault(plan, plan)

    fallback = intern(make_plan(_FALLBACK_ID, defaults.source, defaults.layers, defaults.fallback, defaults))
    unknown = intern(make_plan("defaults.unknown", defaults.source, defaults.layers, defaults.unknown, defaults))
    unknown_permanent = intern(
        make_plan("defaults.unknown_permanent", defaults.source, defaults.layers, defaults.unknown_permanent, defaults)
    )
    plans_by_id = {rule.id: intern(make_plan(rule.id, rule.source, rule.layers, rule.body, defaults, rule.match))
                   for rule in spec.rules}
    # A tenant usually changes a handful of rules: entries keep the base's matches for the rules that are the
    # same, and only the changed rules are matched again.
    unchanged: set[str] = set()
    if base is not None:
        base_rules = {rule.id: rule for rule in base.spec.rules}
        unchanged = {rule.id for rule in spec.rules if base_rules.get(rule.id) == rule}
        # Keep the base's objects for the rules that did not change, so a tenant holds only its own rules.
        spec = attrs.evolve(spec, rules=tuple(base_rules[r.id] if r.id in unchanged else r for r in spec.rules))
    buckets = _bucket([rule for rule in spec.rules if rule.id not in unchanged])
    conflicts: set[tuple[str, str]] = set()
    used: set[str] = set()
    all_candidates: dict[CodeEntry, Candidate] = {}
    own: dict[CodeEntry, Candidate] = {}
    for entry in catalog:
        matching = _matching(buckets, entry)
        if base is not None:
            matching += [rule for rule in base.candidate(entry).matched if rule.id in unchanged]
        matched = [(rule, plans_by_id[rule.id]) for rule in matching]
        matched.sort(key=lambda rp: rp[0].rank, reverse=True)
        used.update(rule.id for rule, _ in matched)
        _conflicts(matched, conflicts)
        chain: list[Plan] = []
        for _rule, plan in matched:
            chain.append(plan)
            if plan.channels is None:
                break
        else:
            chain.append(fallback)
        plans = tuple(chain)
        rules = tuple(r for r, _ in matched)
        previous = base.candidate(entry) if base is not None else None
        if previous is not None and previous.plans == plans and previous.matched == rules:
            all_candidates[entry] = previous
        else:
            cand = Candidate(entry, _identity(entry), f"{entry.name}: ", plans, rules)
            all_candidates[entry] = own[entry] = cand
    _raise_problems(spec, conflicts, used)
    index = _table_index(all_candidates)
    if base is not None:
        # Keep only the keys whose candidates differ from the base's; the rest resolve through the base.
        index = {key: value for key, value in index.items() if not _same(value, base.resolve(*key))}
    return CompiledPolicy(spec, catalog, own if base is not None else all_candidates, index, fallback, unknown,
                          unknown_permanent, base)


def _conflicts(matched: list[tuple[Rule, Plan]], found: set[tuple[str, str]]) -> None:
    """Add to ``found`` the pairs of rules of equal rank that both decide a code on some channel.

    Linear in the number of rules (2,000 equal rules cost 2.6 GB and 40 s when every pair was compared): within a
    group of equal rank, every rule is paired with the first rule it overlaps, which names each conflicting rule
    at least once.
    """
    start = 0
    while start < len(matched):
        rank = matched[start][0].rank
        end = start + 1
        while end < len(matched) and matched[end][0].rank == rank:
            end += 1
        if end - start > 1:
            group = [rule for rule, _ in matched[start:end]]
            anywhere = next((rule for rule in group if rule.match.channels is None), None)
            by_channel: dict[str, Rule] = {}
            for rule in group:
                partner = anywhere if anywhere is not None and anywhere is not rule else None
                for channel in sorted(rule.match.channels or ()):
                    first = by_channel.setdefault(channel, rule)
                    if partner is None and first is not rule:
                        partner = first
                if partner is not None:
                    a, b = sorted((rule.id, partner.id))
                    found.add((a, b))
        start = end


_Bucket = dict[tuple[str | None, str | None, str | None], list[Rule]]


def _bucket(rules: list[Rule]) -> _Bucket:
    """Rules grouped by the (provider, kind, product) they name; None stands for "any"."""
    buckets: _Bucket = {}
    for rule in rules:
        m = rule.match
        buckets.setdefault((m.provider, m.kind, m.product), []).append(rule)
    return buckets


def _matching(buckets: _Bucket, entry: CodeEntry) -> list[Rule]:
    """The rules whose match holds for ``entry`` (channel aside), looking only in the buckets that can apply."""
    found = []
    for provider in (entry.provider, None):
        for kind in (entry.kind, None):
            for product in (entry.product, None):
                for rule in buckets.get((provider, kind, product), ()):
                    if rule.match.matches_code(entry.provider, entry.kind, entry.product, entry.group_id, entry.id,
                                               entry.name, entry.permanent, entry.success):
                        found.append(rule)
    return found


def _same(ours: tuple[Candidate, ...], theirs: tuple[Candidate, ...]) -> bool:
    return len(ours) == len(theirs) and all(a is b for a, b in zip(ours, theirs, strict=True))


def _raise_problems(spec: PolicySpec, conflicts: set[tuple[str, str]], used: set[str]) -> None:
    problems: list[PolicyProblem] = []
    rules_by_id = {rule.id: rule for rule in spec.rules}
    for a, b in sorted(conflicts):
        rule = rules_by_id[b]
        problems.append(PolicyProblem(
            file=rule.source, line=rule.line, rule=b, field="match",
            message=f"rules {a!r} and {b!r} have equal specificity and both match the same code(s)",
            fix=f"make one of them more specific (add id, group_id, name, permanent or channel) or disable {a!r}",
        ))
    for rule in spec.rules:
        if rule.id not in used:
            problems.append(PolicyProblem(
                file=rule.source, line=rule.line, rule=rule.id, field="match",
                message=f"no catalog code satisfies match {rule.match.describe()}",
                fix="check the name pattern, id and group for typos (`dlrpolicy catalog search TEXT`)",
            ))
    if problems:
        raise PolicyError(problems)
