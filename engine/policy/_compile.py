"""Compilation: catalog + merged policy -> an immutable index from reported code to decision plan.

Evaluation cost does not depend on the number of rules: every (provider, kind, product, id) a report can name is
resolved here, once, to the catalog entries it may mean and, per entry, the rules that can win in specificity
order (channel-specific rules first, then the single channel-agnostic winner)."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any, Final

import attrs

from .._errors import PolicyError, PolicyProblem
from ..model._decision import CodeIdentity, Decision
from ..model._time_rules import Window
from ..model._vocabulary import VOCABULARY
from ._catalog import Catalog, lookup_chain
from ._entries import CodeEntry
from ._plan import Plan, make_plan
from ._rules import PolicySpec, Rule

# (provider, kind, requested product, id): what a report names.  The product is ANY_PRODUCT when the report's
# channel is not known: the code is then looked up across all of the kind's tables.
IndexKey = tuple[str, str, str, int]
#: The product of the index entries that search every table of a kind (reports whose channel nobody said).
ANY_PRODUCT: Final = "*"
_UNSEEN: Final = object()
_TYPE_CACHE_MAX: Final = 256
#: Unknown code ids remembered as such per policy (known ones are bounded by the catalog).
_SINGLES_MAX: Final = 16_384


class Route:
    """A plan that decides one catalog entry, with the fields of the decisions it makes for that entry (built once,
    `Plan.decision_fields`) and, for plans whose decisions depend on nothing but the attempt number (done and
    escalate, no suppression), those decisions themselves, shared by attempt number (decisions are frozen)."""

    __slots__ = ("effect", "fields", "plain", "plan", "shared")

    def __init__(self, plan: Plan, fields: dict[str, object]) -> None:
        self.plan = plan
        self.fields = fields
        self.shared: dict[int, Decision] | None = \
            {} if plan.verdict in ("done", "escalate") and plan.suppress is None else None
        #: A retry timed by its interval or backoff alone: no calendar time, send window, same-day limit, fallback
        #: channel or suppression, so (for a report that brings none of its own timing) the decision is the next
        #: attempt at ``now`` + the delay, or the general path when the rule is exhausted.
        self.plain = (plan.verdict == "retry" and plan.at is None and plan.window is None
                      and plan.same_day_zone is None and plan.channel is None and plan.suppress is None)
        #: A verdict with no timing (done, escalate, suppress) and a suppression (the verdict's own, or the rule's
        #: scope): the decision is the plan's fields with the block's key read from the report.
        self.effect = (plan.verdict in ("done", "escalate", "suppress") and plan.channel is None
                       and (plan.suppress is not None or plan.verdict == "suppress"))


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
    #: Each plan as a `Route`, built the first time the code is decided (None until then): a tenant's policy
    #: holds the decision fields only of the codes its reports name.
    routes: tuple[Route, ...] | None = attrs.field(default=None, init=False, eq=False, repr=False)

    def plan_for(self, channel: str) -> Plan:
        """The winning plan for a report on ``channel``."""
        return self.route_for(channel).plan

    def route_for(self, channel: str) -> Route:
        """The winning plan for a report on ``channel``, as a `Route`."""
        routes = self.routes
        if routes is None:
            # Two threads may both build them: the routes are equal, and whichever is kept serves from then on.
            routes = tuple(Route(plan, plan.decision_fields(self.identity, self.reason_prefix)) for plan in self.plans)
            object.__setattr__(self, "routes", routes)
        if len(routes) == 1:
            return routes[0]
        for route in routes:
            channels = route.plan.channels
            if channels is None or channel in channels:
                return route
        return routes[-1]


def _identity(entry: CodeEntry) -> CodeIdentity:
    return CodeIdentity(entry.provider, entry.kind, entry.product, entry.id, entry.name, entry.group_id)


#: What `CompiledPolicy.routes` holds: the status and error objects, provider, channel and product of the report it
#: was found for (all checked on a hit), the route and the channel the decision is about; or, for codes no single
#: route decides (two codes that disagree, an ambiguous or unknown id), no route and what resolving them in full
#: gave (`decide._evaluate`: the plan, its decision fields, the note and the channel).
RouteMemo = tuple[object, object, str, str | None, str | None, "Route | None", str | None, "tuple[Any, ...] | None"]
#: What `CompiledPolicy.channels` holds: the status and error objects, provider and product of the report, and the
#: channel its code implies.
ChannelMemo = tuple[object, object, str, str | None, str]
#: The most entries `CompiledPolicy.routes` holds (it is emptied when full; each entry keeps its code objects).
ROUTES_MAX: Final = 4096


#: The candidates of one reported code: per table of the lookup chain (first table first), the entries of that
#: table with this id.  A reported group or name that contradicts a table's entries sends the lookup on to the
#: next table.
Tables = tuple[tuple[Candidate, ...], ...]
_NO_TABLES: Final[Tables] = ()


class CompiledPolicy:
    """An immutable, indexed policy.  Build with `compile_policy`; evaluate with `dlrpolicy.evaluate`.

    A policy compiled on a ``base`` (a tenant on the default) stores only what differs from the base and falls
    back to the base's index and candidates for the rest.
    """

    __slots__ = ("_base", "_base_index", "_candidates", "_index", "_type_windows", "base_singles", "catalog",
                 "channels", "events", "fallback", "own_index", "routes", "singles", "spec", "unknown",
                 "unknown_permanent", "version")

    def __init__(self, spec: PolicySpec, catalog: Catalog, candidates: Mapping[CodeEntry, Candidate],
                 index: Mapping[IndexKey, Tables], fallback: Plan, unknown: Plan,
                 unknown_permanent: Plan, events: Mapping[str, Plan], base: CompiledPolicy | None = None,
                 version: str = "") -> None:
        self.spec = spec
        #: Content hash of the layers and catalog this policy was compiled from (`policy_version`); every
        #: decision carries it, so a decision log names exactly the policy that decided.
        self.version = version
        self.catalog = catalog
        self._candidates = candidates
        self._index = index
        self._base = base
        self._base_index: Mapping[IndexKey, Tables] = base._index if base is not None else {}
        #: Index key -> its candidate when the key names exactly one entry in one table, else None: the common
        #: report resolves with one lookup here (`single` fills it as keys are asked for).  A policy compiled on
        #: a base holds only its own keys (``own_index``) and finds the rest in ``base_singles``.
        self.singles: dict[IndexKey, Candidate | None] = {}
        self.base_singles: dict[IndexKey, Candidate | None] = base.singles if base is not None else {}
        self.own_index: Mapping[IndexKey, Tables] = index
        self.fallback = fallback
        self.unknown = unknown
        self.unknown_permanent = unknown_permanent
        #: Plans for reports that are events: ``seen`` and ``cancelled``.
        self.events = events
        # Message type -> the window governing its retries, looked up once per type (few types exist).
        self._type_windows: dict[str, Window | None] = {}
        #: The route `evaluate` found for a report's code objects, by their identity: the adapters share one
        #: `CodeRef` per distinct code, so the next report of the same code on the same channel skips resolving it
        #: (`decide._evaluate` fills it and checks every part of the key; `ROUTES_MAX` bounds it).
        self.routes: dict[int, RouteMemo] = {}
        #: The channel a report that names none is decided on, by its code objects' identity, as `routes` keeps
        #: routes (`decide._resolve.channel_for` fills it; `ROUTES_MAX` bounds it).
        self.channels: dict[int, ChannelMemo] = {}

    def resolve(self, provider: str, kind: str, product: str, id: int) -> Tables:
        """The candidates a reported code may mean, per table of the product's lookup chain (`ANY_PRODUCT`:
        one group holding every table's entries with this id); () when the catalog does not know the id."""
        key = (provider, kind, product, id)
        found = self._index.get(key)
        if found is None:
            return self._base_index.get(key, _NO_TABLES)
        return found

    def single(self, key: IndexKey) -> Candidate | None:
        """The one candidate ``key`` names (exactly one entry, in one table), or None; remembered in `singles`.
        A policy compiled on a base remembers only its own keys and asks the base for the rest, so a tenant holds
        only what differs."""
        tables = self._index.get(key)
        if tables is None and self._base is not None:
            if key not in self._base_index:
                return None
            found = self._base.singles.get(key, _UNSEEN)
            return self._base.single(key) if found is _UNSEEN else found  # type: ignore[return-value]
        found = tables[0][0] if tables is not None and len(tables) == 1 and len(tables[0]) == 1 else None
        if tables is not None or len(self.singles) < _SINGLES_MAX:  # unknown ids are remembered up to a bound
            self.singles[key] = found
        return found

    def window_for_type(self, message_type: str) -> Window | None:
        """The window ``[defaults] type_windows`` names for ``message_type`` (``FRIENDTALK_NORMAL``), or None."""
        found = self._type_windows.get(message_type, _UNSEEN)
        if found is _UNSEEN:
            found = next((window for pattern, window in self.spec.defaults.type_windows
                          if fnmatch.fnmatchcase(message_type, pattern)), None)
            if len(self._type_windows) < _TYPE_CACHE_MAX:
                self._type_windows[message_type] = found
        return found  # type: ignore[return-value]

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


