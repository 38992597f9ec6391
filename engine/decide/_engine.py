"""`Engine`: the catalog and a compiled policy behind three calls: evaluate, explain, for_tenant."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from os import PathLike

from .._errors import SettingError, TenantError
from ..model._decision import Decision
from ..model._outcome import History, Outcome
from ..model._vocabulary import validate_tenant
from ..policy._catalog import Catalog
from ..policy._compile import CompiledPolicy
from ..policy._layers import compile_layers, default_layer, default_policy, read_layer
from ..policy._limits import DEFAULT_LIMITS, PolicyLimits
from ..policy._tenants import PolicyStore
from ._evaluate import evaluate as _evaluate
from ._explain import Explanation
from ._explain import explain as _explain


class Engine:
    """Evaluates outcomes against one compiled policy.

    >>> engine = Engine.default()
    >>> decision = engine.evaluate(outcome, now=datetime.now(UTC))  # doctest: +SKIP
    """

    __slots__ = ("__dict__", "_default_for_unknown", "_policy", "_store")

    def __init__(self, policy: CompiledPolicy, *, store: PolicyStore | None = None,
                 default_for_unknown: bool = False) -> None:
        self._policy = policy
        self._store = store
        self._default_for_unknown = default_for_unknown
        # The hot call, bound once: a C-level partial of the pure function saves the method's own frame on every
        # report (about 5% of a decision).  It shadows the `evaluate` method below, which documents it.
        self.__dict__["evaluate"] = functools.partial(_evaluate, policy)

    @property
    def policy(self) -> CompiledPolicy:
        """The compiled policy this engine decides by."""
        return self._policy

    @classmethod
    def default(cls, *, policy_dir: str | PathLike[str] | None = None,
                catalog_files: Sequence[str | PathLike[str]] = (), default_for_unknown: bool = False,
                limits: PolicyLimits = DEFAULT_LIMITS, allow_outside_links: bool = False) -> Engine:
        """The shipped catalog and default policy (compiled once per process).

        With ``policy_dir``, `for_tenant` layers ``<policy_dir>/<tenant>.toml`` on top of it (see `PolicyStore`
        for ``limits`` and ``allow_outside_links``).  A tenant without a file is a `TenantError` unless
        ``default_for_unknown`` is true, which gives such tenants the default policy.  ``catalog_files`` are
        catalog overlays (the shipped table format) for codes a provider documented after this release; the
        default policy is then compiled over the shipped catalog plus them.
        """
        policy = default_policy()
        if catalog_files:
            policy = compile_layers([default_layer()], catalog=Catalog.load(catalog_files), limits=limits)
        store = PolicyStore(policy_dir, default=policy, default_for_unknown=default_for_unknown, limits=limits,
                            allow_outside_links=allow_outside_links) if policy_dir is not None else None
        return cls(policy, store=store, default_for_unknown=default_for_unknown)

    @classmethod
    def load(cls, policy_files: Sequence[str | PathLike[str]], *, catalog: Catalog | None = None,
             limits: PolicyLimits = DEFAULT_LIMITS, default_for_unknown: bool = False) -> Engine:
        """Compile ``policy_files`` as layers: the first is a complete policy, later ones override it.

        Such an engine has no tenants: `for_tenant` is a `TenantError` unless ``default_for_unknown`` is true.
        """
        if not policy_files:
            raise SettingError("policy_files", policy_files, "name at least one policy file; use "
                                                             "Engine.default() for the shipped one")
        layers = [read_layer(p, limits=limits) for p in policy_files]
        return cls(compile_layers(layers, catalog=catalog, limits=limits), default_for_unknown=default_for_unknown)

    @property
    def catalog(self) -> Catalog:
        """The catalog the policy was compiled over."""
        return self.policy.catalog

    def evaluate(self, outcome: Outcome, *, now: datetime, history: History | None = None) -> Decision:
        """Decide what to do about ``outcome`` at ``now`` (timezone-aware).  Pure and deterministic."""
        return _evaluate(self.policy, outcome, now=now, history=history)

    def explain(self, outcome: Outcome, *, now: datetime, history: History | None = None) -> Explanation:
        """The decision, the rules that matched and why the winner won, and the attempt timeline."""
        return _explain(self.policy, outcome, now=now, history=history)

    def for_tenant(self, tenant: str) -> Engine:
        """An engine whose policy is this one's default with ``tenant``'s override file layered on top.

        Raises `TenantError` for a tenant without a file (and for every tenant when no policy directory is
        configured) unless the engine was made with ``default_for_unknown=True``.
        """
        if not isinstance(self._store, PolicyStore):
            validate_tenant(tenant)
            if self._default_for_unknown:
                return self
            raise TenantError(tenant, "no policy directory is configured: pass policy_dir to Engine.default(), "
                              "--policy-dir DIR or set DLRPOLICY_POLICY_DIR; or give every tenant this policy "
                              "with default_for_unknown=True (--default-for-unknown-tenants)")
        return Engine(self._store.get(tenant), store=self._store, default_for_unknown=self._default_for_unknown)
