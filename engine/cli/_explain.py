"""``dlrpolicy explain``: the decision for one catalog code, every rule that matched, and the attempt timeline."""

from __future__ import annotations

import argparse
import json

from .._errors import CodeNotFoundError
from ..model._outcome import CodeRef, History, Outcome
from ..model._vocabulary import CHANNELS, DEFAULT_CHANNEL, SLOT_KINDS, VOCABULARY
from ..policy._catalog import lookup_chain
from ._common import UsageError, add_policy_arguments, engine_from, parse_now


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``explain``."""
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
    p.add_argument("--first-attempt-at", help="time of the first attempt (default: unknown, as in a report without "
                   "history: the deadline counts from --now and the rule's implied attempt bound applies)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    add_policy_arguments(p)
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    engine = engine_from(args)
    now = parse_now(args.now)
    if args.provider not in SLOT_KINDS:
        raise UsageError(f"unknown provider {args.provider!r}: use one of {', '.join(SLOT_KINDS)}")
    status_kind = SLOT_KINDS[args.provider][0]
    kinds = tuple(VOCABULARY[args.provider])
    if args.kind not in kinds:
        raise UsageError(f"kind for {args.provider} is one of {', '.join(kinds)}, not {args.kind!r}")
    # The code as a report would name it, decided the way evaluate decides a report: along the product's lookup
    # chain, narrowed by group and name, an ambiguous id with one shared plan decided by it.
    catalog = engine.catalog
    known = [e for product in lookup_chain(args.provider, args.kind, args.product)
             for e in catalog.candidates(args.provider, args.kind, product, args.id)
             if (args.group is None or e.group_id is None or e.group_id == args.group)
             and (args.name is None or e.name == args.name)]
    if not known:
        raise CodeNotFoundError(args.provider, args.kind, args.product, args.id, args.group, args.name)
    flags = {e.permanent for e in known}
    # An HTTP status travels in the error slot, marked as such (an API error is the error of its call).
    ref = CodeRef(id=args.id, group_id=args.group, name=args.name, permanent=flags.pop() if len(flags) == 1 else None,
                  kind="http" if args.kind == "http" else None)
    channel = args.channel or DEFAULT_CHANNEL.get(args.product, "sms")
    outcome = Outcome(
        provider=args.provider, channel=channel, product=args.product, message_id="explain",
        recipient="recipient", sender="sender@example.com" if channel == "email" else "sender",
        tenant=getattr(args, "tenant", None) or "tenant",
        status=ref if args.kind == status_kind else None, error=None if args.kind == status_kind else ref,
    )
    # Without --first-attempt-at the first attempt is unknown, as for a stateless report: the deadline counts from
    # now and the rule's implied attempt bound applies.
    first = parse_now(args.first_attempt_at, "--first-attempt-at") if args.first_attempt_at else None
    history = History(attempts=args.attempt, first_attempt_at=first)
    explanation = engine.explain(outcome, now=now, history=history)
    if args.format == "json":
        print(json.dumps(explanation.to_json(), ensure_ascii=False, indent=2))
    else:
        print(explanation.render())
    return 0
