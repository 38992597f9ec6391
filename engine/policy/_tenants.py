"""Per-tenant policies: ``<policy_dir>/<tenant>.toml`` layered on the shipped default, compiled on first use,
recompiled when the file changes, and kept at the last good version when a change breaks it."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import attrs

from .._errors import DlrpolicyError, PolicyError, PolicyProblem, SettingError, TenantError
from ..model._vocabulary import TENANT_ID, validate_tenant
from ._compile import CompiledPolicy
from ._layers import compile_layers, default_layer, default_policy, read_layer
from ._limits import DEFAULT_LIMITS, PolicyLimits
from ._read import Layer

ENV_POLICY_DIR = "DLRPOLICY_POLICY_DIR"
_OPT_IN = ("use the default policy for tenants without a file only if you mean to: "
           "PolicyStore(..., default_for_unknown=True), Engine.default(..., default_for_unknown=True) or "
           "--default-for-unknown-tenants")

# What a file looked like when it was read: device, inode, size, modification and change times.  The inode and
# the change time catch a same-size replacement that keeps the old modification time (rsync -t, cp -p).
Stamp = tuple[int, ...]


@attrs.frozen
class _Loaded:
    #: The error to raise when the tenant has no file (and unknown tenants are errors).
    policy: CompiledPolicy | TenantError
    stamp: Stamp | None
    checked: float
    #: True when ``policy`` was compiled from the tenant's own file (a good version to keep serving).
    own: bool = False


class PolicyStore:
    """Compiled tenant policies, cached and reloaded when their file changes.

    Thread-safe: a reload compiles outside the cache and swaps the result in with one assignment, so readers
    see either the old or the new policy, never a half-built one.  Whatever breaks a tenant's file after it was
    good (invalid TOML or rules, a file too large, a directory, FIFO or device in its place, a symbolic link loop
    or a link out of the directory, the file disappearing) keeps the last good policy in force; the error is kept
    in `errors`, and raised only when there is no good policy yet.

    A tenant without a file is an error (`TenantError`) unless ``default_for_unknown`` is true.  A tenant file
    that is a symbolic link resolving outside ``policy_dir`` is refused unless ``allow_outside_links`` is true.
    """

    def __init__(self, policy_dir: str | PathLike[str], *, base: Sequence[Layer] | None = None,
                 check_interval: float = 1.0, default: CompiledPolicy | None = None,
                 default_for_unknown: bool = False, limits: PolicyLimits = DEFAULT_LIMITS,
                 allow_outside_links: bool = False) -> None:
        """Tenant files in ``policy_dir`` are layered on ``base`` (the shipped default policy when None).

        A tenant's file is looked at (one ``stat``) at most every ``check_interval`` seconds, so asking for a
        tenant's policy on every message stays cheap; 0 checks on every call.
        """
        if not isinstance(check_interval, int | float) or not 0 <= check_interval < math.inf:
            raise SettingError("check_interval", check_interval, "use a number of seconds >= 0, e.g. 1.0")
        self.check_interval = check_interval
        self.policy_dir = Path(policy_dir)
        self.default_for_unknown = default_for_unknown
        self.limits = limits
        self.allow_outside_links = allow_outside_links
        self._base = tuple(base) if base is not None else None
        # The compiled base; given when the caller compiled it already (over a catalog with overlays, say).
        self._default: CompiledPolicy | None = default
        self._cache: dict[str, _Loaded] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.errors: dict[str, DlrpolicyError] = {}

    @classmethod
    def from_env(cls) -> PolicyStore | None:
        """A store for ``$DLRPOLICY_POLICY_DIR``, or None when it is not set."""
        value = os.environ.get(ENV_POLICY_DIR)
        return cls(value) if value else None

    @property
    def default(self) -> CompiledPolicy:
        """The policy tenants layer on (the shipped default unless one was given)."""
        if self._default is None:
            self._default = default_policy() if self._base is None else compile_layers(self._base, limits=self.limits)
        return self._default

    def path_for(self, tenant: str) -> Path:
        """``<policy_dir>/<tenant>.toml`` after validating the id."""
        return self.policy_dir / f"{validate_tenant(tenant)}.toml"

    def _listing(self) -> list[str]:
        try:
            return sorted(entry.name for entry in os.scandir(self.policy_dir) if entry.name.endswith(".toml"))
        except OSError as exc:
            raise PolicyError([PolicyProblem(
                file=str(self.policy_dir), message=f"cannot list the policy directory: {exc.strerror or exc}",
                fix="point --policy-dir (or $DLRPOLICY_POLICY_DIR) at the directory of tenant files")]) from None

    def tenants(self) -> list[str]:
        """Tenant ids that have a ``.toml`` entry in the directory (of any kind: `compile` says what is wrong
        with one that is not a good file).  Raises `PolicyError` when the directory cannot be listed."""
        return [name[:-5] for name in self._listing() if TENANT_ID.fullmatch(name[:-5])]

    def misnamed(self) -> list[str]:
        """``.toml`` files whose name is not a valid tenant id: no tenant can ever use them."""
        return [name for name in self._listing() if not TENANT_ID.fullmatch(name[:-5])]

    def _stamp(self, path: Path) -> Stamp | None:
        try:
            info = path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:  # a link loop, a name too long, a file where the directory should be
            return (-1, exc.errno or 0)
        return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)

    def _unknown(self, tenant: str, path: Path) -> TenantError:
        if path.is_symlink():  # listed among the tenant files, but what it points at is gone
            try:
                target = os.readlink(path)
            except OSError:
                target = "?"
            return TenantError(tenant, f"{path} is a symbolic link to {target}, which does not exist: point the "
                                       "link at the tenant's policy file, or remove it")
        try:
            known = self.tenants()
        except PolicyError as exc:
            return TenantError(tenant, str(exc.problems[0]))
        listed = ", ".join(known[:10]) + (f" and {len(known) - 10} more" if len(known) > 10 else "")
        return TenantError(tenant, f"unknown tenant: there is no {path} (tenants with a file: {listed or 'none'}); "
                                   f"check the id or create the file, or {_OPT_IN}")

    def compile(self, tenant: str) -> CompiledPolicy:
        """Compile ``tenant``'s file now, without the cache; raise `TenantError` when it has no file and
        `PolicyError` when the file is invalid or cannot be read."""
        path = self.path_for(tenant)
        if self._stamp(path) is None:
            raise self._unknown(tenant, path)
        if not self.allow_outside_links:
            self._check_inside(path)
        layer = read_layer(path, name=f"tenant:{tenant}", limits=self.limits)
        base = self._base if self._base is not None else (default_layer(),)
        return compile_layers([*base, layer], catalog=self.default.catalog, base=self.default, limits=self.limits)

    def _check_inside(self, path: Path) -> None:
        try:
            real, root = os.path.realpath(path), os.path.realpath(self.policy_dir)
            inside = os.path.commonpath([real, root]) == root
        except (OSError, ValueError):
            return  # reading the file reports what is wrong with the path
        if not inside:
            raise PolicyError([PolicyProblem(
                file=str(path), message=f"is a symbolic link to {real}, outside the policy directory",
                fix="copy the file into the policy directory, or allow such links: "
                    "PolicyStore(allow_outside_links=True) or --allow-outside-links")])

    def get(self, tenant: str) -> CompiledPolicy:
        """The tenant's current policy, recompiled when its file changed; `TenantError` for a tenant without a
        file (unless ``default_for_unknown``), `PolicyError` for a broken file with no good version yet."""
        validate_tenant(tenant)
        loaded = self._cache.get(tenant)
        # The store reads a clock (it lives at the edge, like the CLI); evaluation itself never does.
        now = time.monotonic()
        if loaded is not None and now - loaded.checked < self.check_interval:
            return _served(loaded)
        path = self.path_for(tenant)
        stamp = self._stamp(path)
        if loaded is not None and loaded.stamp == stamp:
            self._cache[tenant] = attrs.evolve(loaded, checked=now)
            return _served(loaded)
        if stamp is None:
            return self._missing(tenant, path, loaded, now)
        with self._guard:
            lock = self._locks.setdefault(tenant, threading.Lock())
        with lock:
            current = self._cache.get(tenant)
            if current is not None and current.stamp == stamp:
                return _served(current)
            try:
                policy = self.compile(tenant)
            except DlrpolicyError as exc:
                self.errors[tenant] = exc
                if loaded is None or not loaded.own:
                    raise
                # Remember the stamp so a broken file is not recompiled on every call; keep the good policy.
                self._cache[tenant] = _Loaded(loaded.policy, stamp, now, own=True)
                return _served(loaded)
            self.errors.pop(tenant, None)
            self._cache[tenant] = _Loaded(policy, stamp, now, own=True)
            return policy

    def _missing(self, tenant: str, path: Path, loaded: _Loaded | None, now: float) -> CompiledPolicy:
        if loaded is not None and loaded.own:
            # A good file disappeared (or is being replaced without a rename): keep serving what it said.
            self.errors[tenant] = TenantError(tenant, f"{path} is gone; its last good policy stays in force until "
                                                      "the file is back or the process restarts")
            self._cache[tenant] = _Loaded(loaded.policy, None, now, own=True)
            return _served(loaded)
        self._cache[tenant] = entry = _Loaded(self.default if self.default_for_unknown else self._unknown(tenant, path),
                                              None, now)
        return _served(entry)


def _served(loaded: _Loaded) -> CompiledPolicy:
    if isinstance(loaded.policy, TenantError):
        # Without its old traceback: raised on every lookup, it would otherwise keep growing.
        raise loaded.policy.with_traceback(None)
    return loaded.policy
