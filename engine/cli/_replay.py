"""``dlrpolicy replay``: re-decide logged outcomes (or raw reports) under a new policy and show what changes."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import IO

from ..adapters._chunks import largest_for, read_chunks
from ..model._vocabulary import CHANNELS, PROVIDERS
from ..policy._tenants import ENV_POLICY_DIR
from ..report._compare import ReplaySummary
from ..report._replay import ReplayConfig, replay_chunks
from ..report._text import render_table
from ._common import UsageError, check_tenant_argument, parse_now


def _compared(args: argparse.Namespace) -> str:
    new = f"tenant files in {args.policy_dir}" + (f" (records without a tenant: {args.tenant})" if args.tenant else "")
    old = (f"tenant files in {args.baseline_dir}" if args.baseline_dir
           else "the logged decisions (raw reports: the shipped default policy)")
    return f"{new} against {old}"


def _html(summary: ReplaySummary, args: argparse.Namespace) -> str:
    # deferred: the HTML report needs the optional plotting library (the `report` extra); the other formats do not.
    from ..report._replay_html import replay_page

    return replay_page(summary, compared=_compared(args))


def run(args: argparse.Namespace) -> int:
    """Replay; exit 1 when records could not be replayed, or anything changed with --fail-on-change."""
    check_tenant_argument(args)
    if not args.policy_dir:
        raise UsageError(f"replay needs --policy-dir DIR (or ${ENV_POLICY_DIR}): the policies to replay under")
    for name, folder in (("--policy-dir", args.policy_dir), ("--baseline-dir", args.baseline_dir)):
        if folder is not None and not Path(folder).is_dir():
            raise UsageError(f"{name} {folder}: no such directory")
    missing = [f for f in args.logs if f != "-" and not Path(f).is_file()]
    if missing:
        raise UsageError(f"cannot read {', '.join(missing)}: no such file (use - for stdin)")
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if args.format == "html" and args.output is None and sys.stdout.isatty():
        raise UsageError("--format html writes a whole page: pass --output FILE.html (or redirect stdout)")
    if args.format == "html":
        # deferred: loading the HTML module loads the optional plotting library (slow, and only needed here).
        from ..report._html import require_plotly

        require_plotly()  # before the output file is opened: a missing extra must not leave an empty page behind
    config = ReplayConfig(policy_dir=args.policy_dir, baseline_dir=args.baseline_dir, now=parse_now(args.now),
                          provider=args.provider, channel=args.channel, tenant=args.tenant,
                          lines=args.format == "jsonl", default_for_unknown=args.default_for_unknown_tenants)
    sys.stdout.flush()
    # Bytes all the way: the workers' output is spliced and written without decoding it again.
    out: IO[bytes] = open(args.output, "wb") if args.output else sys.stdout.buffer  # noqa: SIM115
    started = time.perf_counter()
    try:
        chunks = read_chunks(args.logs or ["-"], largest=largest_for(args.workers))
        summary = replay_chunks(chunks, config, workers=args.workers, write=out.write)
        if args.format == "jsonl":
            text = json.dumps({"summary": summary.to_json()}) + "\n"
        elif args.format == "table":
            text = render_table(summary, compared=_compared(args)) + "\n"
        else:
            text = _html(summary, args)
        out.write(text.encode("utf-8"))
        out.flush()
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    total = summary.overall
    sys.stderr.write(f"dlrpolicy replay: {summary.records} records, {total.decisions} decisions compared, "
                     f"{total.changed} changed, {summary.errors} error{'s' if summary.errors != 1 else ''} "
                     f"in {time.perf_counter() - started:.2f}s ({args.workers} worker"
                     f"{'s' if args.workers != 1 else ''})\n")
    if summary.errors:
        return 1
    return 1 if args.fail_on_change and total.changed else 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``replay``."""
    p = sub.add_parser(
        "replay", help="re-decide a decision log (or raw reports) under a new policy and compare",
        description="Re-decide each logged outcome (`dlrpolicy evaluate --log FILE`), or each raw report, under "
        "the policies in --policy-dir and compare with the logged decision (or, with --baseline-dir, with the "
        "baseline policies' decision; raw reports without it compare with the shipped default).  Writes to no "
        "store.  Exit 0: replayed; 1: some records could not be replayed, or something changed with "
        "--fail-on-change; 2: usage error.",
    )
    p.add_argument("logs", nargs="*", metavar="LOG", help="decision logs or raw report files (default or -: stdin)")
    p.add_argument("--policy-dir", metavar="DIR", default=os.environ.get(ENV_POLICY_DIR),
                   help=f"the new policies: tenant files <tenant>.toml on the default (default: ${ENV_POLICY_DIR})")
    p.add_argument("--tenant", metavar="T", help="the tenant of records that name none")
    p.add_argument("--default-for-unknown-tenants", action="store_true",
                   help="give tenants without a file the default policy (as evaluate did with the same flag) "
                   "instead of an error record")
    p.add_argument("--baseline-dir", metavar="DIR2", help="compare with these tenant files' decisions instead of "
                   "the logged ones")
    p.add_argument("--format", choices=("table", "jsonl", "html"), default="table",
                   help="table: the summary; jsonl: one line per decision then {\"summary\": ...}; html: a page")
    p.add_argument("--output", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--fail-on-change", action="store_true", help="exit 1 when any decision changed")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="replay on N processes (default 1)")
    p.add_argument("--now", help="the time raw reports are decided at, ISO 8601 with offset (default: now); "
                   "logged outcomes use their logged time")
    p.add_argument("--provider", choices=PROVIDERS, help="provider of raw reports (default: detect)")
    p.add_argument("--channel", choices=CHANNELS, help="channel of raw reports without one")
    p.set_defaults(run=run)
