"""``dlrpolicy policy coverage | lint | diff``."""

from __future__ import annotations

import argparse
import json
import sys

from .._errors import DlrpolicyError
from ..decide._engine import Engine
from ..policy._compile import CompiledPolicy
from ..policy._reports import coverage, diff, lint, rule_reports
from . import _policy_test
from ._common import UsageError, add_policy_arguments, engine_from, store_from


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
    _print_rule_reports(engine.policy, "tenant rules")
    return 0


def _print_rule_reports(policy: CompiledPolicy, heading: str, prefix: str = "") -> None:
    reports = rule_reports(policy)
    if reports:
        print(f"{prefix}{heading} ({policy.spec.layers[-1]}):")
        for report in reports:
            print(f"{prefix}  {report.render()}")


def _lint_one(engine: Engine, label: str) -> None:
    policy = engine.policy
    report = lint(policy)
    overriding = {rule.id for rule in policy.rules if rule.override}
    for rule in report.shadowed:
        winners = report.beaten_by.get(rule, ())
        if any(w in overriding for w in winners):
            continue  # displaced on purpose by override = true rules, as the rule report below says
        why = f"more specific rules win ({', '.join(winners[:3])}{', ...' if len(winners) > 3 else ''})"
        print(f"warning: {label}: rule {rule!r} matches codes but never decides one: {why}")
    if report.fallback_codes:
        print(f"warning: {label}: {len(report.fallback_codes)} code(s) fall back to [defaults]:")
        for entry in report.fallback_codes[:50]:
            print(f"  {entry.label}")
        if len(report.fallback_codes) > 50:
            print(f"  ... and {len(report.fallback_codes) - 50} more (`policy coverage` lists them all)")
    _print_rule_reports(engine.policy, f"{label}: what each rule of the tenant file decides")


def _run_lint_all(args: argparse.Namespace) -> int:
    """Every tenant file of the directory, each on its own: one bad file is reported and the next is linted."""
    if args.tenant or args.policy:
        raise UsageError("--all lints every tenant file; drop --tenant/--policy")
    if not args.policy_dir:
        raise UsageError("--all needs --policy-dir DIR (or $DLRPOLICY_POLICY_DIR)")
    store = store_from(args)
    try:
        tenants, misnamed = store.tenants(), store.misnamed()
    except DlrpolicyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    failed = len(misnamed)
    for name in misnamed:
        print(f"error: {store.policy_dir / name}: {name[:-5]!r} is not a tenant id, so no tenant can use this file "
              "(rename it to <tenant>.toml with 1 to 64 characters of a-z, 0-9, '_' and '-')", file=sys.stderr)
    for tenant in tenants:
        try:
            engine = Engine(store.compile(tenant))
        except DlrpolicyError as exc:
            failed += 1
            print(f"error: tenant {tenant}: {exc}", file=sys.stderr)
            continue
        _lint_one(engine, f"tenant {tenant}")
    print(f"{len(tenants) + len(misnamed)} tenant file(s) checked, {failed} invalid")
    return 1 if failed else 0


def _run_lint(args: argparse.Namespace) -> int:
    if args.all:
        return _run_lint_all(args)
    try:
        if args.tenant:
            if not args.policy_dir:
                raise UsageError("--tenant needs --policy-dir DIR (or $DLRPOLICY_POLICY_DIR)")
            engine = Engine(store_from(args).compile(args.tenant))
        else:
            engine = engine_from(args)
    except UsageError:
        raise
    except DlrpolicyError as exc:
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
    tenant = store_from(args).compile(args.tenant)
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
