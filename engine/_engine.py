"""`Engine`: the catalog and a compiled policy behind three calls: evaluate, explain, for_tenant."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from importlib import resources
from os import PathLike
from pathlib import Path

from ._catalog import Catalog
from ._compile import CompiledPolicy, compile_policy
from ._errors import PolicyError, PolicyProblem
from ._evaluate import evaluate as _evaluate
from ._explain import Explanation
from ._explain import explain as _explain
from ._models import Decision, History, Outcome
from ._policy import Layer, build_spec

DEFAULT_SOURCE = "policies/default.toml"


def default_layer() -> Layer:
    """The shipped default policy as a layer named ``default``."""
    text = resources.files("dlrpolicy.policies").joinpath("default.toml").read_text(encoding="utf-8")
    return Layer.from_text(text, source=DEFAULT_SOURCE, name="default")


def read_layer(path: str | PathLike[str], *, name: str | None = None) -> Layer:
    """Read a policy file as a layer; an unreadable file becomes a `PolicyError` naming it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError([PolicyProblem(file=str(path), message=f"cannot read the file: {exc}",
                                         fix="check the path and that the file is UTF-8 text")]) from None
    return Layer.from_text(text, source=str(path), name=name or path.stem)


def compile_layers(layers: Sequence[Layer], *, catalog: Catalog | None = None,
                   base: CompiledPolicy | None = None) -> CompiledPolicy:
    """Merge, validate and compile ``layers`` (base first) over ``catalog`` (the shipped one by default)."""
    return compile_policy(build_spec(layers), catalog or Catalog.load(), base=base)


@functools.cache
def _default_policy() -> CompiledPolicy:
    return compile_layers([default_layer()])


class Engine:
    """Evaluates outcomes against one compiled policy.

    >>> engine = Engine.default()
    >>> decision = engine.evaluate(outcome, now=datetime.now(UTC))  # doctest: +SKIP
    """

    __slots__ = ("_store", "policy")

    def __init__(self, policy: CompiledPolicy, *, store: object | None = None) -> None:
        self.policy = policy
        self._store = store

    @classmethod
    def default(cls, *, policy_dir: str | PathLike[str] | None = None) -> Engine:
        """The shipped catalog and default policy (compiled once per process).

        With ``policy_dir``, `for_tenant` layers ``<policy_dir>/<tenant>.toml`` on top of it.
        """
        store = None
        if policy_dir is not None:
            from ._tenants import PolicyStore

            store = PolicyStore(policy_dir)
        return cls(_default_policy(), store=store)

    @classmethod
    def load(cls, policy_files: Sequence[str | PathLike[str]], *, catalog: Catalog | None = None) -> Engine:
        """Compile ``policy_files`` as layers: the first is a complete policy, later ones override it."""
        if not policy_files:
            raise ValueError("Engine.load needs at least one policy file; use Engine.default() for the shipped one")
        return cls(compile_layers([read_layer(p) for p in policy_files], catalog=catalog))

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
        """An engine whose policy is this one's default with ``tenant``'s override file layered on top."""
        from ._tenants import PolicyStore

        if not isinstance(self._store, PolicyStore):
            from ._errors import TenantError
            from ._tenants import validate_tenant

            validate_tenant(tenant)
            raise TenantError(tenant, "no policy directory is configured: pass policy_dir to Engine.default() "
                              "or set DLRPOLICY_POLICY_DIR")
        return Engine(self._store.get(tenant), store=self._store)
