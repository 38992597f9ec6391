"""``dlrpolicy due`` and ``dlrpolicy ack``: the retry schedule, claimed with leases by workers."""

from __future__ import annotations

import argparse
import sys

from ..state._recorder import MAX_LIMIT
from ._common import UsageError, parse_now
from ._state import recorder_from, write_lines
from ._suppressions import add_common


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``due`` and ``ack``."""
    p = sub.add_parser("due", help="due retries as JSON Lines (claim them with a lease with --claim)",
                       description="Print schedule entries due at --now.  With --claim each is leased to this "
                       "caller (the line carries its token) until the lease ends, then it is due again unless "
                       "acked.  Entries past their deadline are not printed: they end as the rule's exhausted "
                       "decision, recorded.")
    p.add_argument("--limit", type=int, default=100, metavar="N", help="print at most N entries, earliest first "
                   "(default 100)")
    p.add_argument("--lease", default="60s", metavar="DURATION", help="with --claim: how long each entry is this "
                   "caller's before it is due again unless acked or extended (default 60s)")
    p.add_argument("--claim", action="store_true", help="lease the entries to this caller: each line carries its "
                   "token for `dlrpolicy ack`; without it nothing changes")
    add_common(p, tenant=False)
    p.set_defaults(run=_due)
    p = sub.add_parser("ack", help="complete claimed entries for good",
                       description="Ack lease tokens from `due --claim`.  Exit 1 when a token is no longer held "
                       "(its lease expired and someone else claimed it, or a newer report replaced the entry).")
    p.add_argument("tokens", nargs="+", metavar="TOKEN")
    add_common(p, tenant=False)
    p.set_defaults(run=_ack)


def _due(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= MAX_LIMIT:
        raise UsageError(f"--limit must be from 1 to {MAX_LIMIT:,}")
    recorder = recorder_from(args, create=False)
    now = parse_now(args.now)
    if args.claim:
        entries = recorder.claim(now=now, limit=args.limit, lease=args.lease)
    else:
        entries = recorder.due(now=now, limit=args.limit, exhausted=False)
    write_lines(sys.stdout, (entry.to_json() for entry in entries))
    return 0


def _ack(args: argparse.Namespace) -> int:
    recorder = recorder_from(args, create=False)
    missing = [token for token in args.tokens if not recorder.ack(token)]
    for token in missing:
        print(f"dlrpolicy ack: {token} is no longer held (expired and claimed again, or replaced)", file=sys.stderr)
    return 1 if missing else 0
