"""``dlrpolicy policy coverage | lint | diff``."""

from __future__ import annotations

import argparse
import json
import sys

from .._errors import DlrpolicyError, PolicyError
from ..decide._engine import Engine
from ..policy._reports import coverage, diff, lint
from ..policy._tenants import PolicyStore
from . import _policy_test
from ._common import UsageError, add_policy_arguments, engine_from


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``policy`` and its subcommands."""
    policy = sub.add_parser("policy", help="inspect and check policies",
                            description="Inspect, check and compare policies over the whole catalog.")
    inner = policy.add_subparsers(dest="policy_command", metavar="SUBCOMMAND", required=True)

    p = inner.add_parser("coverage", help="the decision for every catalog code",
                         description="For every catalog code: the rule, verdict and a one-line timing summary.")
    p.add_argument("--format", choices=("table", "jsonl"), default="table")
    add_policy_arguments(p)
    p.set_defaults(run=_run_coverage)

    p = inner.add_parser("lint", help="validate policies and warn about dead rules",
                         description="Validate the policy (or tenant files) and warn about rules that can never "
                         "win and codes that fall back to [defaults].  Exit 1 when anything is invalid.")
    add_policy_arguments(p)
    p.add_argument("--all", action="store_true", help="lint every tenant file in the policy directory")
    p.set_defaults(run=_run_lint)

    p = inner.add_parser("diff", help="codes a tenant decides differently from the default",
                         description="List the codes whose decision differs from the default's, with rule ids.")
    add_policy_arguments(p)
    p.add_argument("--format", choices=("table", "jsonl"), default="table")
    p.set_defaults(run=_run_diff)

    _policy_test.add_parser(inner)


def _run_coverage(args: argparse.Namespace) -> int:
    engine = engine_from(args)
    rows = list(coverage(engine.policy))
    if args.format == "jsonl":
        for row in rows:
            print(json.dumps(row.to_json(), ensure_ascii=False))
        return 0
    print(f"{'code':<58} {'verdict':<9} {'rule':<36} timing")
    for row in rows:
        e = row.entry
        group = f"/{e.group_id}" if e.group_id is not None else ""
        code = f"{e.provider} {e.kind} {e.product}{group} {e.id} {e.name}"
        print(f"{code[:58]:<58} {row.plan.verdict:<9} {row.plan.rule[:36]:<36} {row.plan.describe_timing()}")
    return 0


def _lint_one(engine: Engine, label: str) -> None:
    report = lint(engine.policy)
    for rule in report.shadowed:
        print(f"warning: {label}: rule {rule!r} matches codes but a more specific rule always wins")
    if report.fallback_codes:
        print(f"warning: {label}: {len(report.fallback_codes)} code(s) fall back to [defaults]:")
        for entry in report.fallback_codes[:50]:
            print(f"  {entry.label}")
        if len(report.fallback_codes) > 50:
            print(f"  ... and {len(report.fallback_codes) - 50} more (`policy coverage` lists them all)")


def _run_lint(args: argparse.Namespace) -> int:
    if args.all:
        if args.tenant or args.policy:
            raise UsageError("--all lints every tenant file; drop --tenant/--policy")
        if not args.policy_dir:
            raise UsageError("--all needs --policy-dir DIR (or $DLRPOLICY_POLICY_DIR)")
        store = PolicyStore(args.policy_dir)
        tenants = store.tenants()
        failed = 0
        for tenant in tenants:
            try:
                _lint_one(Engine(store.compile(tenant)), f"tenant {tenant}")
            except DlrpolicyError as exc:
                failed += 1
                print(f"error: tenant {tenant}: {exc}", file=sys.stderr)
        print(f"{len(tenants)} tenant file(s) checked, {failed} invalid")
        return 1 if failed else 0
    try:
        if args.tenant:
            if not args.policy_dir:
                raise UsageError("--tenant needs --policy-dir DIR (or $DLRPOLICY_POLICY_DIR)")
            engine = Engine(PolicyStore(args.policy_dir).compile(args.tenant))
        else:
            engine = engine_from(args)
    except PolicyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    label = f"tenant {args.tenant}" if args.tenant else "policy"
    _lint_one(engine, label)
    print(f"{label}: valid ({len(engine.policy.rules)} rules)")
    return 0


def _run_diff(args: argparse.Namespace) -> int:
    if not args.tenant:
        raise UsageError("diff needs --tenant T (and --policy-dir DIR)")
    if not args.policy_dir:
        raise UsageError("--tenant needs --policy-dir DIR (or $DLRPOLICY_POLICY_DIR)")
    base = Engine.default().policy
    tenant = PolicyStore(args.policy_dir).compile(args.tenant)
    rows = list(diff(base, tenant))
    if args.format == "jsonl":
        for d in rows:
            e = d.entry
            print(json.dumps({
                "provider": e.provider, "kind": e.kind, "product": e.product, "id": e.id, "group_id": e.group_id,
                "name": e.name, "channel": d.channel,
                "default": {"rule": d.before.rule, "verdict": d.before.verdict, "summary": d.before.describe_timing()},
                "tenant": {"rule": d.after.rule, "verdict": d.after.verdict, "summary": d.after.describe_timing()},
            }, ensure_ascii=False))
        return 0
    print(f"{len(rows)} code(s) decided differently for tenant {args.tenant}:")
    width = max((len(f"tenant {args.tenant}"), len("default")))
    for d in rows:
        e = d.entry
        print(f"\n{e.provider} {e.kind} {e.product} {e.id} {e.name} (on {d.channel})")
        for label, plan in (("default", d.before), (f"tenant {args.tenant}", d.after)):
            print(f"  {label:<{width}}  {plan.verdict:<9} {plan.rule:<40} {plan.describe_timing()}")
    return 0
