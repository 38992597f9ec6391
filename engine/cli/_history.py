"""``dlrpolicy history KEY``: a message's attempts, reports and decisions as the ledger holds them."""

from __future__ import annotations

import argparse
import json
import sys

from ._state import recorder_from
from ._suppressions import add_common, tenant_argument


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``history``."""
    p = sub.add_parser("history", help="a message's attempts, reports and decisions",
                       description="Print what the ledger holds for a message key (or a provider message id "
                       "written provider:id) as one JSON document.  Exit 1 when the ledger has no such message.")
    p.add_argument("key", metavar="KEY")
    add_common(p)
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    recorder = recorder_from(args, create=False)
    tenant = tenant_argument(args)
    found = recorder.history(args.key, tenant=tenant)
    if found is None:
        print(f"dlrpolicy: no message {args.key!r} in the ledger"
              + (f" for tenant {tenant}" if tenant else " (pass --tenant for a tenant's messages)"), file=sys.stderr)
        return 1
    print(json.dumps(found.to_json(), ensure_ascii=False, indent=2))
    return 0
