"""``dlrpolicy incidents list | show | resolve``: escalations grouped by (tenant, route, cause), and the messages
they hold."""

from __future__ import annotations

import argparse
import json
import sys

from ..model._datetimes import iso_z
from ._common import UsageError, parse_now
from ._state import recorder_from, write_lines
from ._suppressions import add_common, tenant_argument


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``incidents`` and its subcommands."""
    top = sub.add_parser("incidents", help="escalations grouped into incidents; resolve to release held messages")
    inner = top.add_subparsers(dest="incidents_command", metavar="SUBCOMMAND", required=True)
    p = inner.add_parser("list", help="incidents, newest first (holds past [incidents] max_hold end first)")
    p.add_argument("--state-filter", dest="only", choices=("open", "resolved"), help="only open or resolved ones")
    p.add_argument("--format", choices=("table", "jsonl"), default="table")
    add_common(p)
    p.set_defaults(run=_list)
    p = inner.add_parser("show", help="one incident")
    p.add_argument("id", metavar="ID")
    p.add_argument("--format", choices=("table", "jsonl"), default="table")
    add_common(p, tenant=False)
    p.set_defaults(run=_show)
    p = inner.add_parser("resolve", help="resolve: release the held messages into the schedule, or drop them")
    p.add_argument("id", metavar="ID")
    p.add_argument("--release", choices=("retry", "drop"), default="retry")
    p.add_argument("--rate", metavar="N/s", help="released messages per second (default: the policy's "
                   "[incidents] release_rate)")
    p.add_argument("--actor", default="operator", metavar="A")
    p.add_argument("--note", default="", metavar="N", help="why (kept in the audit log; required with --release "
                   "drop, where it is the reason recorded with every dropped message)")
    p.add_argument("--format", choices=("table", "jsonl"), default="table")
    add_common(p, tenant=False)
    p.set_defaults(run=_resolve)


def _list(args: argparse.Namespace) -> int:
    recorder = recorder_from(args, create=False)
    incidents = recorder.incidents(now=parse_now(args.now), tenant=tenant_argument(args), state=args.only)
    if args.format == "jsonl":
        write_lines(sys.stdout, (i.to_json() for i in incidents))
        return 0
    print(f"{'id':<34} {'tenant':<12} {'route':<14} {'state':<9} {'count':>7} {'held':>6}  last seen             cause")
    for i in incidents:
        print(f"{i.id:<34} {i.tenant or '-':<12} {i.route:<14} {i.state:<9} {i.count:>7} {i.held:>6}  "
              f"{iso_z(i.last_seen):<21} {i.cause}")
    return 0


def _show(args: argparse.Namespace) -> int:
    found = recorder_from(args, create=False).incident(args.id)
    if found is None:
        print(f"dlrpolicy: no incident {args.id!r} (see `dlrpolicy incidents list`)", file=sys.stderr)
        return 1
    if args.format == "jsonl":
        print(json.dumps(found.to_json(), ensure_ascii=False))
        return 0
    for name, value in found.to_json().items():
        shown = ", ".join(value) if isinstance(value, list) else "-" if value is None else value
        print(f"{name:<12} {shown}")
    return 0


def _rate(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.removesuffix("/s"))
    except ValueError:
        raise UsageError(f"--rate {text!r} is not a number of messages per second, e.g. --rate 50/s") from None
    if value <= 0:
        raise UsageError("--rate must be positive")
    return value


def _resolve(args: argparse.Namespace) -> int:
    if args.release == "drop" and not args.note.strip():
        raise UsageError("--release drop needs --note: the reason recorded with every message it drops")
    recorder = recorder_from(args, create=False)
    result = recorder.resolve(args.id, now=parse_now(args.now), actor=args.actor, note=args.note,
                              release=args.release, rate=_rate(args.rate))
    if args.format == "jsonl":
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        span = f" due from {iso_z(result.first_due)} to {iso_z(result.last_due)}" if result.first_due else ""
        what = "released into the schedule" if args.release == "retry" else "dropped"
        print(f"{result.incident.id}: resolved by {args.actor}; {result.count} held messages {what}{span}")
    return 0
