"""The ``dlrpolicy`` command line: argument parsing and the shared plumbing of every subcommand."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from ._engine import Engine
from ._errors import DlrpolicyError, NaiveDatetimeError
from ._models import CHANNELS
from ._tenants import ENV_POLICY_DIR
from ._version import __version__


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


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    from . import _cli_catalog, _cli_evaluate, _cli_policy

    parser = argparse.ArgumentParser(
        prog="dlrpolicy",
        description="Decide what to do after a messaging provider reports on a message: "
        "retry, suppress, escalate, wait or done.",
    )
    parser.add_argument("--version", action="version", version=f"dlrpolicy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _cli_catalog.add_parser(sub)
    _cli_explain_parser(sub)
    _cli_policy.add_parser(sub)
    _cli_evaluate.add_parser(sub)
    return parser


def _cli_explain_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("explain", help="explain the decision for one code",
                       description="Show the decision for a code, every rule that matched, and the attempt timeline.")
    p.add_argument("provider")
    p.add_argument("kind")
    p.add_argument("product")
    p.add_argument("id", type=int)
    p.add_argument("--group", type=int, help="group id, for ids that appear in several groups")
    p.add_argument("--name", help="symbolic name, for ids that repeat within a group")
    p.add_argument("--channel", choices=CHANNELS, help="channel of the report (default: the product's)")
    p.add_argument("--now", help="evaluation time, ISO 8601 with offset (default: now)")
    p.add_argument("--attempt", type=int, default=1, help="attempts already made (default 1)")
    p.add_argument("--first-attempt-at", help="time of the first attempt (default: --now)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    add_policy_arguments(p)
    p.set_defaults(run=_run_explain)


def _run_explain(args: argparse.Namespace) -> int:
    import json

    from ._models import DEFAULT_CHANNEL, SLOT_KINDS, CodeRef, History, Outcome

    engine = engine_from(args)
    now = parse_now(args.now)
    if args.provider not in SLOT_KINDS:
        raise UsageError(f"unknown provider {args.provider!r}: use one of {', '.join(SLOT_KINDS)}")
    status_kind, error_kind = SLOT_KINDS[args.provider]
    if args.kind not in (status_kind, error_kind):
        raise UsageError(f"kind for {args.provider} is {status_kind} or {error_kind}, not {args.kind!r}")
    entry = engine.catalog.lookup(args.provider, args.kind, args.product, args.id, args.group, args.name)
    ref = CodeRef(id=entry.id, group_id=entry.group_id, name=entry.name, permanent=entry.permanent)
    channel = args.channel or DEFAULT_CHANNEL.get(args.product, "sms")
    outcome = Outcome(
        provider=args.provider, channel=channel, product=args.product, message_id="explain",
        recipient="recipient", sender="sender@example.com" if channel == "email" else "sender",
        status=ref if args.kind == status_kind else None, error=ref if args.kind == error_kind else None,
    )
    first = parse_now(args.first_attempt_at) if args.first_attempt_at else now
    history = History(attempts=args.attempt, first_attempt_at=first)
    explanation = engine.explain(outcome, now=now, history=history)
    if args.format == "json":
        print(json.dumps(explanation.to_json(), ensure_ascii=False, indent=2))
    else:
        print(explanation.render())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dlrpolicy`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except UsageError as exc:
        print(f"dlrpolicy: error: {exc}", file=sys.stderr)
        return 2
    except DlrpolicyError as exc:
        print(f"dlrpolicy: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); that is not an error of ours.
        sys.stderr.close()
        return 0
