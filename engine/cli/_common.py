"""Plumbing every subcommand shares: the usage error, ``--now``, the policy arguments and the engine they name."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime

from .._errors import DlrpolicyError, InvalidOutcomeError, NaiveDatetimeError
from ..decide._engine import Engine
from ..model._datetimes import require_instant
from ..policy._tenants import ENV_POLICY_DIR


class UsageError(DlrpolicyError):
    """The command line itself is wrong (exit status 2)."""


def parse_now(text: str | None) -> datetime:
    """``--now``: an ISO 8601 instant with an offset or ``Z``; the current time when absent (read here, at the
    edge, never inside the engine)."""
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--now {text!r} is not an ISO 8601 datetime, e.g. 2026-11-24T10:00:00Z") from None
    if value.tzinfo is None:
        raise UsageError(str(NaiveDatetimeError("--now", text)))
    try:
        require_instant("--now", value)
    except InvalidOutcomeError as exc:
        raise UsageError(str(exc)) from None
    return value


def add_policy_arguments(parser: argparse.ArgumentParser, *, tenant: bool = True) -> None:
    """``--policy FILE`` (repeatable), ``--policy-dir DIR`` and ``--tenant T``."""
    group = parser.add_argument_group("policy")
    group.add_argument("--policy", action="append", metavar="FILE", default=[],
                       help="use this policy file instead of the shipped default (repeat to layer files)")
    group.add_argument("--policy-dir", metavar="DIR", default=os.environ.get(ENV_POLICY_DIR),
                       help=f"directory of tenant override files <tenant>.toml (default: ${ENV_POLICY_DIR})")
    if tenant:
        group.add_argument("--tenant", metavar="T", help="layer DIR/<T>.toml over the default policy")


def engine_from(args: argparse.Namespace) -> Engine:
    """The engine the policy arguments ask for."""
    engine = Engine.load(args.policy) if args.policy else Engine.default(policy_dir=args.policy_dir)
    tenant = getattr(args, "tenant", None)
    if tenant is not None:
        if args.policy:
            raise UsageError("--tenant layers on the shipped default; drop --policy or --tenant")
        if not args.policy_dir:
            raise UsageError(f"--tenant needs --policy-dir DIR (or ${ENV_POLICY_DIR})")
        engine = engine.for_tenant(tenant)
    return engine