def _table_index(candidates: Mapping[CodeEntry, Candidate]) -> dict[IndexKey, Tables]:
    """(provider, kind, requested product, id) -> candidates per table along that product's lookup chain, and
    (provider, kind, `ANY_PRODUCT`, id) -> every table's candidates with that id, in vocabulary order."""
    by_table: dict[tuple[str, str, str], dict[int, list[Candidate]]] = {}
    for entry, cand in candidates.items():
        by_table.setdefault((entry.provider, entry.kind, entry.product), {}).setdefault(entry.id, []).append(cand)
    index: dict[IndexKey, Tables] = {}
    for provider, kinds in VOCABULARY.items():
        for kind, products in kinds.items():
            for requested in products:
                tables = [by_table.get((provider, kind, product), {}) for product in
                          lookup_chain(provider, kind, requested)]
                for code_id in {i for table in tables for i in table}:
                    index[(provider, kind, requested, code_id)] = tuple(
                        tuple(table[code_id]) for table in tables if code_id in table)
            anywhere: dict[int, list[Candidate]] = {}
            for product in products:
                for code_id, cands in by_table.get((provider, kind, product), {}).items():
                    anywhere.setdefault(code_id, []).extend(cands)
            for code_id, cands in anywhere.items():
                index[(provider, kind, ANY_PRODUCT, code_id)] = (tuple(cands),)
    return index


def compile_policy(spec: PolicySpec, catalog: Catalog, *, base: CompiledPolicy | None = None,
                   version: str = "") -> CompiledPolicy:
    """Index ``spec`` over ``catalog``; raise `PolicyError` on equal-specificity conflicts and on rules that no
    catalog code can satisfy.  With ``base`` (the default policy, compiled over the same catalog), only what
    differs from it is stored, so a thousand tenants cost little more than their own rules.  ``version`` is the
    policy's content hash (`compile_layers` computes it from the layers with `policy_version`)."""
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
    events = {}
    for event, body in (("seen", defaults.seen), ("cancelled", defaults.cancelled)):
        assert body is not None  # build_spec fills both, from the policy or from the built-in decisions
        events[event] = intern(make_plan(f"defaults.{event}", defaults.source, defaults.layers, body, defaults))
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
                          unknown_permanent, events, base, version)


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


def _same(ours: Tables, theirs: Tables) -> bool:
    return len(ours) == len(theirs) and all(
        len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True)) for a, b in zip(ours, theirs, strict=True))


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
