"""``dlrpolicy suppressions check | list | lift | export | import | prune``: the suppression list a pipeline
checks before every send."""

from __future__ import annotations

import argparse
import io
import json
import sys

from .._errors import DlrpolicyError
from ..model._vocabulary import CHANNELS, SCOPES, validate_tenant
from ..state._failures import ImportLineError
from ._common import UsageError, add_policy_arguments, parse_now
from ._state import add_state_argument, recorder_from, write_lines


def tenant_argument(args: argparse.Namespace) -> str | None:
    """``--tenant``, checked."""
    tenant: str | None = args.state_tenant
    if tenant is not None:
        try:
            validate_tenant(tenant)
        except ValueError as exc:
            raise UsageError(f"--tenant: {exc}") from None
    return tenant


def add_common(p: argparse.ArgumentParser, *, tenant: bool = True) -> None:
    """--state, --now, --tenant and the policy arguments (tenant files give regions and settings)."""
    add_state_argument(p)
    p.add_argument("--now", help="the time to act at, ISO 8601 with offset (default: the clock)")
    if tenant:
        # Not the policy arguments' --tenant: state commands serve every tenant's policy from --policy-dir.
        p.add_argument("--tenant", dest="state_tenant", metavar="T", help="the tenant (default: none)")
    add_policy_arguments(p, tenant=False)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``suppressions`` and its subcommands."""
    top = sub.add_parser("suppressions", help="the suppression list: check before sending, list, lift, import",
                         description="Entries come from suppress effects of recorded decisions (origin policy), "
                         "from operators and from imports.  Keys are normalised: phone numbers to E.164 (the "
                         "tenant's [suppressions] region for national numbers), e-mail case-folded, domains IDNA.")
    inner = top.add_subparsers(dest="suppressions_command", metavar="SUBCOMMAND", required=True)
    p = inner.add_parser("check", help="exit 1 and print the entry when a send is suppressed, 0 when allowed, 2 "
                                       "when the check cannot be made (ask again later)")
    p.add_argument("--recipient", metavar="R")
    p.add_argument("--channel", choices=CHANNELS)
    p.add_argument("--sender", metavar="S")
    p.add_argument("--template", metavar="T")
    p.add_argument("--key", metavar="KEY", help="the message key (message-scoped entries)")
    p.add_argument("--advertising", action="store_true", help="the send is advertising: opt-outs from a sender's "
                   "advertising and numbers that refuse promotional messages block it too")
    p.add_argument("--provider", metavar="P", help="the provider the send goes through: only its account holds "
                   "block it (default: any provider's)")
    add_common(p)
    p.set_defaults(run=_check)
    p = inner.add_parser("list", help="entries as JSON Lines")
    p.add_argument("--scope", choices=SCOPES)
    p.add_argument("--all", action="store_true", help="include expired entries")
    add_common(p)
    p.set_defaults(run=_list)
    p = inner.add_parser("lift", help="remove an entry as an operator (opt-outs need --force)")
    p.add_argument("id", nargs="?", metavar="ID", help="the entry id (or name it with --recipient/--sender)")
    p.add_argument("--recipient", metavar="R")
    p.add_argument("--channel", choices=CHANNELS)
    p.add_argument("--sender", metavar="S")
    p.add_argument("--template", metavar="T")
    p.add_argument("--advertising", action="store_true", help="also the entries that block only advertising")
    p.add_argument("--force", action="store_true", help="lift an opt-out or complaint")
    p.add_argument("--actor", required=True, metavar="A", help="who lifts it (kept in the audit log)")
    p.add_argument("--note", required=True, metavar="N", help="why (kept in the audit log)")
    add_common(p)
    p.set_defaults(run=_lift)
    p = inner.add_parser("export", help="every entry as JSON Lines (the import format)")
    add_common(p)
    p.set_defaults(run=_export)
    p = inner.add_parser("import", help="add entries from JSON Lines; every line is checked before any is applied")
    p.add_argument("file", metavar="FILE", help="JSON Lines (- for stdin)")
    add_common(p, tenant=False)
    p.set_defaults(run=_import)
    p = inner.add_parser("prune", help="drop expired entries")
    add_common(p, tenant=False)
    p.set_defaults(run=_prune)


def _check(args: argparse.Namespace) -> int:
    if not any((args.recipient, args.sender, args.template, args.key)):
        raise UsageError("name the send: --recipient, --sender, --template or --key")
    try:
        recorder = recorder_from(args, create=False)
        found = recorder.check(tenant_argument(args), now=parse_now(args.now), recipient=args.recipient,
                               channel=args.channel, sender=args.sender, template=args.template, key=args.key,
                               advertising=args.advertising, provider=args.provider)
    except DlrpolicyError as exc:
        # Exit 1 means "suppressed: do not send"; a check that could not be made (no store, a locked or
        # unreachable one, a recipient it cannot hold) is 2, so a send loop asks again later instead.
        print(f"dlrpolicy: error: {exc}", file=sys.stderr)
        return 2
    if found is None:
        return 0
    print(json.dumps(found.to_json(), ensure_ascii=False))
    return 1


def _list(args: argparse.Namespace) -> int:
    recorder = recorder_from(args, create=False)
    now = parse_now(args.now)
    tenant = tenant_argument(args)
    entries = recorder.store.suppressions(tenant=None if tenant is None else tenant)
    write_lines(sys.stdout, (e.to_json() for e in entries
                             if (args.all or e.active(now)) and (args.scope is None or e.scope == args.scope)))
    return 0


def _lift(args: argparse.Namespace) -> int:
    recorder = recorder_from(args, create=False)
    now = parse_now(args.now)
    if args.id is not None:
        ids = [args.id]
    else:
        if not any((args.recipient, args.sender, args.template)):
            raise UsageError("name the entry: an ID, or --recipient/--sender/--template")
        ids = [e.id for e in recorder.find_entries(tenant_argument(args), recipient=args.recipient,
                                                   channel=args.channel, sender=args.sender, template=args.template,
                                                   advertising=args.advertising)]
        if not ids:
            print("dlrpolicy: no entry names that send", file=sys.stderr)
            return 1
    for lifted in recorder.lift_all(ids, actor=args.actor, note=args.note, now=now, force=args.force):
        print(json.dumps({"lifted": lifted.to_json(), "by": args.actor, "note": args.note}, ensure_ascii=False))
    return 0


def _export(args: argparse.Namespace) -> int:
    for line in recorder_from(args, create=False).export(tenant=tenant_argument(args)):
        sys.stdout.write(line + "\n")
    return 0


def _import(args: argparse.Namespace) -> int:
    recorder = recorder_from(args)
    now = parse_now(args.now)
    try:
        # surrogateescape: a byte that is not UTF-8 becomes a lone surrogate, which the import names by its line.
        if args.file == "-":
            stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="surrogateescape") \
                if hasattr(sys.stdin, "buffer") else sys.stdin
            count = recorder.import_lines(stdin, now=now)
        else:
            try:
                with open(args.file, encoding="utf-8", errors="surrogateescape") as handle:
                    count = recorder.import_lines(handle, now=now)
            except OSError as exc:
                raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
    except ImportLineError as exc:  # every bad line on a line of its own, then what happened
        for number, problem in exc.problems:
            print(f"dlrpolicy: error: import line {number}: {problem}", file=sys.stderr)
        print(f"dlrpolicy: error: {len(exc.problems)} bad line{'s' if len(exc.problems) > 1 else ''} of "
              f"{exc.lines}: nothing was imported; fix {'them' if len(exc.problems) > 1 else 'it'} and run the "
              "import again", file=sys.stderr)
        return 1
    print(f"dlrpolicy suppressions import: {count} entries", file=sys.stderr)
    return 0


def _prune(args: argparse.Namespace) -> int:
    count = recorder_from(args, create=False).prune(now=parse_now(args.now))
    print(f"dlrpolicy suppressions prune: {count} expired entries dropped", file=sys.stderr)
    return 0
