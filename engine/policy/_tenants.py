"""Per-tenant policies: ``<policy_dir>/<tenant>.toml`` layered on the shipped default, compiled on first use,
recompiled when the file changes, and kept at the last good version when a change breaks it."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import attrs

from .._errors import PolicyError, TenantError
from ..model._vocabulary import TENANT_ID, validate_tenant
from ._compile import CompiledPolicy
from ._layers import compile_layers, default_layer, default_policy, read_layer
from ._read import Layer

ENV_POLICY_DIR = "DLRPOLICY_POLICY_DIR"


@attrs.frozen
class _Loaded:
    policy: CompiledPolicy
    stamp: tuple[int, int] | None
    checked: float


class PolicyStore:
    """Compiled tenant policies, cached and reloaded when their file changes.

    Thread-safe: a reload compiles outside the cache and swaps the result in with one assignment, so readers
    see either the old or the new policy, never a half-built one.  A file that became invalid keeps the last
    good policy in force; the error is kept in `errors` (and raised only when there is no good policy yet).
    """

    def __init__(self, policy_dir: str | PathLike[str], *, base: Sequence[Layer] | None = None,
                 check_interval: float = 1.0, default: CompiledPolicy | None = None) -> None:
        """Tenant files in ``policy_dir`` are layered on ``base`` (the shipped default policy when None).

        A tenant's file is looked at (one ``stat``) at most every ``check_interval`` seconds, so asking for a
        tenant's policy on every message stays cheap; 0 checks on every call.
        """
        if check_interval < 0:
            raise ValueError("check_interval must be >= 0 seconds")
        self.check_interval = check_interval
        self.policy_dir = Path(policy_dir)
        self._base = tuple(base) if base is not None else None
        # The compiled base; given when the caller compiled it already (over a catalog with overlays, say).
        self._default: CompiledPolicy | None = default
        self._cache: dict[str, _Loaded] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.errors: dict[str, PolicyError] = {}

    @classmethod
    def from_env(cls) -> PolicyStore | None:
        """A store for ``$DLRPOLICY_POLICY_DIR``, or None when it is not set."""
        value = os.environ.get(ENV_POLICY_DIR)
        return cls(value) if value else None

    @property
    def default(self) -> CompiledPolicy:
        """The policy tenants layer on (the shipped default unless one was given)."""
        if self._default is None:
            self._default = default_policy() if self._base is None else compile_layers(self._base)
        return self._default

    def path_for(self, tenant: str) -> Path:
        """``<policy_dir>/<tenant>.toml`` after validating the id."""
        return self.policy_dir / f"{validate_tenant(tenant)}.toml"

    def tenants(self) -> list[str]:
        """Tenant ids that have a file in the directory (files with unsafe names are left out)."""
        if not self.policy_dir.is_dir():
            return []
        return sorted(p.stem for p in self.policy_dir.glob("*.toml") if TENANT_ID.fullmatch(p.stem))

    def _stamp(self, path: Path) -> tuple[int, int] | None:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def compile(self, tenant: str) -> CompiledPolicy:
        """Compile ``tenant``'s file now, without the cache; raise `PolicyError` when it is invalid."""
        path = self.path_for(tenant)
        if not path.is_file():
            raise TenantError(tenant, f"no policy file {path}: create it or drop --tenant to use the default")
        layer = read_layer(path, name=f"tenant:{tenant}")
        base = self._base if self._base is not None else (default_layer(),)
        return compile_layers([*base, layer], catalog=self.default.catalog, base=self.default)

    def get(self, tenant: str) -> CompiledPolicy:
        """The tenant's current policy: the default when it has no file, recompiled when its file changed."""
        validate_tenant(tenant)
        loaded = self._cache.get(tenant)
        # The store reads a clock (it lives at the edge, like the CLI); evaluation itself never does.
        now = time.monotonic()
        if loaded is not None and now - loaded.checked < self.check_interval:
            return loaded.policy
        stamp = self._stamp(self.path_for(tenant))
        if loaded is not None and loaded.stamp == stamp:
            self._cache[tenant] = _Loaded(loaded.policy, stamp, now)
            return loaded.policy
        if stamp is None:
            self._cache[tenant] = _Loaded(self.default, None, now)
            self.errors.pop(tenant, None)
            return self.default
        with self._guard:
            lock = self._locks.setdefault(tenant, threading.Lock())
        with lock:
            current = self._cache.get(tenant)
            if current is not None and current.stamp == stamp:
                return current.policy
            try:
                policy = self.compile(tenant)
            except PolicyError as exc:
                self.errors[tenant] = exc
                if loaded is None:
                    raise
                # Remember the stamp so a broken file is not recompiled on every call; keep the good policy.
                self._cache[tenant] = _Loaded(loaded.policy, stamp, now)
                return loaded.policy
            self.errors.pop(tenant, None)
            self._cache[tenant] = _Loaded(policy, stamp, now)
            return policy
