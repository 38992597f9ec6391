"""The naive baseline for `bench_engine`: first-match linear scan over the policy's rules at evaluation time.

`NaivePolicy` stands in for a `CompiledPolicy` when passed to ``dlrpolicy.decide._evaluate.evaluate``, so the
Decision is built by exactly the same code; the only difference is how the winning rule is found:

- the compiled engine looks the reported code up in a dict built at compile time and takes the precomputed plan;
- the baseline finds the catalog entries through the catalog's own lookup (following the product's lookup chain,
  as the compiled index does), then walks ``policy.rules`` sorted by specificity (most specific first) calling
  ``rule.match.matches_code(...)`` and checking the channel; the first rule that matches wins, else the defaults.

Plans (a rule body resolved against ``[defaults]``) are built once, up front, with the engine's own `make_plan`,
so the baseline does not pay for anything the engine does not pay for at evaluation time either.
"""

from __future__ import annotations

from dlrpolicy.model._decision import CodeIdentity
from dlrpolicy.model._vocabulary import VOCABULARY
from dlrpolicy.policy._catalog import Catalog, lookup_chain
from dlrpolicy.policy._compile import ANY_PRODUCT, CompiledPolicy, Route
from dlrpolicy.policy._entries import CodeEntry
from dlrpolicy.policy._plan import Plan, make_plan
from dlrpolicy.policy._rules import Rule


class NaiveCandidate:
    """One catalog entry; `plan_for` scans the rules linearly every time it is asked."""

    __slots__ = ("_fallback", "_rules", "entry", "identity", "reason_prefix")

    def __init__(self, entry: CodeEntry, rules: tuple[tuple[Rule, Plan], ...], fallback: Plan) -> None:
        self.entry = entry
        self.identity = CodeIdentity(entry.provider, entry.kind, entry.product, entry.id, entry.name, entry.group_id)
        self.reason_prefix = f"{entry.name}: "
        self._rules = rules
        self._fallback = fallback

    def plan_for(self, channel: str) -> Plan:
        """The plan of the first rule (most specific first) that matches this entry on ``channel``."""
        e = self.entry
        for rule, plan in self._rules:
            match = rule.match
            if match.matches_code(e.provider, e.kind, e.product, e.group_id, e.id, e.name, e.permanent,
                                  e.success) and (match.channels is None or channel in match.channels):
                return plan
        return self._fallback

    def route_for(self, channel: str) -> Route:
        """`plan_for` with the decision fields of the plan for this entry (built on every call: the baseline
        precomputes nothing per entry)."""
        plan = self.plan_for(channel)
        return Route(plan, plan.decision_fields(self.identity, self.reason_prefix))


class _Forgetful(dict[object, object]):
    """A dict that keeps nothing: the naive baseline remembers no route between reports."""

    def __setitem__(self, key: object, value: object) -> None:
        return


class NaivePolicy:
    """Duck-typed `CompiledPolicy` whose `resolve` does a catalog lookup and whose candidates scan rules."""

    def __init__(self, compiled: CompiledPolicy, catalog: Catalog | None = None) -> None:
        spec = compiled.spec
        defaults = spec.defaults
        self.catalog = catalog or compiled.catalog
        # sorted() is stable, so rules of equal specificity keep file order (the compiler rejects real ties).
        ordered = sorted(compiled.rules, key=lambda rule: rule.match.specificity, reverse=True)
        self.rules: tuple[tuple[Rule, Plan], ...] = tuple(
            (rule, make_plan(rule.id, rule.source, rule.layers, rule.body, defaults, rule.match)) for rule in ordered
        )
        self.fallback = compiled.fallback
        self.unknown = compiled.unknown
        self.unknown_permanent = compiled.unknown_permanent
        self.events = compiled.events
        self.window_for_type = compiled.window_for_type
        self.version = compiled.version
        self.spec = spec  # [defaults] the evaluation reads (resend_check, provider_resends)
        # No precomputed single-entry keys: every code is resolved through `resolve` below.
        self.singles: dict[object, None] = {}
        self.base_singles: dict[object, None] = {}
        self.own_index: dict[object, None] = {}
        # Nor the engine's memo of routes by code object: it never keeps anything, so every report is resolved.
        self.routes: _Forgetful = _Forgetful()
        # Wrapping entries is bookkeeping, not rule selection: do it once so the scan is all that is timed.
        self._wrapped: dict[int, NaiveCandidate] = {
            id(entry): NaiveCandidate(entry, self.rules, self.fallback) for entry in self.catalog
        }

    def single(self, key: object) -> None:
        """No shortcut: `evaluate` then resolves every code through `resolve`, the linear scan's entry point."""
        return

    def resolve(self, provider: str, kind: str, product: str, code_id: int) -> tuple[tuple[NaiveCandidate, ...], ...]:
        """The entries a reported code may mean, per table along the lookup chain (every table of the kind when
        the report's channel is unknown), found through the catalog's own lookup at evaluation time."""
        wrapped = self._wrapped
        if product == ANY_PRODUCT:
            anywhere = [entry for table in VOCABULARY[provider][kind]
                        for entry in self.catalog.candidates(provider, kind, table, code_id)]
            return (tuple(wrapped[id(entry)] for entry in anywhere),) if anywhere else ()
        tables = []
        for table in lookup_chain(provider, kind, product):
            found = self.catalog.candidates(provider, kind, table, code_id)
            if found:
                tables.append(tuple(wrapped[id(entry)] for entry in found))
        return tuple(tables)

