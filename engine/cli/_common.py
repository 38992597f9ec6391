"""Plumbing every subcommand shares: the usage error, ``--now``, the policy arguments and the engine they name."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from .._errors import DlrpolicyError, InvalidOutcomeError, NaiveDatetimeError, SettingError, TenantError
from ..decide._engine import Engine
from ..model._datetimes import require_instant
from ..model._vocabulary import validate_tenant
from ..policy._catalog import Catalog
from ..policy._limits import DEFAULT_LIMITS, PolicyLimits
from ..policy._tenants import ENV_POLICY_DIR, PolicyStore


class UsageError(DlrpolicyError):
    """The command line itself is wrong (exit status 2)."""


def parse_now(text: str | None, flag: str = "--now") -> datetime:
    """``--now`` (or another instant ``flag``): an ISO 8601 instant with an offset or ``Z``; the current time when
    absent (read here, at the edge, never inside the engine)."""
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not an ISO 8601 datetime, e.g. 2026-11-24T10:00:00Z") from None
    if value.tzinfo is None:
        raise UsageError(str(NaiveDatetimeError(flag, text)))
    try:
        require_instant(flag, value)
    except InvalidOutcomeError as exc:
        raise UsageError(str(exc)) from None
    return value


#: The most worker processes ``--workers`` starts.
MAX_WORKERS: Final = 256


def check_tenant_argument(args: argparse.Namespace) -> None:
    """``--tenant``, when given, is a safe tenant id (a usage error naming the rule otherwise)."""
    if args.tenant is not None:
        try:
            validate_tenant(args.tenant)
        except DlrpolicyError as exc:
            raise UsageError(f"--tenant: {exc}") from None


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it, else every core)."""
    count = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if count is not None:
        return int(count() or 1)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def workers_count(text: str) -> int:
    """``--workers N|auto``: a whole number of processes from 1 to `MAX_WORKERS`, or one per usable core."""
    if text.strip().lower() == "auto":
        return min(usable_cores(), MAX_WORKERS)
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"--workers {text[:40]!r}: give a whole number of processes from 1 to "
                                         f"{MAX_WORKERS}, or auto (one per usable core: {usable_cores()} here)")
    return value


def _limit(setting: str, flag: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
            PolicyLimits(**{setting: value})
        except (ValueError, SettingError) as exc:
            allowed = str(exc).partition("out of range: ")[2] or "give a whole number"
            raise argparse.ArgumentTypeError(f"{flag} {text[:40]!r}: {allowed}") from None
        return value

    return parse


def add_policy_arguments(parser: argparse.ArgumentParser, *, tenant: bool = True) -> None:
    """``--policy FILE`` (repeatable), ``--policy-dir DIR``, ``--tenant T``, and the policy limits and tenant
    settings."""
    group = parser.add_argument_group("policy")
    group.add_argument("--policy", action="append", metavar="FILE", default=[],
                       help="use this policy file instead of the shipped default (repeat to layer files)")
    group.add_argument("--catalog", action="append", metavar="FILE", default=[],
                       help="catalog overlay: a table of codes in the shipped format, added to the catalog "
                       "(repeatable; a row with an existing code's identity replaces it)")
    group.add_argument("--policy-dir", metavar="DIR", default=os.environ.get(ENV_POLICY_DIR),
                       help=f"directory of tenant override files <tenant>.toml (default: ${ENV_POLICY_DIR})")
    if tenant:
        group.add_argument("--tenant", metavar="T", help="layer DIR/<T>.toml over the default policy")
    group.add_argument("--default-for-unknown-tenants", action="store_true",
                       help="give tenants without a file (in --tenant or an envelope) the default policy instead "
                       "of an error")
    group.add_argument("--allow-outside-links", action="store_true",
                       help="follow tenant files that are symbolic links out of the policy directory")
    group.add_argument("--max-policy-bytes", type=_limit("max_file_bytes", "--max-policy-bytes"), metavar="N",
                       default=DEFAULT_LIMITS.max_file_bytes,
                       help=f"largest policy file read (default {DEFAULT_LIMITS.max_file_bytes}, 1 MiB)")
    group.add_argument("--max-rules", type=_limit("max_rules", "--max-rules"), metavar="N",
                       default=DEFAULT_LIMITS.max_rules,
                       help=f"most rules in a policy (default {DEFAULT_LIMITS.max_rules})")


def policy_limits(args: argparse.Namespace) -> PolicyLimits:
    """The `PolicyLimits` of ``--max-policy-bytes`` and ``--max-rules``."""
    return PolicyLimits(max_file_bytes=args.max_policy_bytes, max_rules=args.max_rules)


def store_from(args: argparse.Namespace) -> PolicyStore:
    """The tenant store of ``--policy-dir`` and the tenant settings."""
    return PolicyStore(args.policy_dir, default_for_unknown=args.default_for_unknown_tenants,
                       limits=policy_limits(args), allow_outside_links=args.allow_outside_links)


def engine_from(args: argparse.Namespace) -> Engine:
    """The engine the policy arguments ask for."""
    overlays = getattr(args, "catalog", None) or []
    unknown = args.default_for_unknown_tenants
    if args.policy:
        engine = Engine.load(args.policy, catalog=Catalog.load(overlays) if overlays else None,
                             limits=policy_limits(args), default_for_unknown=unknown)
    else:
        engine = Engine.default(policy_dir=args.policy_dir, catalog_files=overlays, default_for_unknown=unknown,
                                limits=policy_limits(args), allow_outside_links=args.allow_outside_links)
    tenant = getattr(args, "tenant", None)
    if tenant is not None:
        if args.policy:
            raise UsageError("--tenant layers on the shipped default; drop --policy or --tenant")
        if not args.policy_dir:
            raise UsageError(f"--tenant needs --policy-dir DIR (or ${ENV_POLICY_DIR})")
        try:
            engine = engine.for_tenant(tenant)
        except TenantError as exc:  # a mistyped --tenant is a usage error (exit 2), as the help says
            raise UsageError(f"--tenant: {exc}") from None
    return engine
