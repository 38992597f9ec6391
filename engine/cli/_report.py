"""``dlrpolicy report --html OUT.html``: the policy (the default, or a tenant's) as a self-contained HTML page."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import UsageError, add_policy_arguments, check_tenant_argument, engine_from, parse_now


def run(args: argparse.Namespace) -> int:
    """Write the report; exit 0."""
    check_tenant_argument(args)
    target = Path(args.html)
    if not target.parent.is_dir():
        raise UsageError(f"--html {target}: the folder {target.parent} does not exist")
    # deferred: the HTML report needs the optional plotting library (the `report` extra), loaded only here.
    from ..report._policy_html import policy_page

    engine = engine_from(args)
    text = policy_page(engine.policy, tenant=args.tenant, start=parse_now(args.now))
    target.write_text(text, encoding="utf-8")
    print(f"dlrpolicy report: wrote {target} ({len(text.encode()) // 1024} KiB)", file=sys.stderr)
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``report``."""
    p = sub.add_parser(
        "report", help="render the policy as a self-contained HTML page with charts",
        description="Render the policy (the shipped default, or --tenant T over it) as one HTML file that opens "
        "offline: the verdict mix of each product, each retry rule's attempt timeline (windows, deadline), "
        "suppressions and escalations.  Needs the report extra: pip install 'dlrpolicy[report]'.",
    )
    p.add_argument("--html", required=True, metavar="OUT.html", help="the file to write")
    p.add_argument("--now", help="when the timelines' first attempt is, ISO 8601 with offset (default: now)")
    add_policy_arguments(p)
    p.set_defaults(run=run)
